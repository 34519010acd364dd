"""The agents: patients, clinicians, and the dyads that join them.

Plain slotted dataclasses: state only, no behaviour, so the session step can read and
write attributes at full speed and the tables can be built from them at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .rng import Tape

NAN = float("nan")

# Exit reasons (the patients table's exit_reason).
EXIT_REASONS = ("recovered", "completed", "dropout", "dna_discharge", "left_waiting_list", "censored")
RUPTURE_TYPES = ("none", "withdrawal", "confrontation")
REPAIR_OUTCOMES = ("none", "noticed_repaired", "noticed_failed", "unnoticed")
REASSIGNMENT_CAUSES = ("policy", "patient_request", "turnover")


@dataclass(slots=True, eq=False)
class Clinician:
    id: int
    team: int
    discipline: int  # index into the service's disciplines
    alliance_skill: float  # logit shift of every dyad's potential (the therapist effect)
    outcome_skill: float  # multiplier of patients' response rate
    detection_logit: float  # rupture detection skill, log-odds
    repair_logit: float  # rupture repair skill, log-odds
    rater_bias: float  # offset of this clinician's alliance ratings (0-1 units)
    style: tuple  # style vector; dyad fit is its match with the patient's
    caseload_cap: int
    comfortable_caseload: int
    start_day: float
    trained: bool = False
    caseload: int = 0
    max_caseload: int = 0  # highest caseload ever held (checked against the cap)
    strain: float = 0.0  # max(0, caseload - comfortable) / comfortable
    leave_day: float = NAN
    active: bool = True
    absent_until: float = -1.0  # day the current sickness absence ends (-1: never absent)
    absence_episodes: int = 0  # sickness-absence episodes started
    absence_days: float = 0.0  # days of sickness absence (within the run)
    sessions_cancelled: int = 0  # this clinician's sessions cancelled by absence
    sessions_covered: int = 0  # this clinician's sessions held by a colleague during absence
    patients_held: set = field(default_factory=set)


@dataclass(slots=True, eq=False)
class Patient:
    id: int
    referral_day: float
    group: str
    baseline_severity: float  # latent baseline (scale points)
    baseline_observed: float  # baseline questionnaire score
    severity: float  # current latent severity
    capacity_z: float
    sensitivity_z: float
    engagement_z: float
    response_rate: float  # fractional improvement per attended session (before alliance)
    rating_bias: float  # offset of this patient's alliance ratings (0-1 units)
    style: tuple
    max_sessions: int  # course length cap: attended sessions in the primary discipline, over all its dyads
    measured: bool
    renege_day: float
    first_session_day: float = NAN
    exit_day: float = NAN
    exit_reason: str = ""
    last_observed: float = NAN
    sessions_attended: int = 0
    dnas: int = 0
    contacts: int = 0
    consecutive_dnas: int = 0
    below_caseness: int = 0  # consecutive attended sessions scoring below caseness
    ruptures: int = 0
    ruptures_repaired: int = 0
    ruptures_reported: int = 0
    reassignments: int = 0
    primary_before: int = 0  # attended primary-discipline sessions in dyads that have ended
    alliance_patient_s3: float = NAN
    alliance_clinician_s3: float = NAN
    early_alliance_sum: float = 0.0  # patient-rated alliance summed over attended sessions 3-5
    early_alliance_n: int = 0
    first_clinician_id: int = -1
    team_alliance: float = 0.0  # weighted composite over the patient's dyads (drives DNA, dropout)
    unresolved: int = 0  # dyads with an unresolved rupture
    unresolved_share: float = 0.0  # team weight of the dyads with an unresolved rupture (scales its hazards)
    dyads: list = field(default_factory=list)  # current dyads, one per discipline at most
    started: bool = False
    in_care: bool = False
    exited: bool = False
    dyad_seq: list = field(default_factory=list)  # dyads created so far, per discipline
    team: int = 0
    queue_days: float = NAN  # referral to allocation (time on the waiting list)
    carried: dict = field(default_factory=dict)  # discipline -> team trust carried into its next dyad
    avoid: frozenset = frozenset()  # clinicians this patient was moved away from (not re-allocated)


@dataclass(slots=True, eq=False)
class Dyad:
    id: int
    patient: Patient
    clinician: Clinician
    discipline: int
    tape: Tape
    weight: float  # weight of this dyad in the team relationship
    start_day: float
    goals: float
    tasks: float
    bond: float
    potential_goals: float
    potential_tasks: float
    potential_bond: float
    alliance: float = 0.0  # composite (weighted mean of goals, tasks, bond)
    n: int = 0  # scheduled sessions so far (attended or DNA)
    attended: int = 0
    active: bool = True
    unresolved: bool = False
    unresolved_sessions: int = 0
    pre_rupture: Optional[tuple] = None  # components before the unresolved rupture
    open_ruptures: int = 0  # ruptures since the last resolution (a repair resolves them all)
    low_ratings: int = 0  # consecutive low patient ratings (alliance_threshold policy)
    last_patient_rating: float = NAN
