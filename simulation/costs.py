"""What a scenario's staffing costs, and what it buys: the cost KPIs.

Cost model: **staff cost per post-year** (salary + employer on-costs + overheads +
capital, one figure per discipline in ``costs.annual_cost_per_post``) times the
post-years each clinician was in post during the measured period. A service pays for its
posts whether or not a session is attended (DNAs, an idle slot, a held caseload of
psychiatric reviews), so posts, not sessions, are what staffing scenarios change; a cost
per attended session would make idle capacity free and hide the price of an extra post.
A vacant post (turnover) costs nothing here: no agency cover is modelled.

Outputs are counted in the same window as the cost (the measured period), whoever was
referred when: in a service whose care lasts years (reference B) most of the patients a
post-year serves were referred before it, and counting only patients referred in the
window would charge them all to a few.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import CostConfig

DAYS_PER_YEAR = 365.25
ENDED_EXCLUDE = ("censored", "left_waiting_list")

# Columns this module adds to the kpis table (their Kpi entries are in simulation.kpis).
COST_COLUMNS = ("staff_cost", "cost_per_patient_treated", "cost_per_recovered")


def annual_cost(costs: CostConfig, discipline: str) -> float:
    """The cost of one post-year of a discipline (its own figure, else the default)."""
    return float(costs.annual_cost_per_post.get(discipline, costs.default_annual_cost_per_post))


def post_years(clinicians: pd.DataFrame, start: float, end: float) -> pd.Series:
    """Years each clinician was in post within [start, end] (leave_day NaN: still in post)."""
    left = clinicians["leave_day"].fillna(end).clip(upper=end).to_numpy(dtype=float)
    began = clinicians["start_day"].clip(lower=start).to_numpy(dtype=float)
    return pd.Series(np.maximum(left - began, 0.0) / DAYS_PER_YEAR, index=clinicians.index)


def window_counts(patients: pd.DataFrame, start: float, end: float) -> dict[str, int]:
    """Outputs in [start, end]: patients who started treatment (first attended course), recovered courses, dropouts."""
    first = patients["first_session_day"]
    treated = (first >= start) & (first <= end) & (patients["sessions_attended"] > 0)
    ended = patients["exit_day"].between(start, end) & ~patients["exit_reason"].isin(ENDED_EXCLUDE)
    return {"treated": int(treated.sum()),
            "recovered": int((ended & patients["recovered"]).sum()),
            "dropouts": int((ended & (patients["exit_reason"] == "dropout")).sum())}


def cost_kpis(patients: pd.DataFrame, clinicians: pd.DataFrame, costs: CostConfig,
              start: float, end: float) -> dict[str, float]:
    """The cost KPIs of one scenario x replication (tables of that replication only)."""
    unit = clinicians["discipline"].map(lambda d: annual_cost(costs, d)).astype(float)
    staff = float((post_years(clinicians, start, end) * unit).sum())
    n = window_counts(patients, start, end)
    return {"staff_cost": staff,
            "cost_per_patient_treated": staff / n["treated"] if n["treated"] else np.nan,
            "cost_per_recovered": staff / n["recovered"] if n["recovered"] else np.nan,
            "dropouts_in_period": float(n["dropouts"])}


def cost_per_dropout_avoided(kpis: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per scenario: extra staff cost and dropouts avoided against the baseline (means over paired
    replications) and their ratio, the cost per dropout avoided (NaN when none is avoided).

    Dropouts avoided = (baseline dropout_rate - scenario dropout_rate) x the scenario's patients who
    started: the change in the *rate* applied to the patients the scenario treats. A count of dropouts
    would credit a scenario that treats fewer patients (a longer list) with dropouts "avoided".
    """
    k = kpis.set_index(["scenario", "replication"])
    if baseline not in k.index.get_level_values(0):
        return pd.DataFrame(columns=["scenario", "extra_cost", "dropouts_avoided", "cost_per_dropout_avoided"])
    base = k.loc[baseline]
    rows = []
    for sc in dict.fromkeys(k.index.get_level_values(0)):
        if sc == baseline:
            continue
        s = k.loc[sc]
        reps = s.index.intersection(base.index)
        extra = float((s.loc[reps, "staff_cost"] - base.loc[reps, "staff_cost"]).mean())
        avoided = float(((base.loc[reps, "dropout_rate"] - s.loc[reps, "dropout_rate"]) * s.loc[reps, "started"]).mean())
        ratio = extra / avoided if avoided > 0 else np.nan
        rows.append({"scenario": sc, "extra_cost": extra, "dropouts_avoided": avoided,
                     "cost_per_dropout_avoided": ratio})
    return pd.DataFrame(rows, columns=["scenario", "extra_cost", "dropouts_avoided", "cost_per_dropout_avoided"])
