"""Turn a finished run (a :class:`simulation.ports.RunRecord`, i.e. the service) into the data-contract tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import anxiety, assessment
from .entities import EXIT_REASONS, patient_fields
from .involuntary import LEGAL_STATUSES

if TYPE_CHECKING:  # pragma: no cover
    from .ports import RunRecord


# exit_reason's category codes; no exit reason yet ("") is "censored" (still in the service at the end).
_EXIT_CODE = {**{r: k for k, r in enumerate(EXIT_REASONS)}, "": EXIT_REASONS.index("censored"),
              None: EXIT_REASONS.index("censored")}


def _run_columns(scenario: str, replication: int, n: int) -> dict[str, np.ndarray]:
    """The scenario and replication columns every table starts with (built into its dict, not inserted after)."""
    return {"scenario": np.full(n, scenario, dtype=object), "replication": np.full(n, replication, dtype=np.int64)}


def _patient_columns(ps: list, end: float, reliable_change: float, caseness: float) -> dict[str, object]:
    """The patients table's columns with explicit dtypes, numeric fields read in one pass (entities.patient_fields)."""
    f = patient_fields(ps)
    referral, first, exited = f["referral_day"], f["first_session_day"], f["exited"]
    baseline, final = f["baseline_observed"], f["last_observed"]
    improvement = baseline - final
    reliable = improvement >= reliable_change
    early_n = f["early_alliance_n"]
    early = np.full(len(ps), np.nan)
    np.divide(f["early_alliance_sum"], early_n, out=early, where=early_n > 0)
    return {
        "patient_id": f["id"],
        "group": np.array([p.group for p in ps], dtype=object),
        "team_id": f["team"],
        "referral_day": referral,
        "first_session_day": first,
        "wait_days": first - referral,
        "queue_days": f["queue_days"],
        "exit_day": np.where(exited, f["exit_day"], float(end)),
        "exit_reason": pd.Categorical.from_codes(
            np.fromiter((_EXIT_CODE.get(p.exit_reason, -1) for p in ps), dtype=np.int8, count=len(ps)),
            categories=list(EXIT_REASONS)),
        "sessions_attended": f["sessions_attended"],
        "dnas": f["dnas"],
        "ruptures": f["ruptures"],
        "ruptures_repaired": f["ruptures_repaired"],
        "ruptures_reported": f["ruptures_reported"],
        "reassignments": f["reassignments"],
        "baseline_severity": baseline,
        "final_severity": final,
        "reliable_improvement": reliable,
        "recovered": (final < caseness) & reliable,
        "alliance_patient_s3": f["alliance_patient_s3"],
        "alliance_clinician_s3": f["alliance_clinician_s3"],
        "alliance_patient_early": early,
        "first_clinician_id": f["first_clinician_id"],
        "preference_met": f["preference_met"],
        "measured": f["measured"],
        "max_sessions": f["max_sessions"],
        "latent_baseline_severity": f["baseline_severity"],
        "latent_final_severity": f["severity"],
        "legal_status": pd.Categorical.from_codes(f["involuntary_at_referral"].astype(np.int8),
                                                  categories=list(LEGAL_STATUSES)),
        "compulsion_end_day": f["compulsion_end_day"],
        "team_relationship": f["team_relationship"],
    }


def _caseloads_table(samples: list, names: list[str], scenario: str, replication: int) -> pd.DataFrame:
    """One row per sample and discipline: per discipline because caps differ (care coordinator 30, psychiatrist 180)."""
    arr = list(zip(*samples)) if samples else [(), (), (), ()]
    return pd.DataFrame({
        **_run_columns(scenario, replication, len(samples)),
        "day": np.array(arr[0], dtype=np.float64),
        "discipline": np.array([names[d] for d in arr[1]], dtype=object),
        "clinicians": np.array(arr[2], dtype=np.int64),
        "mean_caseload": np.array(arr[3], dtype=np.float64),
    })


