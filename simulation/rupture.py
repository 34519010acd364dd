"""Rupture and repair (Safran & Muran), as pluggable models behind a registry.

A model is called once per attended session, after the alliance has moved, and may
change the dyad's goals, tasks and bond. It reads its randomness from the dyad's tape
(fixed slots, so scenarios stay synchronised) and returns three small integers for the
session table: the rupture type, the repair outcome, and whether the patient would
report a rupture on a post-session questionnaire.
"""

from __future__ import annotations

from typing import Callable

import cython
from cython.cimports.libc.math import exp, log  # C's compiled, math's otherwise: the same libm values

from .config import RuptureConfig
from .entities import Clinician, Dyad, Patient
from .rng import U_DETECT, U_LATE_REPAIR, U_REPAIR, U_REPORT, U_RUPTURE, U_SEVERITY, U_TYPE

NONE, WITHDRAWAL, CONFRONTATION = 0, 1, 2
REPAIR_NONE, REPAIRED, FAILED, UNNOTICED = 0, 1, 2, 3
INF = float("inf")

RUPTURE_MODELS: dict[str, Callable[..., "RuptureModel"]] = {}


def register(name: str):
    """Class decorator: make a rupture model selectable as ``rupture.model=name``."""

    def deco(cls):
        RUPTURE_MODELS[name] = cls
        return cls

    return deco


def make_rupture_model(cfg: RuptureConfig, reference: float, feedback_gain: float = 0.0) -> RuptureModel:
    """The configured model; ``feedback_gain`` is the detection log-odds added at a monitoring feedback session."""
    return RUPTURE_MODELS[cfg.model](cfg, reference, feedback_gain)


@cython.cfunc
@cython.inline
def _logistic(x: cython.double) -> cython.double:
    e: cython.double
    if x >= 0:
        return 1.0 / (1.0 + exp(-x))
    e = exp(x)
    return e / (1.0 + e)


@cython.cclass
class RuptureModel:
    """Interface: ``at_session`` mutates the dyad and returns (type, repair, reported).

    A new model subclasses this (in Python, or compiled like the standard one) and is
    registered with :func:`register`; the session step calls ``at_session`` once per
    attended session.
    """

    def __init__(self, cfg: RuptureConfig, reference: float, feedback_gain: float = 0.0):
        self.cfg = cfg
        self.reference = reference

    @cython.ccall
    def at_session(self, dyad: Dyad, clinician: Clinician, patient: Patient, u, j: cython.long,
                   feedback: cython.bint) -> tuple:
        """After an attended session: (rupture type, repair outcome, reported) for the dyad."""
        raise NotImplementedError


@cython.cclass
class NoRuptures(RuptureModel):
    """No ruptures ever; repair settings are irrelevant."""

    @cython.ccall
    def at_session(self, dyad: Dyad, clinician: Clinician, patient: Patient, u, j: cython.long,
                   feedback: cython.bint) -> tuple:
        """Never a rupture (rupture=none)."""
        return NONE, REPAIR_NONE, 0


register("none")(NoRuptures)


