"""The agents: patients, clinicians, and the dyads that join them.

Dataclasses with state only, no behaviour. They are Cython extension types (``cclass``;
their C layout is declared in ``entities.pxd``): compiled, the session step reads and
writes their fields as C doubles and ints; uncompiled (no C compiler at install) they
are ordinary Python dataclasses with the same fields and the same results.
"""

from __future__ import annotations

import cython
from cython.dataclasses import dataclass, field

from .rng import Tape

NAN = float("nan")

# Exit reasons (the patients table's exit_reason).
EXIT_REASONS = ("recovered", "completed", "dropout", "dna_discharge", "left_waiting_list", "censored")
RUPTURE_TYPES = ("none", "withdrawal", "confrontation")
REPAIR_OUTCOMES = ("none", "noticed_repaired", "noticed_failed", "unnoticed")
REASSIGNMENT_CAUSES = ("policy", "patient_request", "turnover")


@dataclass(eq=False)
@cython.cclass
class Clinician:
    """A clinician in post: skills drawn once, caseload and absence state, and the dyads held."""

    id: cython.long
    team: cython.long
    discipline: cython.long  # index into the service's disciplines
    alliance_skill: cython.double  # logit shift of every dyad's potential (the therapist effect)
    outcome_skill: cython.double  # multiplier of patients' response rate
    detection_logit: cython.double  # rupture detection skill, log-odds
    repair_logit: cython.double  # rupture repair skill, log-odds
    rater_bias: cython.double  # offset of this clinician's alliance ratings (0-1 units)
    style: tuple  # style vector; dyad fit is its match with the patient's
    caseload_cap: cython.long
    comfortable_caseload: cython.long
    start_day: cython.double
    trained: cython.bint = False
    caseload: cython.long = 0
    max_caseload: cython.long = 0  # highest caseload ever held (checked against the cap)
    strain: cython.double = 0.0  # max(0, caseload - comfortable) / comfortable
    leave_day: cython.double = NAN
    active: cython.bint = True
    absent_until: cython.double = -1.0  # day the current sickness absence ends (-1: never absent)
    absence_episodes: cython.long = 0  # sickness-absence episodes started
    absence_days: cython.double = 0.0  # days of sickness absence (within the run)
    sessions_cancelled: cython.long = 0  # this clinician's sessions cancelled by absence
    sessions_covered: cython.long = 0  # this clinician's sessions held by a colleague during absence
    patients_held: set = field(default_factory=set)
    dialog: cython.bint = False  # uses DIALOG structured assessment with its patients (intervention.dialog_*)
    dropout_shift: cython.double = 0.0  # this clinician's own dropout log-odds shift (therapist_dropout.logit_sd)


