"""Key performance indicators of one scenario × replication, derived from its tables.

Each KPI has one name and one definition, with its denominator, its unit and the interval
that respects its bounds (:class:`Kpi`). Rates are over *measured* patients (referred after
the warm-up). Caseload and utilisation are per discipline (``mean_caseload_<discipline>``,
``utilisation_<discipline>``): a care coordinator's cap of 30 and a psychiatrist's of 180
must not be pooled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from .config import CostConfig
from .costs import COST_COLUMNS, cost_kpis

ENDED_EXCLUDE = ("censored", "left_waiting_list")  # exits that are not the end of a course of treatment
# The patients columns the KPIs read (costs included): compute_kpis keeps only these before it
# selects rows, so each selection copies 17 columns, not the table's 40-odd. A KPI that reads
# another column adds it here.
KPI_PATIENT_COLUMNS = ("scenario", "replication", "measured", "first_session_day", "exit_day", "exit_reason",
                       "sessions_attended", "wait_days", "recovered", "reliable_improvement", "baseline_severity",
                       "final_severity", "gad7_referral", "gad7_last", "ruptures", "ruptures_repaired",
                       "reassignments")


@dataclass(frozen=True)
class Kpi:
    """What a KPI counts (with its denominator), its unit and its interval, so every table says the same."""

    label: str  # short human name, used in printed summaries, reports and figures
    definition: str  # numerator / denominator in words
    unit: str  # proportion | patients | sessions | weeks | per 100 patients | GBP
    interval: str  # logit (a proportion, kept in [0, 1]) | t0 (a non-negative mean: t-interval cut at 0)

    @property
    def is_proportion(self) -> bool:
        """True for shares, shown as % and compared in percentage points."""
        return self.unit == "proportion"


_P, _N = "logit", "t0"
KPI_INFO: dict[str, Kpi] = {
    "referred": Kpi("Patients referred", "measured patients referred", "patients", _N),
    "started": Kpi("Patients who started", "measured patients offered a first appointment", "patients", _N),
    "dropout_rate": Kpi("Dropout", "dropouts (unilateral termination) / measured patients offered a first "
                        "appointment whose course ended (including those who never attended)", "proportion", _P),
    "attender_dropout_rate": Kpi("Dropout of attenders", "dropouts / measured patients with >= 1 attended "
                                 "session whose course ended (calibration target 6, Swift & Greenberg 2012)",
                                 "proportion", _P),
    "dna_discharge_rate": Kpi("DNA discharge", "DNA discharges / measured patients offered a first appointment "
                              "whose course ended", "proportion", _P),
    "recovery_discharge_rate": Kpi("Recovery discharge", "courses ended with exit reason `recovered` (score below "
                                   "caseness after the minimum sessions, with reliable change or a run of scores "
                                   "below caseness) / measured patients offered a first appointment whose course "
                                   "ended", "proportion", _P),
    "reliable_recovery_rate": Kpi("Reliable recovery", "last score below caseness and reliable improvement from "
                                  "baseline (patients column `recovered`, Jacobson-Truax) / measured patients "
                                  "offered a first appointment whose course ended", "proportion", _P),
    "iapt_recovery_rate": Kpi("IAPT recovery of finishers", "finishers (ended with >= 2 attended sessions) at "
                              "caseness at referral on the severity score or the anxiety score (GAD-7 >= 8) whose "
                              "last scores are both below caseness / those finishers (NHS Digital's IAPT "
                              "'recovery', calibration target 10b; without an anxiety measure, severity alone)",
                              "proportion", _P),
    "reliable_improvement_rate": Kpi("Reliable improvement", "reliable improvement from baseline / measured "
                                     "patients offered a first appointment whose course ended", "proportion", _P),
    "left_waiting_list_rate": Kpi("Left the waiting list", "left the waiting list / measured patients referred",
                                  "proportion", _P),
    "mean_sessions": Kpi("Attended sessions per patient", "attended sessions per measured patient offered a first "
                         "appointment whose course ended", "sessions", _N),
    "mean_wait_weeks": Kpi("Wait for first appointment", "referral to first appointment, mean over measured "
                           "patients offered one", "weeks", _N),
    "rupture_patient_share": Kpi("Patients with a rupture", "patients with a rupture / measured patients with an "
                                 "attended session", "proportion", _P),
    "repair_share": Kpi("Ruptures repaired", "repaired ruptures / ruptures, measured patients", "proportion", _P),
    "reassignments_per_100": Kpi("Reassignments", "reassignments per 100 measured patients offered a first "
                                 "appointment", "per 100 patients", _N),
    "mean_waiting": Kpi("Waiting-list length", "time-average number of patients on the waiting list over the "
                        "measured period", "patients", _N),
    # Costs (simulation.costs): staff cost per post-year x post-years in post, outputs counted in the same window.
    "staff_cost": Kpi("Staff cost", "post-years in post in the measured period x the discipline's annual cost per "
                      "post (costs.annual_cost_per_post)", "GBP", _N),
    "cost_per_patient_treated": Kpi("Cost per patient treated", "staff cost / patients whose treatment started "
                                    "(first appointment, >= 1 attended session) in the measured period",
                                    "GBP", _N),
    "cost_per_recovered": Kpi("Cost per recovered patient", "staff cost / courses ended in the measured period "
                              "with reliable recovery (patients column `recovered`, as reliable_recovery_rate)",
                              "GBP", _N),
    "dropouts_in_period": Kpi("Dropouts in the period", "courses ended by dropout in the measured period (any "
                              "referral date), the window the staff cost covers", "patients", _N),
}

# Per-discipline KPIs: one column NAME_<discipline> each (e.g. mean_caseload_psychiatrist).
PER_DISCIPLINE: dict[str, Kpi] = {
    "mean_caseload": Kpi("Caseload per {d}", "time-average caseload per {d} in post over the measured period",
                         "patients", _N),
    "utilisation": Kpi("Caseload / cap, {d}", "time-average caseload per {d} in post / the {d} caseload cap",
                       "proportion", _P),
}
# Names an experiment's ``kpis:`` list may use; a per-discipline name stands for all its columns.
KPI_NAMES = (*KPI_INFO, *PER_DISCIPLINE)
# Old KPI names, with what replaced them (for the error message).
RENAMED = {"recovery_rate": "reliable_recovery_rate (or iapt_recovery_rate, recovery_discharge_rate)"}


def unknown_kpi_hint(name: str) -> str:
    """What is allowed instead of an unknown KPI name (naming its replacement if it was renamed)."""
    if name in RENAMED:
        return f"renamed: use {RENAMED[name]}"
    return f"one of {', '.join(KPI_NAMES)}"


def kpi_info(column: str) -> Kpi:
    """The :class:`Kpi` of a kpis-table column, per-discipline columns included (KeyError if none)."""
    if column in KPI_INFO:
        return KPI_INFO[column]
    for family, k in PER_DISCIPLINE.items():
        if column.startswith(family + "_") and len(column) > len(family) + 1:
            d = column[len(family) + 1:].replace("_", " ")
            return Kpi(k.label.format(d=d), k.definition.format(d=d), k.unit, k.interval)
    raise KeyError(column)


def is_kpi(column: str) -> bool:
    """Whether a kpis-table column is a KPI (not scenario/replication)."""
    try:
        kpi_info(column)
    except KeyError:
        return False
    return True


def kpi_columns(names: Iterable[str], columns: Sequence[str]) -> list[str]:
    """Experiment KPI names as kpis-table columns: a per-discipline name becomes one column per discipline."""
    out: list[str] = []
    for n in names:
        if n in PER_DISCIPLINE:
            out += [c for c in columns if c.startswith(n + "_") and c not in out]
        elif n in columns and n not in out and is_kpi(n):
            out.append(n)
    return out


def finishers(patients: pd.DataFrame) -> pd.DataFrame:
    """IAPT's "finished a course of treatment": measured, course ended, >= 2 attended sessions."""
    return patients[patients["measured"] & (patients["sessions_attended"] >= 2)
                    & ~patients["exit_reason"].isin(ENDED_EXCLUDE)]  # one row selection (one copy)


