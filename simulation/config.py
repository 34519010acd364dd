"""Typed configuration schema.

Every parameter of the model lives here, with its meaning and unit. Hydra composes the
YAML files in ``configs/`` onto this schema (registered as ``schema``), so a key that is
not declared here is rejected and a value of the wrong type fails at composition time.
Range and cross-field checks live in :mod:`simulation.validate`.

Conventions: time in days unless a name says weeks; probabilities in [0, 1];
"logit" coefficients act on the log-odds scale; "z" means a standard-normal score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING


@dataclass
class DaskConfig:
    """Where ``run.backend=dask`` sends the chunks (scenario x replication)."""

    address: Optional[str] = None  # tcp://host:port of an existing Dask scheduler; None: start a local cluster
    local_workers: Optional[int] = None  # worker processes of a local cluster (None: run.workers)


@dataclass
class RunConfig:
    """How long, how often and where the simulation runs."""

    seed: int = 20240601  # master seed; every random stream derives from it
    replications: int = 5  # independent replications per scenario
    horizon_days: float = 730.0  # measured period after warm-up (days)
    warmup_days: float = 180.0  # warm-up (days); patients referred in it are not measured
    workers: int = 1  # local worker processes for replications (1 = serial)
    backend: str = "local"  # local | dask
    dask: DaskConfig = field(default_factory=DaskConfig)  # Dask cluster used when backend=dask
    progress: bool = True  # show a progress bar for multi-chunk runs
    name: str = "default"  # scenario name written into the tables
    max_memory_gb: Optional[float] = None  # refuse a run whose estimated memory exceeds this (None: 80% of this machine's RAM)
    parameters: str = "point"  # point: the calibrated values | posterior: replication r uses posterior draw r
    posterior: Optional[str] = None  # posterior file for parameters=posterior; None: calibration/posterior_<service.name>.parquet


@dataclass
class OutputConfig:
    """What a run writes."""

    sessions: bool = True  # keep the per-session table (large for big runs)
    stream_sessions: bool = False  # write the session table to Parquet part files while a replication runs (needs a run directory); keeps memory bounded
    stream_rows: int = 262144  # rows buffered before a part file is written (checked once per simulated week)
    timeseries_interval_days: float = 7.0  # sampling interval of the service time series
    format: str = "parquet"  # parquet | csv (table file format)
    dir: Optional[str] = None  # run directory; default: Hydra's output directory


@dataclass
class DisciplineConfig:
    """One clinical discipline in a team."""

    name: str = "therapist"
    count: int = 10  # clinicians of this discipline in the team (posts)
    caseload_cap: int = 20  # maximum patients held at once
    comfortable_caseload: int = 16  # caseload above which strain starts
    session_interval_days: float = 7.0  # days between scheduled sessions
    session_interval_max_days: Optional[float] = None  # if set, interval ~ U(min, max)
    treatment_effect: float = 1.0  # weight of this discipline's sessions on symptom change
    alliance_shift: float = 0.0  # logit shift of this discipline's dyad potentials (e.g. brief reviews)


@dataclass
class TeamConfig:
    """One team of a service described team by team (``service.team_list``): teams differ in size, demand and caps."""

    name: str = "team"  # label of the team (letters, digits, '_', '-', '.')
    referrals_per_week: float = 0.0  # this team's Poisson referral rate (patients / week)
    posts: dict[str, int] = field(default_factory=dict)  # posts per discipline name, e.g. {care_coordinator: 7, psychiatrist: 1}; a discipline left out has no post here
    caseload_caps: dict[str, int] = field(default_factory=dict)  # caseload cap per discipline name in this team; a discipline left out keeps service.disciplines[].caseload_cap


@dataclass
class ServiceConfig:
    """The service: its teams, referrals and waiting list."""

    name: str = "talking_therapy"
    clinicians: Optional[int] = 10  # clinicians in the primary discipline (the talking-therapy team); None: use disciplines[0].count
    referrals_per_week: float = 9.0  # Poisson referral rate (patients / week)
    first_appointment_delay_days: float = 7.0  # days from allocation to first session
    renege_per_week: float = 0.02  # hazard of leaving the waiting list (per week waited)
    disciplines: list[DisciplineConfig] = field(default_factory=lambda: [DisciplineConfig()])
    care_model: list[str] = field(default_factory=lambda: ["therapist"])  # disciplines a patient needs
    care_weights: list[float] = field(default_factory=lambda: [1.0])  # weight of each dyad in the team relationship
    teams: int = 1  # teams in the service (clinicians split evenly, referrals shared uniformly); with team_list: its length
    team_list: list[TeamConfig] = field(default_factory=list)  # teams one by one (own referrals, posts, caps); empty: `teams` equal teams. When set, each team's referrals and posts replace referrals_per_week and the disciplines' counts
    max_days_in_care: Optional[float] = None  # planned discharge after this many days (team models)


@dataclass
class AnxietyConfig:
    """The anxiety questionnaire (GAD-7) scored beside the severity scale, for IAPT's two-measure recovery."""

    scale: Optional[str] = None  # GAD-7, or None: no anxiety measure (recovery uses the severity scale alone)
    max: float = 21.0  # top of the anxiety scale (GAD-7: 7 items scored 0-3)
    mean: float = 12.5  # mean score at referral (IAPT referrals: about 12-13; plausible 10-15)
    sd: float = 4.5  # SD of the score at referral (plausible 4-5.5)
    correlation: float = 0.75  # correlation with the observed severity score at referral (Kroenke et al. 2010: ~0.75; plausible 0.55-0.85)
    measurement_sd: float = 2.0  # error of one questionnaire (points): SD x sqrt(1 - test-retest 0.83), Spitzer et al. 2006
    caseness: float = 8.0  # a case at this score or above (IAPT: GAD-7 >= 8)
    reliable_change: float = 4.0  # improvement (points) that counts as reliable (IAPT: GAD-7 >= 4)


