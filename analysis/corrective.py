"""Repaired courses against courses without a rupture: can a repaired course end better? (issue 16, item 5)

Among finishers (measured, course ended, >= 2 attended sessions: ``simulation.kpis.finishers``)
a course is *repaired* if it had ruptures and every one was repaired, and *without rupture*
if it had none. Its final alliance is the latent composite at its last attended session.
The table gives, per scenario, the share of repaired courses ending above the median course
without rupture of the same replication (50% would mean "as good as never ruptured"), with
a 95% interval across replications, and the two groups' mean final alliance. The groups are
not comparable patients (ruptures concentrate in sensitive patients and weaker alliances),
so read the share across scenarios, not against 50%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulation.kpis import finishers
from simulation.summary import bounded_ci, mean_ci

KEYS = ["scenario", "replication", "patient_id"]
COLUMNS = ["scenario", "repaired_courses", "unruptured_courses", "share_above_unruptured_median",
           "share_ci_low", "share_ci_high", "final_alliance_repaired", "final_alliance_unruptured"]


def final_alliance(sessions: pd.DataFrame) -> pd.Series:
    """Latent alliance at each patient's last attended session, indexed by scenario, replication, patient."""
    s = sessions[sessions["attended"].astype(bool)]
    s = s.sort_values([*KEYS, "day", "session_index"], kind="stable")
    return s.groupby(KEYS, sort=False, observed=True)["alliance_latent"].last()


def repaired_vs_unruptured(patients: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: how often a fully repaired course ends above the median course without rupture."""
    if "scenario" not in patients:  # a single run: one unnamed scenario
        patients, sessions = patients.assign(scenario=""), sessions.assign(scenario="")
    f = finishers(patients)
    f = f.assign(final=final_alliance(sessions).reindex(pd.MultiIndex.from_frame(f[KEYS])).to_numpy())
    f = f[np.isfinite(f["final"])]
    repaired = (f["ruptures"] > 0) & (f["ruptures_repaired"] == f["ruptures"])
    unruptured = f["ruptures"] == 0
    rows = []
    for scen in pd.unique(f["scenario"]):
        shares, rep_means, unr_means = [], [], []
        n_rep = n_unr = 0
        fs = f["scenario"] == scen
        for _, g in f[fs].groupby("replication", sort=True):
            r = g.loc[repaired[g.index], "final"].to_numpy()
            u = g.loc[unruptured[g.index], "final"].to_numpy()
            n_rep, n_unr = n_rep + len(r), n_unr + len(u)
            if len(r) and len(u):
                shares.append(float(np.mean(r > np.median(u))))
                rep_means.append(float(r.mean()))
                unr_means.append(float(u.mean()))
        m, lo, hi = bounded_ci(shares, "logit")
        rows.append({"scenario": scen, "repaired_courses": n_rep, "unruptured_courses": n_unr,
                     "share_above_unruptured_median": m, "share_ci_low": lo, "share_ci_high": hi,
                     "final_alliance_repaired": mean_ci(rep_means)[0],
                     "final_alliance_unruptured": mean_ci(unr_means)[0]})
    return pd.DataFrame(rows, columns=COLUMNS)
