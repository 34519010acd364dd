"""Calibration target 12: accommodating patient preferences (Swift, Callahan, Cooper & Parkin 2018).

The meta-analysis (J Clin Psychol 74:1924; 53 studies, over 16,000 clients) compares clients
who received their preferred condition with clients who did not: dropout odds ratio 1.79
for *not* accommodated vs accommodated (0.56 the other way) and outcome d = 0.28. The
emulation is one such comparison inside a run: a scenario with approach preferences
(``population.preference_share`` > 0) in which allocation ignores them
(``policy.preference_accuracy=0``), so whether a patient's first clinician has the
preferred approach is as if randomised, as in the randomised preference trials. Among
measured patients with a preference who were offered a first appointment and whose course
ended: 13a, the odds ratio of dropout, preference met vs not; 13b, Cohen's d of the
improvement (baseline minus last observed score), met minus not met, pooled SD.

Role: ``alliance.preference_shift`` (1.0) was chosen so 13a lands near 0.56 (fitted: 0.6 gave 0.70, 1.2 gave 0.51 on 6 replications); 13b
follows from the same shift through the alliance's effect on symptom change (validation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.targets import Tables, register_target

SOURCE = "Swift, Callahan, Cooper & Parkin 2018, J Clin Psychol 74:1924 (OR 1.79 not vs accommodated; d 0.28)"
REFERENCE = "preference_trial"


def _cohort(patients: pd.DataFrame) -> pd.DataFrame:
    """Measured patients with a preference, offered a first appointment, course ended."""
    p = patients[patients["measured"] & (patients["preference_met"] >= 0)]
    return p[(p["exit_reason"] != "censored") & (p["exit_reason"] != "left_waiting_list")]


def dropout_odds_ratio(tables: Tables) -> float:
    """Odds of dropout when the first clinician has the preferred approach over the odds when not."""
    p = _cohort(tables["patients"])
    met, unmet = p[p["preference_met"] == 1], p[p["preference_met"] == 0]
    a, b = float((met["exit_reason"] == "dropout").sum()), float((met["exit_reason"] != "dropout").sum())
    c, d = float((unmet["exit_reason"] == "dropout").sum()), float((unmet["exit_reason"] != "dropout").sum())
    if min(a, b, c, d) == 0:
        return float("nan")
    return (a / b) / (c / d)


def outcome_d(tables: Tables) -> float:
    """Cohen's d of improvement (observed baseline minus last score), preference met minus not."""
    p = _cohort(tables["patients"])
    imp = p["baseline_severity"] - p["final_severity"]
    x, y = imp[p["preference_met"] == 1].to_numpy(float), imp[p["preference_met"] == 0].to_numpy(float)
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    sd = np.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    return float((x.mean() - y.mean()) / sd) if sd > 0 else float("nan")


def register() -> None:
    """Add targets 13a and 13b (reference ``preference_trial``: the calibration experiment's scenario)."""
    register_target("13a", "dropout odds ratio, preference accommodated vs not (fitted)", SOURCE, 0.40, 0.75,
                     REFERENCE, dropout_odds_ratio, interval="bootstrap",
                     definition="odds of dropout, first clinician of the preferred approach vs not, among measured "
                                "patients with a preference whose course ended; allocation blind to preference",
                     role="fitted")
    register_target("13b", "outcome d, preference accommodated vs not (validation)", SOURCE, 0.10, 0.45,
                    REFERENCE, outcome_d, interval="bootstrap",
                    definition="Cohen's d of improvement (baseline minus last observed score), preference met "
                               "minus not met, same cohort", role="validation")