@dataclass
class PopulationConfig:
    """Patients referred to the service (one group per run)."""

    group: str = "cmd"  # label: cmd (common mental disorder) | smi (severe mental illness)
    severity_scale: str = "PHQ-9"
    severity_max: float = 27.0  # top of the severity scale
    severity_mean: float = 16.0  # baseline severity mean (scale points)
    severity_sd: float = 4.5  # baseline severity SD (scale points)
    severity_min: float = 10.0  # referral threshold: baseline is at least this
    caseness: float = 10.0  # below this a patient is not a case
    reliable_change: float = 6.0  # improvement (points) that counts as reliable
    measurement_sd: float = 2.0  # measurement error of one questionnaire (points)
    capacity_logit_mean: float = 0.0  # relational capacity, logit mean
    capacity_logit_sd: float = 1.0  # relational capacity, logit SD
    sensitivity_logit_mean: float = 0.0  # interpersonal sensitivity: mean of its score (SD units; rupture.sensitivity acts per unit)
    sensitivity_logit_sd: float = 1.0  # interpersonal sensitivity: SD of its score (1 = a z-score, as calibrated for reference A)
    engagement_logit_mean: float = 0.0  # engagement: mean of its score (SD units; attendance.dna_engagement and dropout.engagement act per unit); 0 = reference A
    engagement_logit_sd: float = 1.0  # engagement: SD of its score (1 = a z-score, as calibrated for reference A)
    low_intensity_share: float = 0.5  # share stepped to a short course
    low_intensity_severity: float = 0.0  # stepped care: log-odds cut of the short course per SD of baseline severity
    max_sessions_low: int = 8  # course length cap, short course (attended sessions)
    max_sessions_high: int = 20  # course length cap, long course (attended sessions)
    preference_share: float = 0.0  # share of patients who prefer one of two clinician approaches (0 = no preferences; plausible 0.3-0.9)
    anxiety: AnxietyConfig = field(default_factory=AnxietyConfig)  # the anxiety measure (GAD-7) scored beside severity; off unless anxiety.scale is set


