"""Rupture and repair (Safran & Muran), as pluggable models behind a registry.

A model is called once per attended session, after the alliance has moved, and may
change the dyad's goals, tasks and bond. It reads its randomness from the dyad's tape
(fixed slots, so scenarios stay synchronised) and returns three small integers for the
session table: the rupture type, the repair outcome, and whether the patient would
report a rupture on a post-session questionnaire.
"""

from __future__ import annotations

import math
from typing import Callable

from .config import RuptureConfig
from .entities import Clinician, Dyad, Patient
from .rng import U_DETECT, U_LATE_REPAIR, U_REPAIR, U_REPORT, U_RUPTURE, U_SEVERITY, U_TYPE

NONE, WITHDRAWAL, CONFRONTATION = 0, 1, 2
REPAIR_NONE, REPAIRED, FAILED, UNNOTICED = 0, 1, 2, 3

RUPTURE_MODELS: dict[str, Callable[..., "RuptureModel"]] = {}


def register(name: str):
    """Class decorator: make a rupture model selectable as ``rupture.model=name``."""

    def deco(cls):
        RUPTURE_MODELS[name] = cls
        return cls

    return deco


def make_rupture_model(cfg: RuptureConfig, reference: float) -> "RuptureModel":
    return RUPTURE_MODELS[cfg.model](cfg, reference)


def _logistic(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class RuptureModel:
    """Interface: ``at_session`` mutates the dyad and returns (type, repair, reported)."""

    def __init__(self, cfg: RuptureConfig, reference: float):
        self.cfg = cfg
        self.reference = reference

    def at_session(self, dyad: Dyad, clinician: Clinician, patient: Patient, u: list, j: int,
                   feedback: bool) -> tuple[int, int, int]:
        raise NotImplementedError


@register("none")
class NoRuptures(RuptureModel):
    """No ruptures ever; repair settings are irrelevant."""

    def at_session(self, dyad, clinician, patient, u, j, feedback):
        return NONE, REPAIR_NONE, 0


@register("standard")
class StandardRuptures(RuptureModel):
    """Occurrence, type, severity, detection, repair and unresolved erosion.

    * probability: logistic(intercept + sensitivity*z_sens + strain*strain - alliance*(A - ref))
    * type: withdrawal with ``withdrawal_share``, else confrontation; severity ~ U(min, max)
      scaled per component by the type's impact vector
    * detection: logistic(clinician detection logit [+ monitoring gain at feedback
      sessions] + log(withdrawal factor) for withdrawals)
    * repair: logistic(repair logit + reserve*(A_before - ref)); success restores the
      pre-rupture components plus ``repair_gain`` (V-shaped trajectory)
    * unresolved: components erode by ``erosion`` a session; later attempts succeed with
      the repair odds times ``later_repair_decay`` per session unresolved
    """

    def __init__(self, cfg: RuptureConfig, reference: float):
        super().__init__(cfg, reference)
        self.log_w_factor = math.log(cfg.withdrawal_detect_factor)
        self.sev_span = cfg.severity_max - cfg.severity_min
        self.log_decay = math.log(cfg.later_repair_decay) if cfg.later_repair_decay > 0 else -math.inf

    def at_session(self, dyad, clinician, patient, u, j, feedback):
        cfg = self.cfg
        ref = self.reference
        repair = REPAIR_NONE
        # An unresolved rupture keeps eroding, and may still be repaired (falling odds).
        if dyad.unresolved:
            e = cfg.erosion
            dyad.goals = max(0.0, dyad.goals - e)
            dyad.tasks = max(0.0, dyad.tasks - e)
            dyad.bond = max(0.0, dyad.bond - e)
            dyad.unresolved_sessions += 1
            det = clinician.detection_logit + (cfg.monitoring_detection_gain if feedback else 0.0)
            x = (clinician.repair_logit + cfg.repair_reserve * (dyad.alliance - ref)
                 + dyad.unresolved_sessions * self.log_decay)
            if u[j + U_LATE_REPAIR] < _logistic(det) * _logistic(x):
                self._restore(dyad, patient)
                repair = REPAIRED
        a = dyad.alliance
        x = (cfg.intercept + cfg.sensitivity * patient.sensitivity_z + cfg.strain * clinician.strain
             - cfg.alliance * (a - ref))
        p_rupture = _logistic(x)
        reported = 0
        if u[j + U_RUPTURE] >= p_rupture:
            if u[j + U_REPORT] < cfg.false_report_prob:
                reported = 1
            return NONE, repair, reported
        # A rupture.
        withdrawal = u[j + U_TYPE] < cfg.withdrawal_share
        kind = WITHDRAWAL if withdrawal else CONFRONTATION
        impact = cfg.withdrawal_impact if withdrawal else cfg.confrontation_impact
        sev = cfg.severity_min + self.sev_span * u[j + U_SEVERITY]
        if not dyad.unresolved:
            dyad.pre_rupture = (dyad.goals, dyad.tasks, dyad.bond)
        dyad.goals = max(0.0, dyad.goals - sev * impact[0])
        dyad.tasks = max(0.0, dyad.tasks - sev * impact[1])
        dyad.bond = max(0.0, dyad.bond - sev * impact[2])
        patient.ruptures += 1
        dyad.open_ruptures += 1
        if u[j + U_REPORT] < cfg.report_prob:
            reported = 1
        det = clinician.detection_logit + (cfg.monitoring_detection_gain if feedback else 0.0)
        if withdrawal:
            det += self.log_w_factor
        if u[j + U_DETECT] >= _logistic(det):
            self._unresolve(dyad, patient)
            return kind, UNNOTICED, reported
        x = clinician.repair_logit + cfg.repair_reserve * (a - ref)
        if u[j + U_REPAIR] < _logistic(x):
            self._restore(dyad, patient)
            return kind, REPAIRED, reported
        self._unresolve(dyad, patient)
        return kind, FAILED, reported

    def _restore(self, dyad: Dyad, patient: Patient) -> None:
        """Repair: back to the pre-rupture components plus the corrective gain.

        One repair resolves every rupture of the episode (they share one pre-rupture level).
        """
        patient.ruptures_repaired += dyad.open_ruptures
        dyad.open_ruptures = 0
        g, t, b = dyad.pre_rupture
        gain = self.cfg.repair_gain
        dyad.goals = min(1.0, g + gain)
        dyad.tasks = min(1.0, t + gain)
        dyad.bond = min(1.0, b + gain)
        if dyad.unresolved:
            dyad.unresolved = False
            dyad.patient.unresolved -= 1
        dyad.unresolved_sessions = 0
        dyad.pre_rupture = None

    @staticmethod
    def _unresolve(dyad: Dyad, patient: Patient) -> None:
        if not dyad.unresolved:
            dyad.unresolved = True
            patient.unresolved += 1
            dyad.unresolved_sessions = 0
