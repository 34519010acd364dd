"""Turn a finished :class:`~simulation.service.Service` into the data-contract tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .entities import EXIT_REASONS

if TYPE_CHECKING:  # pragma: no cover
    from .service import Service


def build_tables(svc: "Service") -> dict[str, pd.DataFrame]:
    """patients, sessions, clinicians, timeseries, reassignments (one replication)."""
    end = svc.end_day
    pop = svc.cfg.population
    rows = []
    for p in svc.patients:
        reason = p.exit_reason or "censored"
        exit_day = p.exit_day if p.exited else end
        final = p.last_observed
        improvement = p.baseline_observed - final
        rows.append((
            p.id, p.group, p.team, p.referral_day, p.first_session_day,
            p.first_session_day - p.referral_day, p.queue_days, exit_day, reason,
            p.sessions_attended, p.dnas, p.ruptures, p.ruptures_repaired, p.ruptures_reported,
            p.reassignments, p.baseline_observed, final,
            bool(improvement >= pop.reliable_change),
            bool(final < pop.caseness and improvement >= pop.reliable_change),
            p.alliance_patient_s3, p.alliance_clinician_s3,
            p.early_alliance_sum / p.early_alliance_n if p.early_alliance_n else math.nan,
            p.first_clinician_id, p.measured, p.max_sessions, p.baseline_severity, p.severity,
        ))
    patients = pd.DataFrame(rows, columns=[
        "patient_id", "group", "team_id", "referral_day", "first_session_day", "wait_days", "queue_days",
        "exit_day", "exit_reason", "sessions_attended", "dnas", "ruptures", "ruptures_repaired",
        "ruptures_reported", "reassignments", "baseline_severity", "final_severity",
        "reliable_improvement", "recovered", "alliance_patient_s3", "alliance_clinician_s3",
        "alliance_patient_early", "first_clinician_id", "measured", "max_sessions",
        "latent_baseline_severity", "latent_final_severity",
    ])
    patients["exit_reason"] = pd.Categorical(patients["exit_reason"], categories=list(EXIT_REASONS))
    patients = patients.astype({"patient_id": "int64", "team_id": "int64", "sessions_attended": "int64",
                                "dnas": "int64", "ruptures": "int64", "ruptures_repaired": "int64",
                                "ruptures_reported": "int64", "reassignments": "int64",
                                "first_clinician_id": "int64", "measured": bool, "max_sessions": "int64"})

    clinicians = pd.DataFrame([
        (c.id, c.team, svc.disciplines[c.discipline].name, c.alliance_skill, c.outcome_skill,
         1 / (1 + math.exp(-c.detection_logit)), 1 / (1 + math.exp(-c.repair_logit)), c.trained,
         c.caseload_cap, c.max_caseload, c.start_day, c.leave_day,
         c.absence_episodes, c.absence_days, c.sessions_cancelled, c.sessions_covered)
        for c in svc.clinicians
    ], columns=["clinician_id", "team_id", "discipline", "alliance_skill", "outcome_skill", "detection_skill",
                "repair_skill", "trained", "caseload_cap", "max_caseload", "start_day", "leave_day",
                "absence_episodes", "absence_days", "sessions_cancelled", "sessions_covered"])

    timeseries = pd.DataFrame(svc.timeseries, columns=["day", "waiting", "in_treatment", "vacancies",
                                                       "mean_caseload"])
    reassignments = pd.DataFrame(svc.reassignment_log, columns=["patient_id", "day", "cause", "from_clinician_id"])
    reassignments = reassignments.astype({"patient_id": "int64", "day": float, "cause": str,
                                          "from_clinician_id": "int64"})
    out = {"patients": patients, "clinicians": clinicians, "timeseries": timeseries,
           "reassignments": reassignments}
    if svc.cfg.output.sessions:
        if svc.session_stream is not None:
            svc.session_stream.close()  # the rest goes to the chunk's part files, not into memory
        else:
            out["sessions"] = svc.recorder.frame()
    for name, df in out.items():
        df.insert(0, "replication", np.int64(svc.replication))
        df.insert(0, "scenario", svc.scenario)
    return out