@dataclass
class ClinicianPopulationConfig:
    """How clinicians' skills vary (drawn once per clinician)."""

    alliance_skill_sd: float = 0.3  # between-clinician SD of alliance-building skill (logit)
    outcome_skill_sd: float = 0.15  # between-clinician SD of effectiveness (log response rate)
    detection_logit_mean: float = 0.0  # rupture detection skill, logit mean
    detection_logit_sd: float = 0.7  # rupture detection skill, logit SD
    repair_logit_mean: float = 0.0  # rupture repair skill, logit mean
    repair_logit_sd: float = 0.7  # rupture repair skill, logit SD
    rater_bias_mean: float = 0.0  # clinician rating offset (alliance units, 0-1 scale)
    rater_bias_sd: float = 0.08  # between-clinician SD of rating offset
    strain_growth_penalty: float = 0.5  # fractional cut in alliance growth per unit strain
    style_dims: int = 2  # dimensions of the style vector that sets dyad fit


@dataclass
class AllianceConfig:
    """Bordin's goals, tasks and bond: growth toward a dyad potential, and ratings."""

    weights: list[float] = field(default_factory=lambda: [1 / 3, 1 / 3, 1 / 3])  # goals, tasks, bond
    potential_intercept: float = 1.0  # logit of the potential for an average dyad
    potential_capacity: float = 0.6  # logit gain per SD of patient relational capacity
    fit_sd: float = 0.4  # SD of dyad fit (logit) from patient-clinician style match
    component_sd: float = 0.2  # SD of component-specific dyad offsets (logit)
    initial_share: float = 0.6  # initial alliance as a share of the potential
    growth_rate: float = 0.3  # share of the gap to potential closed per attended session
    noise_sd: float = 0.03  # session-to-session process noise (alliance units)
    symptom_feedback: float = 0.1  # potential gain per unit of fractional improvement
    reference: float = 0.6  # alliance level at which hazards take their intercept
    instrument: str = "WAI-SR"  # rating instrument: WAI-SR (item mean, 1-5) | STAR (total, 0-48; simulation.star); set by the config group instrument=wai_sr|star
    scale_min: float = 1.0  # instrument scale bottom
    scale_max: float = 5.0  # instrument scale top
    patient_bias_mean: float = 0.12  # patient rating offset (0-1 units) above latent
    patient_bias_sd: float = 0.1  # between-patient SD of rating offset
    patient_error_sd: float = 0.08  # patient per-session rating error (0-1 units)
    clinician_error_sd: float = 0.08  # clinician per-session rating error (0-1 units)
    transfer_share: float = 0.5  # share of team trust carried to a new clinician (assumed; plausible 0.2-0.8)
    preference_shift: float = 1.0  # logit shift of a dyad's potential: +half when the patient's preference is met, -half when not (fitted to Swift et al. 2018, dropout OR; see README)
    # The relationship with the team (issue 16; README "The relationship with the team"): a
    # patient-level state that moves toward the dyads' composite after each attended session
    # and is not reset when a clinician changes. 0 = off (reference A); B: 0.5 and 0.1.
    team_weight: float = 0.0  # weight w of the team relationship in what attendance, dropout and outcome read: w*team + (1-w)*dyads (plausible 0-0.7; Priebe & McCabe 2006, Gillespie et al. 2004)
    team_rate: float = 0.1  # share of the gap to the dyads' composite the team relationship closes per attended session (plausible 0.02-0.3: slower than a dyad's growth_rate)
    # The clinician's stable view of a relationship (README "STAR test-retest"; simulation/clinician_view.py):
    # share of the clinician's rating-error variance (clinician_error_sd^2) drawn once per dyad; the
    # per-session error keeps the rest, so the total is unchanged. 0 = off (reference A, bit-identical).
    clinician_stable_share: float = 0.0  # plausible 0-0.9; B fits it to STAR-C test-retest r = .68 (McGuire-Snieckus et al. 2007, target S6)


@dataclass
class InvoluntaryConfig:
    """Care under compulsion (a Community Treatment Order, Mental Health Act 1983 s.17A): who, for how long, its effects.

    Sources and plausible ranges: README "Involuntary care". 0 = no compulsion (reference A).
    """

    share: float = 0.0  # share of referrals under a CTO at referral (plausible 0-0.15; ~5,400 CTOs in England, NHS Digital 2016)
    potential_shift: float = -0.3  # logit shift of every dyad potential while under compulsion (plausible -0.8-0; Sheehan & Burns 2011, Theodoridou et al. 2012: coercion, poorer relationship)
    dna_shift: float = 0.0  # DNA log-odds added while under compulsion (plausible -1-0.5; OCTET: equal contact, Burns et al. 2013)
    dropout_shift: float = -0.5  # dropout log-odds added while under compulsion (plausible -2-0; s.17B conditions and s.17E recall; RCTs find no difference, Kisely et al. 2017)
    period_days: float = 182.5  # first period of a CTO and its first renewal (MHA 1983 s.20A: six months)
    later_period_days: float = 365.0  # each later renewal (MHA 1983 s.20A: a year)
    renewal_prob: float = 0.5  # chance a CTO is renewed at each expiry, else the patient becomes voluntary (plausible 0.3-0.8; OCTET median 183 days on CTO)


