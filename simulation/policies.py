"""Service policies, each a small class behind a registry selected in ``policy.*``.

* allocation: which free clinician takes a patient off the waiting list;
* reassignment: whether, after a session, a patient is moved to another clinician;
* on_leave: what happens to a departing clinician's patients;
* reallocation: which clinician takes a *moved* patient (``policy.reassignment_allocation``).

A new policy is one class with ``@register_*("name")``. A reassignment policy that needs
parameters gets its own section: a dataclass field of :class:`simulation.config.PolicyConfig`
named like the policy (``policy.alliance_threshold.*``), which it reads as ``self.cfg``. A
policy sees the service only through :class:`simulation.ports.PolicyPort` (moves, queues,
alternatives, keyed random draws), and keeps its own state (the hold rule's held patients,
the queueing priority of moves).
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from .config import PolicyConfig
from .entities import Clinician, Dyad, Patient

if TYPE_CHECKING:  # pragma: no cover
    from .ports import PolicyPort

ALLOCATION: dict[str, Callable[..., "AllocationPolicy"]] = {}
REASSIGNMENT: dict[str, Callable[..., "ReassignmentPolicy"]] = {}
ON_LEAVE: dict[str, Callable[..., "OnLeavePolicy"]] = {}
REALLOCATION: dict[str, Optional[Callable[..., "AllocationPolicy"]]] = {"as_allocation": None}
GOLDEN = 0.6180339887498949  # shifts a patient's uniform from one move to the next (a fresh, reproducible draw)


def _registrar(table: dict):
    def register(name: str):
        def deco(cls):
            table[name] = cls
            cls.name = name
            return cls

        return deco

    return register


register_allocation = _registrar(ALLOCATION)
register_reassignment = _registrar(REASSIGNMENT)
register_on_leave = _registrar(ON_LEAVE)
register_reallocation = _registrar(REALLOCATION)


def style_fit(patient_style: Sequence[float], clinician_style: Sequence[float]) -> float:
    """Standardised match of two style vectors (mean 0, SD 1 for random pairs)."""
    return sum(map(operator.mul, patient_style, clinician_style)) / math.sqrt(len(patient_style))


# --------------------------------------------------------------------------- allocation
class AllocationPolicy:
    """Choose one clinician from ``free`` (non-empty, all below their cap)."""

    def __init__(self, cfg: PolicyConfig, service: "PolicyPort"):
        self.cfg = cfg
        self.service = service

    def choose(self, patient: Patient, free: list[Clinician]) -> Clinician:
        """The clinician who takes ``patient`` off the waiting list (one of ``free``)."""
        raise NotImplementedError


@register_allocation("least_loaded")
class LeastLoaded(AllocationPolicy):
    """The clinician with the smallest caseload relative to cap; ties to the lowest id."""

    def choose(self, patient, free):
        """The least loaded of ``free``, from the service's index when ``free`` is all of it."""
        index = self.service.free_clinicians(free[0].team, free[0].discipline)
        if len(free) == len(index.in_order):  # every free clinician is an option: ask the index
            return index.least_loaded()
        # ``free`` is in id order and min() keeps the first of equal keys, so ties go to
        # the lowest id without building a (load, id) tuple per clinician.
        return min(free, key=_relative_load)


def _relative_load(c: Clinician) -> float:
    return c.caseload / c.caseload_cap


@register_allocation("random")
class RandomAllocation(AllocationPolicy):
    """A uniformly random free clinician (draw from the patient's own attributes)."""

    def choose(self, patient, free):
        """A free clinician picked with the patient's own uniform (the same across scenarios)."""
        u = self.service.patient_uniform(patient, 0)
        return free[min(int(u * len(free)), len(free) - 1)]


@register_allocation("round_robin")
class RoundRobin(AllocationPolicy):
    """Clinicians take turns in id order, skipping those without a free slot."""

    def __init__(self, cfg, service):
        super().__init__(cfg, service)
        self.last: dict[int, int] = {}

    def choose(self, patient, free):
        """The next free clinician after the last one picked in this discipline, in id order."""
        d = free[0].discipline
        last = self.last.get(d, -1)
        ordered = sorted(free, key=lambda c: c.id)
        pick = next((c for c in ordered if c.id > last), ordered[0])
        self.last[d] = pick.id
        return pick


