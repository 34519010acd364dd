"""Key performance indicators of one scenario × replication, derived from its tables.

Denominators are explicit: rates over *measured* patients who started treatment (dropout,
recovery, ...) or who were referred (left waiting list); waits over those who started.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# KPI name -> (description with its denominator, unit)
KPI_INFO = {
    "referred": ("measured patients referred", "patients"),
    "started": ("measured patients who had a first appointment", "patients"),
    "dropout_rate": ("dropouts / measured patients who started and exited", "proportion"),
    "dna_discharge_rate": ("DNA discharges / measured patients who started and exited", "proportion"),
    "recovery_rate": ("recovered (below caseness, reliable change) / measured patients who started and exited",
                      "proportion"),
    "reliable_improvement_rate": ("reliable improvement / measured patients who started and exited", "proportion"),
    "left_waiting_list_rate": ("left the waiting list / measured patients referred", "proportion"),
    "mean_sessions": ("attended sessions per measured patient who started and exited", "sessions"),
    "mean_wait_weeks": ("referral to first appointment, measured patients who started", "weeks"),
    "rupture_patient_share": ("patients with a rupture / measured patients with an attended session",
                              "proportion"),
    "repair_share": ("repaired / ruptures, measured patients", "proportion"),
    "reassignments_per_100": ("reassignments per 100 measured patients who started", "per 100 patients"),
    "mean_caseload": ("time-average caseload per active clinician over the measured period", "patients"),
    "utilisation": ("time-average caseload / caseload cap", "proportion"),
    "mean_waiting": ("time-average waiting-list length over the measured period", "patients"),
}
KPI_NAMES = tuple(KPI_INFO)


def compute_kpis(tables: dict[str, pd.DataFrame], warmup_day: float, mean_cap: float) -> pd.DataFrame:
    """One row per (scenario, replication) in ``tables``."""
    patients = tables["patients"]
    ts = tables["timeseries"]
    rows = []
    # One row per (scenario, replication) the run covered, even one with no referrals at all.
    for (scenario, rep), _ in ts.groupby(["scenario", "replication"], sort=False, observed=True):
        p = patients[(patients["scenario"] == scenario) & (patients["replication"] == rep)]
        m = p[p["measured"]]
        started = m[m["first_session_day"].notna()]
        ended = started[started["exit_reason"] != "censored"]
        n_end = len(ended)
        ts_r = ts[(ts["scenario"] == scenario) & (ts["replication"] == rep) & (ts["day"] >= warmup_day)]
        attended = m[m["sessions_attended"] > 0]
        row = {
            "scenario": scenario, "replication": int(rep),
            "referred": len(m), "started": len(started),
            "dropout_rate": _share(ended["exit_reason"] == "dropout", n_end),
            "dna_discharge_rate": _share(ended["exit_reason"] == "dna_discharge", n_end),
            "recovery_rate": _share(ended["recovered"], n_end),
            "reliable_improvement_rate": _share(ended["reliable_improvement"], n_end),
            "left_waiting_list_rate": _share(m["exit_reason"] == "left_waiting_list", len(m)),
            "mean_sessions": float(ended["sessions_attended"].mean()) if n_end else np.nan,
            "mean_wait_weeks": float(started["wait_days"].mean() / 7.0) if len(started) else np.nan,
            "rupture_patient_share": _share(attended["ruptures"] > 0, len(attended)),
            "repair_share": (float(m["ruptures_repaired"].sum() / m["ruptures"].sum())
                             if m["ruptures"].sum() else np.nan),
            "reassignments_per_100": (100.0 * started["reassignments"].sum() / len(started)
                                      if len(started) else np.nan),
            "mean_caseload": float(ts_r["mean_caseload"].mean()) if len(ts_r) else np.nan,
            "mean_waiting": float(ts_r["waiting"].mean()) if len(ts_r) else np.nan,
        }
        row["utilisation"] = row["mean_caseload"] / mean_cap if mean_cap else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["scenario", "replication", *KPI_NAMES])


def _share(mask, n: int) -> float:
    return float(np.sum(mask) / n) if n else np.nan