@dataclass
class AttendanceConfig:
    """DNA (did not attend) and discharge after repeated DNAs."""

    dna_intercept: float = -2.2  # log-odds of DNA for average engagement and alliance
    dna_engagement: float = 0.5  # log-odds cut per SD of engagement
    dna_alliance: float = 2.0  # log-odds cut per alliance unit above reference
    dna_unresolved: float = 0.5  # log-odds added while a rupture is unresolved
    dna_wait_per_week: float = 0.03  # first-appointment log-odds added per week waited
    consecutive_dna_discharge: int = 2  # consecutive DNAs that discharge the patient


@dataclass
class DropoutConfig:
    """Unilateral termination hazard after each session or DNA."""

    intercept: float = -4.5  # log-odds of dropout after a late session at reference alliance
    early_boost: float = 2.4  # log-odds added at the first contact
    early_decay: float = 1.0  # contacts over which the early boost decays (e-fold)
    alliance: float = 4.0  # log-odds cut per alliance unit above reference
    unresolved: float = 0.8  # log-odds added while a rupture is unresolved
    after_dna: float = 0.7  # log-odds added after a missed session
    wait_per_week: float = 0.02  # first-contact log-odds added per week waited
    engagement: float = 0.3  # log-odds cut per SD of engagement
    # One-off dropout probability at a move, by its cause (the draw is the failed dyad's tape
    # slot, so the same patients drop out in every scenario with the same risk). Sources and
    # plausible ranges: README "Transition costs".
    transition_patient_request: float = 0.03  # a move the patient asked for (plausible 0-0.10; patients granted a change mostly stay)
    transition_policy: float = 0.1  # a move the service made for a failing relationship (plausible 0-0.30; no direct study)
    transition_turnover: float = 0.2  # a forced move: the clinician left (plausible 0.05-0.40; Tantam & Klerman 1979, Wapner et al. 1986)


@dataclass
class OutcomeConfig:
    """Symptom change per attended session."""

    response_rate: float = 0.05  # mean fractional improvement per attended session
    response_sd: float = 0.6  # between-patient SD of log response rate
    alliance_effect: float = 2.0  # log response-rate gain per alliance unit above reference
    unresolved_response: float = 0.0  # log response-rate cut while a rupture is unresolved (the work stalls)
    noise_sd: float = 1.0  # session-to-session symptom noise (points)
    sudden_gain_prob: float = 0.02  # chance of a sudden gain at an attended session
    sudden_gain_share: float = 0.25  # share of current severity lost in a sudden gain
    min_sessions_recovery_discharge: int = 2  # earliest attended session for a recovery discharge
    caseness_discharge_after: int = 0  # planned discharge after this many consecutive scores below caseness, even without reliable change (0 = only on reliable recovery)