@dataclass(eq=False)
@cython.cclass
class Patient:
    """A referred patient: traits drawn at referral, symptoms, counters and current dyads."""

    id: cython.long
    referral_day: cython.double
    group: str
    baseline_severity: cython.double  # latent baseline (scale points)
    baseline_observed: cython.double  # baseline questionnaire score
    severity: cython.double  # current latent severity
    capacity_z: cython.double
    sensitivity_z: cython.double
    engagement_z: cython.double
    response_rate: cython.double  # fractional improvement per attended session (before alliance)
    rating_bias: cython.double  # offset of this patient's alliance ratings (0-1 units)
    style: tuple
    max_sessions: cython.long  # course length cap: attended sessions in the primary discipline, over all its dyads
    measured: cython.bint
    renege_day: cython.double
    first_session_day: cython.double = NAN
    exit_day: cython.double = NAN
    exit_reason: str = ""
    last_observed: cython.double = NAN
    sessions_attended: cython.long = 0
    dnas: cython.long = 0
    contacts: cython.long = 0
    consecutive_dnas: cython.long = 0
    below_caseness: cython.long = 0  # consecutive attended sessions scoring below caseness
    ruptures: cython.long = 0
    ruptures_repaired: cython.long = 0
    ruptures_reported: cython.long = 0
    reassignments: cython.long = 0
    primary_before: cython.long = 0  # attended primary-discipline sessions in dyads that have ended
    alliance_patient_s3: cython.double = NAN
    alliance_clinician_s3: cython.double = NAN
    early_alliance_sum: cython.double = 0.0  # patient-rated alliance summed over attended sessions 3-5
    early_alliance_n: cython.long = 0
    first_clinician_id: cython.long = -1
    team_alliance: cython.double = 0.0  # weighted composite over the patient's dyads (drives DNA, dropout)
    unresolved: cython.long = 0  # dyads with an unresolved rupture
    unresolved_share: cython.double = 0.0  # team weight of the dyads with an unresolved rupture (scales its hazards)
    dyads: list = field(default_factory=list)  # current dyads, one per discipline at most
    started: cython.bint = False
    in_care: cython.bint = False
    exited: cython.bint = False
    dyad_seq: list = field(default_factory=list)  # dyads created so far, per discipline
    team: cython.long = 0
    queue_days: cython.double = NAN  # referral to allocation (time on the waiting list)
    carried: dict = field(default_factory=dict)  # discipline -> team trust carried into its next dyad
    avoid: frozenset = frozenset()  # clinicians this patient was moved away from (not re-allocated)
    carried_share: dict = field(default_factory=dict)  # discipline -> share of trust carried into the next dyad (a handover's; default alliance.transfer_share)
    preference_met: cython.long = -1  # first dyad: -1 no preference, 0 not met, 1 met (Swift et al. 2018 comparison)
    revealed: dict = field(default_factory=dict)  # discipline -> (failed clinician's style, fit it revealed): for matched re-matching
    team_relationship: cython.double = NAN  # relationship with the team as such: set at the first dyad, then moves slowly toward team_alliance; a change of clinician does not reset it
    involuntary: cython.bint = False  # under compulsion now (a Community Treatment Order)
    involuntary_at_referral: cython.bint = False  # legal status at referral (the patients table's legal_status)
    compulsion_end_day: cython.double = NAN  # day the compulsion ended (NaN: never under it, or still under it)
    potential_offset: cython.double = 0.0  # logit shift of new dyads' potentials from the legal status
    dna_offset: cython.double = 0.0  # DNA log-odds added by the legal status (read each session)
    dropout_offset: cython.double = 0.0  # dropout log-odds added by the legal status (read each contact)
    dialog_sessions: cython.long = 0  # DIALOG sessions held with this patient (intervention.dialog_every_days)
    alliance_last: cython.double = NAN  # latent composite alliance of the last rated session (treatment satisfaction)
    anxiety_offset: cython.double = 0.0  # anxiety questionnaire: the patient's stable offset (points; simulation.anxiety)
    anxiety_errors: object = None  # anxiety questionnaire: error of measurement k at index k (array('d'), drawn at referral)
    anxiety_referral: cython.double = NAN  # anxiety score at referral (NaN: no anxiety measure)
    anxiety_last: cython.double = NAN  # anxiety score at the last attended session, or at referral


@dataclass(eq=False)
@cython.cclass
class Dyad:
    """One patient-clinician relationship: its alliance (goals, tasks, bond), potential, tape and rupture state."""

    id: cython.long
    patient: Patient
    clinician: Clinician
    discipline: cython.long
    tape: Tape
    weight: cython.double  # weight of this dyad in the team relationship
    start_day: cython.double
    goals: cython.double
    tasks: cython.double
    bond: cython.double
    potential_goals: cython.double
    potential_tasks: cython.double
    potential_bond: cython.double
    alliance: cython.double = 0.0  # composite (weighted mean of goals, tasks, bond)
    n: cython.long = 0  # scheduled sessions so far (attended or DNA)
    attended: cython.long = 0
    active: cython.bint = True
    unresolved: cython.bint = False
    unresolved_sessions: cython.long = 0
    pre_rupture: object = None  # components before the unresolved rupture
    open_ruptures: cython.long = 0  # ruptures since the last resolution (a repair resolves them all)
    low_ratings: cython.long = 0  # consecutive low patient ratings (alliance_threshold policy)
    last_patient_rating: cython.double = NAN
    rating_sum: cython.double = 0.0  # patient ratings (instrument scale) summed over the dyad's rated sessions
    ratings: cython.long = 0  # rated sessions of the dyad (what a move reveals about its fit)
    last_dialog_day: cython.double = NAN  # day of the dyad's last DIALOG session (NaN: none yet)
    repairs: cython.long = 0  # successful repairs in this dyad (the first is the corrective experience)
    clinician_view: cython.double = 0.0  # the clinician's stable rating offset for this relationship (alliance.clinician_stable_share; 0 when off)