@register_allocation("matched")
class Matched(AllocationPolicy):
    """The free clinician with the best *estimated* fit (matching on referral information)."""

    # The estimate correlates ``matching_accuracy`` with the true fit: it is
    # ``acc*fit + sqrt(1-acc^2)*noise`` with noise from the patient's own draws, so accuracy 0
    # is random allocation and 1 is perfect matching. With ``use_revealed`` (re-matching a
    # moved patient) it adds what the failed dyad revealed (:func:`revealed_fit`).
    use_revealed = False

    def choose(self, patient, free):
        """The free clinician with the highest estimated fit (ties to the lowest id)."""
        acc = self.cfg.matching_accuracy
        s = math.sqrt(max(0.0, 1.0 - acc * acc))
        revealed = patient.revealed.get(free[0].discipline) if self.use_revealed else None

        def estimate(c: Clinician) -> float:
            noise = self.service.patient_normal(patient, c.id)
            e = acc * style_fit(patient.style, c.style) + s * noise
            if revealed is not None:
                e += revealed_fit(revealed[0], revealed[1], c.style)
            return e

        return max(free, key=lambda c: (estimate(c), -c.id))


def revealed_fit(failed_style: Sequence[float], failed_fit: float, style: Sequence[float]) -> float:
    """Expected fit with a clinician of ``style``, given the fit a failed dyad with ``failed_style`` revealed."""
    # Fits are linear in the patient's unknown style x ~ N(0, I): f_c = x.s_c/sqrt(k). Given an
    # estimate of f_old with error variance 1 (the ratings also carry capacity, skill and rating
    # error), E[f_c | f_old] = (s_c.s_old/k) f_old / (|s_old|^2/k + 1): a clinician whose style is
    # unlike the failed one's is expected to fit better after a low rating (worse after a high one).
    k = len(style)
    cov = sum(map(operator.mul, style, failed_style)) / k
    var = sum(v * v for v in failed_style) / k
    return cov * failed_fit / (var + 1.0)


# --------------------------------------------------------------------------- reallocation
@register_reallocation("least_loaded")
class LeastLoadedMove(LeastLoaded):
    """A moved patient goes to the least loaded colleague (the behaviour before re-matching)."""


@register_reallocation("random")
class RandomMove(AllocationPolicy):
    """A moved patient goes to a uniformly random free colleague (a fresh draw per move)."""

    def choose(self, patient, free):
        """One of ``free`` from the patient's own uniform, shifted by the number of moves."""
        u = (self.service.patient_uniform(patient, 1) + GOLDEN * patient.reassignments) % 1.0
        return free[min(int(u * len(free)), len(free) - 1)]


@register_reallocation("matched")
class MatchedMove(Matched):
    """A moved patient goes to the best estimated fit, the estimate using the failed dyad's ratings too."""

    use_revealed = True


# --------------------------------------------------------------------------- reassignment
class ReassignmentPolicy:
    """Decide after an attended session whether the dyad should end for another clinician.

    ``after_session`` returns None (stay) or a cause: "policy" or "patient_request". The
    session step then moves the patient, who queues ahead of new referrals when the
    policy's ``priority`` is set (``policy.reassignment_priority``). ``self.cfg`` is the
    policy's own section, ``policy.<name>`` (None for a policy without parameters).
    """

    def __init__(self, cfg: PolicyConfig, service: "PolicyPort"):
        self.cfg = getattr(cfg, getattr(self, "name", ""), None)  # its own section, policy.<name>
        self.service = service
        self.priority = bool(cfg.reassignment_priority)  # moved patients queue before new referrals

    def after_session(self, dyad: Dyad, patient_rating: float, u_policy: float) -> Optional[str]:
        """None to stay with the clinician, or the cause of a move (never moves here)."""
        return None

    @property
    def never_moves(self) -> bool:
        """True when ``after_session`` is this no-op, so the session step need not call it."""
        return type(self).after_session is ReassignmentPolicy.after_session


@register_reassignment("continuity")
class Continuity(ReassignmentPolicy):
    """Never reassign voluntarily: patients stay with their clinician."""


class _Measured(ReassignmentPolicy):
    """Shared by policies that act on a *measurement* of the patient-rated alliance.

    A measurement is taken at every ``measure_every``-th attended session of the dyad
    (``policy.alliance_threshold.measure_every``; 1 = every attended session). A move is
    only made when the patient's team has another clinician of the discipline in post whom
    the patient has not left before.
    """

    def measured(self, dyad: Dyad) -> bool:
        """Whether this attended session of the dyad carries a measurement."""
        return dyad.attended % self.cfg.measure_every == 0

    def has_alternative(self, dyad: Dyad) -> bool:
        """Whether the team has someone to move the patient to (a move needs one)."""
        return bool(self.service.alternatives(dyad.patient, dyad.discipline, dyad.clinician))