@cython.cclass
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
    * corrective experience (off at 0): after the dyad's first successful repair its rupture
      log-odds fall by ``corrective_propensity``, and that repair lifts bond and bond potential
      by ``corrective_bond`` beyond the pre-rupture level (later repairs only restore)
    """

    # Its configuration is copied into C attributes (rupture.pxd), read every session.

    def __init__(self, cfg: RuptureConfig, reference: float, feedback_gain: float = 0.0):
        super().__init__(cfg, reference, feedback_gain)
        self.intercept, self.sensitivity = cfg.intercept, cfg.sensitivity
        self.strain, self.alliance = cfg.strain, cfg.alliance
        self.erosion, self.monitoring_gain = cfg.erosion, feedback_gain  # intervention.monitoring_detection_gain
        self.repair_reserve, self.repair_gain = cfg.repair_reserve, cfg.repair_gain
        self.false_report_prob, self.report_prob = cfg.false_report_prob, cfg.report_prob
        self.withdrawal_share, self.severity_min = cfg.withdrawal_share, cfg.severity_min
        self.w_impact = tuple(float(x) for x in cfg.withdrawal_impact)
        self.c_impact = tuple(float(x) for x in cfg.confrontation_impact)
        self.log_w_factor = log(cfg.withdrawal_detect_factor)
        self.sev_span = cfg.severity_max - cfg.severity_min
        self.log_decay = log(cfg.later_repair_decay) if cfg.later_repair_decay > 0 else -INF
        self.corrective_propensity, self.corrective_bond = cfg.corrective_propensity, cfg.corrective_bond

    @cython.ccall
    def at_session(self, dyad: Dyad, clinician: Clinician, patient: Patient, u, j: cython.long,
                   feedback: cython.bint) -> tuple:
        """Occurrence, type, severity, detection, repair and reporting of a rupture (see the README)."""
        ref: cython.double = self.reference
        e: cython.double
        det: cython.double
        x: cython.double
        a: cython.double
        sev: cython.double
        withdrawal: cython.bint
        repair: cython.int = REPAIR_NONE
        reported: cython.int = 0
        # An unresolved rupture keeps eroding, and may still be repaired (falling odds).
        if dyad.unresolved:
            e = self.erosion
            dyad.goals = max(0.0, dyad.goals - e)
            dyad.tasks = max(0.0, dyad.tasks - e)
            dyad.bond = max(0.0, dyad.bond - e)
            dyad.unresolved_sessions += 1
            det = clinician.detection_logit + (self.monitoring_gain if feedback else 0.0)
            x = (clinician.repair_logit + self.repair_reserve * (dyad.alliance - ref)
                 + dyad.unresolved_sessions * self.log_decay)
            if u[j + U_LATE_REPAIR] < _logistic(det) * _logistic(x):
                self._restore(dyad, patient)
                repair = REPAIRED
        a = dyad.alliance
        x = (self.intercept + self.sensitivity * patient.sensitivity_z + self.strain * clinician.strain
             - self.alliance * (a - ref))
        if dyad.repairs > 0:  # a repaired rupture was a corrective experience (0 when off: x unchanged)
            x -= self.corrective_propensity
        if u[j + U_RUPTURE] >= _logistic(x):
            if u[j + U_REPORT] < self.false_report_prob:
                reported = 1
            return NONE, repair, reported
        # A rupture.
        withdrawal = u[j + U_TYPE] < self.withdrawal_share
        kind = WITHDRAWAL if withdrawal else CONFRONTATION
        impact = self.w_impact if withdrawal else self.c_impact
        sev = self.severity_min + self.sev_span * u[j + U_SEVERITY]
        if not dyad.unresolved:
            dyad.pre_rupture = (dyad.goals, dyad.tasks, dyad.bond)
        dyad.goals = max(0.0, dyad.goals - sev * impact[0])
        dyad.tasks = max(0.0, dyad.tasks - sev * impact[1])
        dyad.bond = max(0.0, dyad.bond - sev * impact[2])
        patient.ruptures += 1
        dyad.open_ruptures += 1
        if u[j + U_REPORT] < self.report_prob:
            reported = 1
        det = clinician.detection_logit + (self.monitoring_gain if feedback else 0.0)
        if withdrawal:
            det += self.log_w_factor
        if u[j + U_DETECT] >= _logistic(det):
            _unresolve(dyad, patient)
            return kind, UNNOTICED, reported
        x = clinician.repair_logit + self.repair_reserve * (a - ref)
        if u[j + U_REPAIR] < _logistic(x):
            self._restore(dyad, patient)
            return kind, REPAIRED, reported
        _unresolve(dyad, patient)
        return kind, FAILED, reported

    @cython.cfunc
    def _restore(self, dyad: Dyad, patient: Patient) -> cython.void:
        """Repair: back to the pre-rupture components plus ``repair_gain``.

        One repair resolves every rupture of the episode (they share one pre-rupture level).
        The dyad's first repair is also the corrective experience: bond and bond potential
        rise by ``corrective_bond`` beyond the pre-rupture level (nothing when it is 0).
        """
        g: cython.double
        t: cython.double
        b: cython.double
        patient.ruptures_repaired += dyad.open_ruptures
        dyad.open_ruptures = 0
        g, t, b = dyad.pre_rupture
        gain: cython.double = self.repair_gain
        dyad.repairs += 1
        if dyad.repairs == 1 and self.corrective_bond > 0.0:
            b += self.corrective_bond
            dyad.potential_bond = min(1.0, dyad.potential_bond + self.corrective_bond)
        dyad.goals = min(1.0, g + gain)
        dyad.tasks = min(1.0, t + gain)
        dyad.bond = min(1.0, b + gain)
        if dyad.unresolved:
            dyad.unresolved = False
            dyad.patient.unresolved -= 1
        dyad.unresolved_sessions = 0
        dyad.pre_rupture = None


@cython.cfunc
def _unresolve(dyad: Dyad, patient: Patient) -> cython.void:
    if not dyad.unresolved:
        dyad.unresolved = True
        patient.unresolved += 1
        dyad.unresolved_sessions = 0


register("standard")(StandardRuptures)
