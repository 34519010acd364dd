"""Repaired courses against courses without a rupture: can a repaired course end better? (issue 16, item 5)

Among finishers (measured, course ended, >= 2 attended sessions: ``simulation.kpis.finishers``)
a course is *repaired* if it had ruptures and every one was repaired, and *without rupture*
if it had none. Its final alliance is the latent composite at its last attended session.
Per scenario, the table gives the share of (repaired, no-rupture) pairs of courses of the
same replication and the same number of attended sessions in which the repaired course ends
with the higher final alliance (ties count half; 50% = "as good as never ruptured"), with
a 95% interval across replications, and the two groups' mean final alliance. Matching on
course length removes its confounding only: the groups are still different patients
(ruptures concentrate in sensitive patients), so read the share across scenarios.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulation.kpis import finishers
from simulation.summary import bounded_ci, mean_ci

KEYS = ["scenario", "replication", "patient_id"]
COLUMNS = ["scenario", "repaired_courses", "unruptured_courses", "share_above_unruptured",
           "share_ci_low", "share_ci_high", "final_alliance_repaired", "final_alliance_unruptured"]


def final_alliance(sessions: pd.DataFrame) -> pd.Series:
    """Latent alliance at each patient's last attended session, indexed by scenario, replication, patient."""
    s = sessions[sessions["attended"].astype(bool)]
    s = s.sort_values([*KEYS, "day", "session_index"], kind="stable")
    return s.groupby(KEYS, sort=False, observed=True)["alliance_latent"].last()


def pair_wins(repaired: np.ndarray, unruptured: np.ndarray) -> float:
    """Pairs (one of each) in which the repaired course ends higher; ties count half."""
    u = np.sort(unruptured)
    below = np.searchsorted(u, repaired, side="left")
    not_above = np.searchsorted(u, repaired, side="right")
    return float(below.sum() + 0.5 * (not_above - below).sum())


def per_replication(patients: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and replication: repaired and no-rupture courses, the same-length share, mean final alliances."""
    if "scenario" not in patients:  # a single run: one unnamed scenario
        patients, sessions = patients.assign(scenario=""), sessions.assign(scenario="")
    f = finishers(patients)
    f = f.assign(final=final_alliance(sessions).reindex(pd.MultiIndex.from_frame(f[KEYS])).to_numpy())
    f = f[np.isfinite(f["final"])]
    f = f.assign(_group=np.where((f["ruptures"] > 0) & (f["ruptures_repaired"] == f["ruptures"]), "repaired",
                                 np.where(f["ruptures"] == 0, "unruptured", "")))
    rows = []
    for (scen, rep), g in f.groupby(["scenario", "replication"], sort=False, observed=True):
        wins = pairs = 0.0
        for _, stratum in g.groupby("sessions_attended", sort=True):
            r = stratum.loc[stratum["_group"] == "repaired", "final"].to_numpy()
            u = stratum.loc[stratum["_group"] == "unruptured", "final"].to_numpy()
            if len(r) and len(u):
                wins += pair_wins(r, u)
                pairs += len(r) * len(u)
        rows.append({"scenario": scen, "replication": rep,
                     "repaired_courses": int((g["_group"] == "repaired").sum()),
                     "unruptured_courses": int((g["_group"] == "unruptured").sum()),
                     "share_above_unruptured": wins / pairs if pairs else np.nan,
                     "final_alliance_repaired": g.loc[g["_group"] == "repaired", "final"].mean(),
                     "final_alliance_unruptured": g.loc[g["_group"] == "unruptured", "final"].mean()})
    return pd.DataFrame(rows)


def repaired_vs_unruptured(patients: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: how often a fully repaired course ends above a course without rupture of the same length."""
    per = per_replication(patients, sessions)
    rows = []
    for scen, g in per.groupby("scenario", sort=False):
        m, lo, hi = bounded_ci(g["share_above_unruptured"], "logit")
        rows.append({"scenario": scen, "repaired_courses": int(g["repaired_courses"].sum()),
                     "unruptured_courses": int(g["unruptured_courses"].sum()),
                     "share_above_unruptured": m, "share_ci_low": lo, "share_ci_high": hi,
                     "final_alliance_repaired": mean_ci(g["final_alliance_repaired"])[0],
                     "final_alliance_unruptured": mean_ci(g["final_alliance_unruptured"])[0]})
    return pd.DataFrame(rows, columns=COLUMNS)