@dataclass
class RuptureConfig:
    """Rupture occurrence, detection and repair (see simulation.rupture)."""

    model: str = "standard"  # registry name: standard | none
    intercept: float = -2.2  # log-odds of a rupture at an average session
    sensitivity: float = 0.6  # log-odds per SD of patient interpersonal sensitivity
    strain: float = 0.8  # log-odds per unit clinician strain
    alliance: float = 3.0  # log-odds cut per alliance unit above reference
    withdrawal_share: float = 0.6  # share of ruptures that are withdrawals
    severity_min: float = 0.05  # smallest drop in a hit component (alliance units)
    severity_max: float = 0.25  # largest drop in a hit component (alliance units)
    withdrawal_impact: list[float] = field(default_factory=lambda: [0.8, 1.0, 0.3])  # goals, tasks, bond
    confrontation_impact: list[float] = field(default_factory=lambda: [0.3, 0.3, 1.0])  # goals, tasks, bond
    withdrawal_detect_factor: float = 0.6  # detection odds multiplier for withdrawals
    repair_reserve: float = 1.0  # weight of the alliance reserve in repair success
    repair_gain: float = 0.05  # alliance gain above pre-rupture level after repair
    erosion: float = 0.02  # per-session alliance loss while unresolved
    later_repair_decay: float = 0.7  # repair odds multiplier per session unresolved
    report_prob: float = 0.7  # chance a patient reports a rupture that happened
    false_report_prob: float = 0.02  # chance a patient reports one that did not
    # Repair as a corrective experience (Safran & Muran 2000): the dyad's FIRST successful repair.
    # Off (0) by default; a one-way mechanism (it can only lower ruptures and raise the bond).
    # Direct evidence is for the association only: rupture resolution and outcome r = .29
    # (Eubanks, Muran & Safran 2018, Psychotherapy 55:508, meta-analysis; r = .24, k = 3, in
    # Safran et al. 2011); rupture-repair episodes and more improvement (Strauss et al. 2006, JCCP
    # 74:337; Stiles et al. 2004, J Couns Psychol 51:81, V-shaped). Both sizes below are assumptions.
    corrective_propensity: float = 0.0  # log-odds cut of the dyad's later rupture odds; plausible 0-0.7 (OR 1-0.5)
    corrective_bond: float = 0.0  # bond and bond potential raised beyond pre-rupture; plausible 0-0.1 (0-1 units)


@dataclass
class InterventionConfig:
    """Rupture-repair training, routine outcome monitoring and DIALOG: the scenario knobs of ``intervention=``."""

    training_share: float = 0.0  # share of clinicians trained in rupture repair (drawn per clinician)
    training_detection_gain: float = 1.0  # detection logit gain from training
    training_repair_gain: float = 1.0  # repair logit gain from training
    monitoring_every: int = 0  # routine outcome monitoring: feedback every k attended sessions (0 = off)
    monitoring_detection_gain: float = 1.0  # detection logit gain at a feedback session
    # DIALOG structured assessment (MECCA, Priebe et al. 2007 Br J Psychiatry 191:420); off at 0.
    dialog_every_days: float = 0.0  # a DIALOG session at the first attended primary session this many days after the last (0 = off)
    dialog_share: float = 1.0  # share of clinicians using DIALOG (drawn per clinician; 0.5 in the emulated trial)
    dialog_goals_gain: float = 0.0  # share of the gap to full goal agreement closed in the dyad potential per DIALOG session
    dialog_tasks_gain: float = 0.0  # the same for agreement on tasks
    dialog_mansa_gain: float = 0.0  # MANSA points per DIALOG session held (needs addressed; fitted to MECCA)
    # Follow-up assessments (simulation/assessment.py; only in runs with DIALOG configured).
    # Levels: DIALOG scale in East London (BMC Health Serv Res 2020, doi 10.1186/s12913-020-05840-z;
    # 5,646 patients): life items mean 4.65 (SD 1.1), treatment items 5.25 (SD 1.17). DIALOG's
    # 8 life items correlate 0.94 with the full MANSA (Golden & Priebe, "DIALOG and DIALOG+",
    # slides on the scale's psychometrics). Slopes: assumptions (see each).
    mansa_mean: float = 4.65  # MANSA (1-7) of a patient at the population's mean baseline severity
    mansa_per_severity_sd: float = -0.3  # MANSA points per population SD of latent severity: r about -0.3 (assumption; symptoms-QoL r -0.2 to -0.4, Eack & Newhill 2007 Schizophr Bull 33:1225)
    mansa_sd: float = 1.0  # residual SD of MANSA (total SD about 1.05, East London 1.1)
    satisfaction_mean: float = 5.25  # treatment satisfaction (1-7, DIALOG's treatment items) at the reference alliance
    satisfaction_per_alliance: float = 3.0  # satisfaction points per unit (0-1 scale) of latent alliance above the reference (assumption, plausible 0-6)
    satisfaction_sd: float = 1.1  # residual SD of treatment satisfaction (total SD East London 1.17)
    # DIALOG's direct route to treatment satisfaction (requests about the care acted on); off at 0.
    dialog_satisfaction_gain: float = 0.0  # treatment-satisfaction points per DIALOG session held (assumption, plausible 0-0.1; not fitted)