@register_reassignment("alliance_threshold")
class AllianceThreshold(_Measured):
    """Move the patient when the measured patient-rated alliance is below ``threshold``
    (instrument scale) on ``consecutive`` consecutive measurements; cause "policy".

    The run of low measurements restarts after a measurement at or above the threshold,
    and belongs to the dyad (a new clinician starts a new count).
    """

    def after_session(self, dyad, patient_rating, u_policy):
        """Count low measured ratings; move after `consecutive` in a row if the team has another clinician."""
        if not self.measured(dyad):
            return None
        if patient_rating < self.cfg.threshold:
            dyad.low_ratings += 1
        else:
            dyad.low_ratings = 0
        if dyad.low_ratings >= self.cfg.consecutive and self.has_alternative(dyad):
            return "policy"
        return None


@register_reassignment("unresolved_rupture")
class UnresolvedRupture(_Measured):
    """Move the patient when a rupture has stayed unresolved for ``unresolved_sessions``
    attended sessions after the one in which it happened; cause "policy"."""

    def after_session(self, dyad, patient_rating, u_policy):
        """Move when a rupture has stayed unresolved for `unresolved_sessions` sessions."""
        if (dyad.unresolved and dyad.unresolved_sessions >= self.cfg.unresolved_sessions
                and self.has_alternative(dyad)):
            return "policy"
        return None


@register_reassignment("patient_request")
class PatientRequest(_Measured):
    """The patient asks for another clinician after an attended session with probability
    ``logistic(request_intercept + request_slope * (threshold - rating))``, rising as their
    own alliance rating (instrument scale) falls; cause "patient_request". The draw is the
    session's policy uniform on the dyad's tape (synchronised across scenarios)."""

    def after_session(self, dyad, patient_rating, u_policy):
        """The patient asks to change with a probability that rises as their rating falls."""
        x = self.cfg.request_intercept + self.cfg.request_slope * (self.cfg.threshold - patient_rating)
        prob = 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
        if u_policy < prob and self.has_alternative(dyad):
            return "patient_request"
        return None


# --------------------------------------------------------------------------- on leave
class OnLeavePolicy:
    """What happens to a departing clinician's patients (see simulation.workforce)."""

    def __init__(self, cfg: PolicyConfig, service: "PolicyPort"):
        self.cfg = cfg
        self.service = service
        self.priority = bool(cfg.reassignment_priority)  # moved patients queue before new referrals

    def clinician_left(self, clinician: Clinician, dyads: list[Dyad]) -> None:
        """Called on the day ``clinician`` leaves, with the dyads they still held."""
        raise NotImplementedError

    def post_filled(self, old: Clinician, new: Clinician) -> None:
        """Called when ``new`` takes up ``old``'s post (before the waiting list is served)."""


@register_on_leave("reassign")
class ReassignNow(OnLeavePolicy):
    """Every patient queues at once (with priority if ``reassignment_priority``) for another
    clinician of the same discipline in the team; cause "turnover"."""

    def clinician_left(self, clinician, dyads):
        """Move every patient now, in dyad order."""
        for dy in dyads:
            self.service.reassign(dy, "turnover", self.priority)


@register_on_leave("hold")
class HoldForReplacement(OnLeavePolicy):
    """Patients keep no clinician of that discipline until the post is filled, then all
    start with the replacement (from carried-over team trust); cause "turnover". Other
    dyads of the patient continue meanwhile. Patients still held when the run ends are
    censored as in care. The held patients are this policy's own state."""

    def __init__(self, cfg, service):
        super().__init__(cfg, service)
        self.held: dict[int, list[Patient]] = {}  # patients waiting, by the departed clinician's id

    def clinician_left(self, clinician, dyads):
        """End the dyads and hold the patients who did not drop out at the move."""
        held = self.held.setdefault(clinician.id, [])
        for dy in dyads:
            if self.service.reassign(dy, "turnover", queue=False):
                held.append(dy.patient)

    def post_filled(self, old, new):
        """Start every held patient still in care with the replacement."""
        svc = self.service
        for p in self.held.pop(old.id, []):
            if p.exited or svc.has_dyad(p, new.discipline):
                continue
            if new.caseload >= new.caseload_cap:  # cannot happen (held <= old cap); queue instead
                svc.requeue(p, new.discipline, priority=True)
                continue
            svc.start_dyad(p, new, carried=p.carried.pop(new.discipline, None))


def make_reallocation(cfg: PolicyConfig, service: "PolicyPort", allocation: AllocationPolicy) -> AllocationPolicy:
    """The rule that takes a moved patient (``policy.reassignment_allocation``; as_allocation: ``allocation``)."""
    maker = REALLOCATION[cfg.reassignment_allocation]
    return allocation if maker is None else maker(cfg, service)


def make_policies(cfg: PolicyConfig, service: "PolicyPort"):
    """The run's (allocation, reassignment, on_leave) policies, as ``policy.*`` names them."""
    return (ALLOCATION[cfg.allocation](cfg, service),
            REASSIGNMENT[cfg.reassignment](cfg, service),
            ON_LEAVE[cfg.on_leave](cfg, service))