def _rows_table(rows: list, schema: tuple, scenario: str, replication: int) -> pd.DataFrame:
    """A table from row tuples with the schema's explicit dtypes, scenario and replication first (one frame build)."""
    arr = list(zip(*rows)) if rows else [()] * len(schema)
    data = _run_columns(scenario, replication, len(rows))
    for (name, dtype), values in zip(schema, arr):
        data[name] = np.array(values, dtype=dtype)
    return pd.DataFrame(data)


_f8, _i8 = np.float64, np.int64
CLINICIAN_SCHEMA = (("clinician_id", _i8), ("team_id", _i8), ("discipline", object), ("alliance_skill", _f8),
                    ("outcome_skill", _f8), ("detection_skill", _f8), ("repair_skill", _f8), ("trained", bool),
                    ("caseload_cap", _i8), ("max_caseload", _i8), ("start_day", _f8), ("leave_day", _f8),
                    ("absence_episodes", _i8), ("absence_days", _f8), ("sessions_cancelled", _i8),
                    ("sessions_covered", _i8))
TIMESERIES_SCHEMA = (("day", _f8), ("waiting", _i8), ("in_treatment", _i8), ("vacancies", _i8),
                     ("mean_caseload", _f8))
REASSIGNMENT_SCHEMA = (("patient_id", _i8), ("day", _f8), ("cause", object), ("from_clinician_id", _i8),
                       ("handover", bool))


def build_tables(svc: "RunRecord") -> dict[str, pd.DataFrame]:
    """patients, sessions, clinicians, timeseries, caseloads, reassignments (one replication), from what a run
    recorded."""
    end = svc.end_day
    pop = svc.cfg.population
    columns = _patient_columns(svc.patients, end, pop.reliable_change, pop.caseness)
    columns.update(anxiety.patient_columns(pop, svc.patients))  # scored in the run
    # One frame build with every column (no inserts afterwards, which leave pandas a frame to consolidate).
    patients = pd.DataFrame({**_run_columns(svc.scenario, svc.replication, len(svc.patients)), **columns})

    run = (svc.scenario, svc.replication)
    clinicians = _rows_table([
        (c.id, c.team, svc.disciplines[c.discipline].name, c.alliance_skill, c.outcome_skill,
         1 / (1 + math.exp(-c.detection_logit)), 1 / (1 + math.exp(-c.repair_logit)), c.trained,
         c.caseload_cap, c.max_caseload, c.start_day, c.leave_day,
         c.absence_episodes, c.absence_days, c.sessions_cancelled, c.sessions_covered)
        for c in svc.clinicians
    ], CLINICIAN_SCHEMA, *run)

    timeseries = _rows_table(svc.timeseries, TIMESERIES_SCHEMA, *run)
    caseloads = _caseloads_table(svc.caseload_samples, [d.name for d in svc.disciplines], *run)
    reassignments = _rows_table([(i, d, str(cause), f, h) for i, d, cause, f, h in svc.reassignment_log],
                                REASSIGNMENT_SCHEMA, *run)
    if assessment.enabled(svc.cfg):  # DIALOG runs: follow-up MANSA and satisfaction, each clinician's arm
        patients = assessment.add_assessments(patients, svc.patients, svc.cfg, svc.streams)
        clinicians["dialog"] = np.fromiter((c.dialog for c in svc.clinicians), dtype=bool,
                                           count=len(svc.clinicians))
    out = {"patients": patients, "clinicians": clinicians, "timeseries": timeseries, "caseloads": caseloads,
           "reassignments": reassignments}
    sessions = svc.session_table()  # None when off or streamed to part files
    if sessions is not None:
        out["sessions"] = sessions
    if sessions is not None:  # the other tables were built with them
        sessions.insert(0, "replication", np.int64(svc.replication))
        sessions.insert(0, "scenario", svc.scenario)
    return out