@dataclass
class AllianceThresholdConfig:
    """Parameters of the ``alliance_threshold`` reassignment policy (``policy.alliance_threshold.*``)."""

    threshold: float = 3.0  # patient-rated alliance cut (instrument scale)
    consecutive: int = 3  # consecutive measurements below the threshold that trigger a move
    measure_every: int = 1  # measure at every k-th attended session of a dyad


@dataclass
class UnresolvedRuptureConfig:
    """Parameters of the ``unresolved_rupture`` reassignment policy (``policy.unresolved_rupture.*``)."""

    unresolved_sessions: int = 3  # attended sessions a rupture stays unresolved before a move


@dataclass
class PatientRequestConfig:
    """Parameters of the ``patient_request`` reassignment policy (``policy.patient_request.*``)."""

    threshold: float = 3.0  # patient-rated alliance (instrument scale) at which a request has log-odds request_intercept
    request_intercept: float = -5.0  # log-odds of a request at the threshold
    request_slope: float = 1.0  # log-odds per scale point below the threshold


@dataclass
class PolicyConfig:
    """Policies behind registries (see simulation.policies); each reassignment policy has its own section."""

    allocation: str = "least_loaded"  # least_loaded | random | round_robin | matched
    matching_accuracy: float = 0.5  # correlation of the fit estimate with true fit (matched)
    reassignment: str = "continuity"  # continuity | alliance_threshold | unresolved_rupture | patient_request
    alliance_threshold: AllianceThresholdConfig = field(default_factory=AllianceThresholdConfig)
    unresolved_rupture: UnresolvedRuptureConfig = field(default_factory=UnresolvedRuptureConfig)
    patient_request: PatientRequestConfig = field(default_factory=PatientRequestConfig)
    on_leave: str = "reassign"  # reassign | hold: a departing clinician's patients
    reassignment_allocation: str = "least_loaded"  # who takes a moved patient: least_loaded | random | matched (uses the failed dyad's ratings) | as_allocation (policy.allocation's rule, referral information only)
    handover: bool = False  # a joint handover session with the outgoing clinician at every move that has one (not on_leave=hold)
    handover_risk_ratio: float = 0.5  # transition dropout risk multiplied by this with a handover (plausible 0.3-1.0)
    preference_accuracy: float = 0.0  # share of patients whose approach preference allocation learns and honours when a matching clinician is free (0 = preferences ignored)
    handover_transfer_share: float = 0.7  # share of team trust carried to the new clinician with a handover (alliance.transfer_share without; plausible 0.5-0.9)
    reassignment_priority: bool = True  # reassigned patients go before new referrals in the queue


@dataclass
class TurnoverConfig:
    """Staff turnover and sickness absence."""

    annual_rate: float = 0.0  # leavers per clinician-year in post (HR turnover rate; exponential tenure)
    recruitment_delay_days: float = 90.0  # days a post stays vacant before the replacement starts
    absence_per_year: float = 0.0  # sickness-absence episodes per clinician-year
    absence_mean_days: float = 10.0  # mean length of an absence episode (days)
    absence_cover: bool = False  # a present colleague (same team, discipline) holds sessions during absence; else cancelled


@dataclass
class CostConfig:
    """Unit costs that turn a run's staffing into money (cost KPIs, simulation.costs); figures in GBP."""

    price_year: str = "2013-14"  # price base of the figures below (label printed with the costs)
    # GBP per post-year (salary + on-costs + overheads + capital), per discipline name. Default: the
    # CMHT average per team member, Curtis (2014) Unit Costs of Health and Social Care 2014, p. 218.
    annual_cost_per_post: dict[str, float] = field(default_factory=lambda: {
        "therapist": 58281.0, "care_coordinator": 58281.0, "psychiatrist": 58281.0})
    default_annual_cost_per_post: float = 58281.0  # GBP per post-year of a discipline not listed above