# ---------------------------------------------------------------- the patients table's numeric fields
# Read once at the end of a run (simulation.tables): compiled, one C loop over the typed agents
# (about a tenth of a numpy.fromiter per field through Python attribute access); uncompiled,
# numpy.fromiter per field. Each name's C assignment below must be at the same position as its
# name here (tests/test_compiled.py compares compiled with uncompiled tables).
PATIENT_DOUBLES = ("referral_day", "first_session_day", "exit_day", "baseline_observed", "last_observed",
                   "early_alliance_sum", "queue_days", "alliance_patient_s3", "alliance_clinician_s3",
                   "baseline_severity", "severity", "compulsion_end_day", "team_relationship")
PATIENT_LONGS = ("id", "team", "sessions_attended", "dnas", "ruptures", "ruptures_repaired", "ruptures_reported",
                 "reassignments", "early_alliance_n", "first_clinician_id", "preference_met", "max_sessions")
PATIENT_FLAGS = ("exited", "measured", "involuntary_at_referral")


def patient_fields(ps: list) -> dict:
    """PATIENT_DOUBLES (float64), PATIENT_LONGS (int64) and PATIENT_FLAGS (bool) of every patient, as numpy columns."""
    import numpy as np

    n = len(ps)
    d = np.empty((len(PATIENT_DOUBLES), n), dtype=np.float64)
    i = np.empty((len(PATIENT_LONGS), n), dtype=np.int64)
    b = np.empty((len(PATIENT_FLAGS), n), dtype=np.uint8)
    if cython.compiled:
        _fill_patient_fields(ps, d, i, b)
    else:
        from operator import attrgetter

        for rows, names in ((d, PATIENT_DOUBLES), (i, PATIENT_LONGS), (b, PATIENT_FLAGS)):
            for k, name in enumerate(names):
                rows[k] = np.fromiter(map(attrgetter(name), ps), dtype=rows.dtype, count=n)
    out = dict(zip(PATIENT_DOUBLES, d))
    out.update(zip(PATIENT_LONGS, i))
    out.update(zip(PATIENT_FLAGS, b.view(np.bool_)))
    return out


@cython.boundscheck(False)
@cython.wraparound(False)
def _fill_patient_fields(ps: list, d: cython.double[:, :], i: cython.longlong[:, :], b: cython.uchar[:, :]):
    """The C loop of :func:`patient_fields` (compiled builds only)."""
    k: cython.Py_ssize_t
    p: Patient
    for k in range(len(ps)):
        p = ps[k]
        d[0, k] = p.referral_day
        d[1, k] = p.first_session_day
        d[2, k] = p.exit_day
        d[3, k] = p.baseline_observed
        d[4, k] = p.last_observed
        d[5, k] = p.early_alliance_sum
        d[6, k] = p.queue_days
        d[7, k] = p.alliance_patient_s3
        d[8, k] = p.alliance_clinician_s3
        d[9, k] = p.baseline_severity
        d[10, k] = p.severity
        d[11, k] = p.compulsion_end_day
        d[12, k] = p.team_relationship
        i[0, k] = p.id
        i[1, k] = p.team
        i[2, k] = p.sessions_attended
        i[3, k] = p.dnas
        i[4, k] = p.ruptures
        i[5, k] = p.ruptures_repaired
        i[6, k] = p.ruptures_reported
        i[7, k] = p.reassignments
        i[8, k] = p.early_alliance_n
        i[9, k] = p.first_clinician_id
        i[10, k] = p.preference_met
        i[11, k] = p.max_sessions
        b[0, k] = p.exited
        b[1, k] = p.measured
        b[2, k] = p.involuntary_at_referral