def attenders_ended(patients: pd.DataFrame) -> pd.DataFrame:
    """Measured patients with >= 1 attended session whose course has ended (target 6's denominator)."""
    return patients[patients["measured"] & (patients["sessions_attended"] > 0)
                    & ~patients["exit_reason"].isin(ENDED_EXCLUDE)]


def iapt_recovery(patients: pd.DataFrame, caseness: float, anxiety_caseness: Optional[float] = None) -> float:
    """IAPT recovery: finishers at caseness at referral on either measure with both last scores below it."""
    # Without ``anxiety_caseness`` (no anxiety measure) the severity score alone decides.
    f = finishers(patients)
    case = f["baseline_severity"] >= caseness
    below = f["final_severity"] < caseness
    if anxiety_caseness is not None:
        case |= f["gad7_referral"] >= anxiety_caseness
        below &= f["gad7_last"] < anxiety_caseness
    return float(below[case].mean()) if case.any() else np.nan


def attender_dropout(patients: pd.DataFrame) -> float:
    """Dropouts among measured patients with >= 1 attended session whose course ended."""
    a = attenders_ended(patients)
    return float((a["exit_reason"] == "dropout").mean()) if len(a) else np.nan


def compute_kpis(tables: dict[str, pd.DataFrame], warmup_day: float, caseness: float,
                 costs: Optional[CostConfig] = None, end_day: Optional[float] = None,
                 anxiety_caseness: Optional[float] = None) -> pd.DataFrame:
    """One row per (scenario, replication) in ``tables``: every KPI of :data:`KPI_INFO` (the cost KPIs
    NaN without ``costs``; IAPT recovery on both measures with ``anxiety_caseness``), then the
    per-discipline caseload and utilisation of the disciplines in the clinicians table."""
    patients = tables["patients"]
    patients = patients[[c for c in patients.columns if c in KPI_PATIENT_COLUMNS]]
    ts = tables["timeseries"]
    loads = tables.get("caseloads")
    clinicians = tables["clinicians"]
    disciplines = list(dict.fromkeys(clinicians["discipline"]))
    rows = []
    # One row per (scenario, replication) the run covered, even one with no referrals at all.
    for scenario, rep in _runs(ts):
        p = _rows_of(patients, scenario, rep)
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
            "attender_dropout_rate": attender_dropout(p),
            "dna_discharge_rate": _share(ended["exit_reason"] == "dna_discharge", n_end),
            "recovery_discharge_rate": _share(ended["exit_reason"] == "recovered", n_end),
            "reliable_recovery_rate": _share(ended["recovered"], n_end),
            "iapt_recovery_rate": iapt_recovery(p, caseness, anxiety_caseness),
            "reliable_improvement_rate": _share(ended["reliable_improvement"], n_end),
            "left_waiting_list_rate": _share(m["exit_reason"] == "left_waiting_list", len(m)),
            "mean_sessions": float(ended["sessions_attended"].mean()) if n_end else np.nan,
            "mean_wait_weeks": float(started["wait_days"].mean() / 7.0) if len(started) else np.nan,
            "rupture_patient_share": _share(attended["ruptures"] > 0, len(attended)),
            "repair_share": (float(m["ruptures_repaired"].sum() / m["ruptures"].sum())
                             if m["ruptures"].sum() else np.nan),
            "reassignments_per_100": (100.0 * started["reassignments"].sum() / len(started)
                                      if len(started) else np.nan),
            "mean_waiting": float(ts_r["waiting"].mean()) if len(ts_r) else np.nan,
        }
        c = _rows_of(clinicians, scenario, rep)
        if costs is not None and end_day is not None:
            row.update(cost_kpis(p, c, costs, warmup_day, end_day))
        else:
            row.update(dict.fromkeys((*COST_COLUMNS, "dropouts_in_period"), np.nan))
        for d in disciplines:
            load = np.nan
            if loads is not None:
                lr = loads[(loads["scenario"] == scenario) & (loads["replication"] == rep)
                           & (loads["discipline"] == d) & (loads["day"] >= warmup_day)]
                load = float(lr["mean_caseload"].mean()) if lr["mean_caseload"].notna().any() else np.nan
            caps = c.loc[c["discipline"] == d, "caseload_cap"]
            row[f"mean_caseload_{d}"] = load
            row[f"utilisation_{d}"] = load / float(caps.mean()) if len(caps) and caps.mean() > 0 else np.nan
        rows.append(row)
    per = [f"{f}_{d}" for d in disciplines for f in PER_DISCIPLINE]
    return pd.DataFrame(rows, columns=["scenario", "replication", *KPI_INFO, *per])