@dataclass
class StarConfig:
    """How STAR-P and STAR-C totals and items are scored from the session's ratings (``alliance.instrument=STAR``; simulation.star)."""

    item_sd: float = 0.6  # SD of one item's score around its subscale's level (item points, 0-4 items); assumed, plausible 0.3-1.0 (README "STAR")
    # The STAR scale's own measurement model (README "STAR"): how far a rater's view of the
    # relationship (the session rating, 0-1 of the scale) shows on STAR. A total is scored
    # from 1 - slope x (1 - rating), i.e. STAR shows `slope` of a shortfall from a perfect
    # relationship: STAR's positively worded frequency items pile ratings towards the top
    # (published means 75-80% of the maximum: Coffey et al. 2019; Sweeney et al. 2014).
    # 1 = no compression (the rating as is). Both references keep 1 (a STAR-C 0.32 fitted to S4 was dropped; README "STAR").
    patient_slope: float = 1.0  # STAR-P: share of the patient's rating shortfall that shows on STAR (plausible 0.2-1; 1 = none; B keeps 1: STAR-P test-retest .76, McGuire-Snieckus et al. 2007)
    clinician_slope: float = 1.0  # STAR-C: share of the clinician's rating shortfall that shows on STAR (plausible 0.2-1; 1 = none, in both references: S4, STAR-C's spread between staff, is validation)


@dataclass
class TherapistDropoutConfig:
    """A clinician's own effect on patients' dropout, beyond the alliance (validation target V1; schema default off, on in A)."""

    # SD of each clinician's shift of the per-contact dropout log-odds (0 = off: the schema default and B; A sets 0.45).
    # Sourced value 0.45, plausible 0.39-0.53: therapists explain 5.7% (Zimmermann, Rubel, Page &
    # Lutz 2017, Clin Psychol Psychother 24:312; 707 patients, 66 therapists) to 9.5% (Xiao et al.
    # 2017, J Couns Psychol 64:424; 10,147 clients, 481 therapists) of dropout variance on the
    # latent scale, a patient-level SD of 0.44-0.59 (sqrt(ICC/(1-ICC) pi^2/3)); a per-contact
    # shift moves a ~20% course dropout's log-odds by ~1.1x as much. Independent of V1's study.
    logit_sd: float = 0.0


@dataclass
class Config:
    """The whole configuration of one scenario."""

    run: RunConfig = field(default_factory=RunConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    clinicians: ClinicianPopulationConfig = field(default_factory=ClinicianPopulationConfig)
    alliance: AllianceConfig = field(default_factory=AllianceConfig)
    attendance: AttendanceConfig = field(default_factory=AttendanceConfig)
    dropout: DropoutConfig = field(default_factory=DropoutConfig)
    outcome: OutcomeConfig = field(default_factory=OutcomeConfig)
    rupture: RuptureConfig = field(default_factory=RuptureConfig)
    intervention: InterventionConfig = field(default_factory=InterventionConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    turnover: TurnoverConfig = field(default_factory=TurnoverConfig)
    costs: CostConfig = field(default_factory=CostConfig)
    involuntary: InvoluntaryConfig = field(default_factory=InvoluntaryConfig)
    experiment: Optional[str] = None  # name of a file in experiments/ (None: one scenario)
    star: StarConfig = field(default_factory=StarConfig)  # STAR item scoring (used when alliance.instrument=STAR)
    therapist_dropout: TherapistDropoutConfig = field(default_factory=TherapistDropoutConfig)  # V1 mechanism, off


def register_schema() -> None:
    """Register the schema with Hydra's ConfigStore as ``schema``."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="schema", node=Config)


def to_config(cfg: Any) -> Config:
    """Turn a composed DictConfig into a plain typed :class:`Config`."""
    from omegaconf import OmegaConf

    if isinstance(cfg, Config):
        return cfg
    container = OmegaConf.to_container(cfg, resolve=True, structured_config_mode=None)
    container.pop("hydra", None)
    return _from_dict(Config, container)


def _from_dict(cls: type, data: dict) -> Any:
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = _from_dict(hint, value)
        elif typing.get_origin(hint) is list and value is not None:
            (item,) = typing.get_args(hint)
            if dataclasses.is_dataclass(item):
                value = [_from_dict(item, v) if isinstance(v, dict) else v for v in value]
            else:
                value = list(value)
        kwargs[f.name] = value
    return cls(**kwargs)


__all__ = ["Config", "register_schema", "to_config", "MISSING"]