def _runs(ts: pd.DataFrame) -> list:
    """The (scenario, replication) pairs of a timeseries table in order of appearance (one chunk's: no groupby)."""
    sc, rep = ts["scenario"].to_numpy(), ts["replication"].to_numpy()
    if len(ts) and (sc == sc[0]).all() and (rep == rep[0]).all():
        return [(sc[0], rep[0])]
    return [key for key, _ in ts.groupby(["scenario", "replication"], sort=False, observed=True)]


def _rows_of(df: pd.DataFrame, scenario, rep) -> pd.DataFrame:
    """The rows of one (scenario, replication); the frame itself, not a copy, when it holds no others."""
    in_run = (df["scenario"].to_numpy() == scenario) & (df["replication"].to_numpy() == rep)
    return df if in_run.all() else df[in_run]


def _share(mask, n: int) -> float:
    return float(np.sum(mask) / n) if n else np.nan


def default_kpis(asked: Optional[Sequence[str]] = None) -> list[str]:
    """The experiment's KPIs (or a default list), with IAPT recovery beside reliable recovery."""
    names = list(asked) if asked else ["dropout_rate", "reliable_recovery_rate", "mean_sessions", "mean_wait_weeks"]
    if "reliable_recovery_rate" in names and "iapt_recovery_rate" not in names:
        names.insert(names.index("reliable_recovery_rate") + 1, "iapt_recovery_rate")
    return names
