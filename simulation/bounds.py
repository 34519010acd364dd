"""Hard bounds and plausible ranges of every numeric config key, in one table keyed by dataclass field.

Two ranges per number:

* the **hard range** is what the model can compute: integers the compiled code holds
  (C ``long`` fields, 32-bit ids in the session table) and floats for which the model's
  arithmetic stays finite. The logit terms of the alliance potential, for example, are
  bounded so that ``intercept + capacity·z + skill + fit + shift + component`` stays far
  inside ``exp()``'s range (|x| < 709) for normal draws up to 6 SD. A value outside it is
  refused (:class:`~simulation.errors.ConfigError`, exit 2).
* the **plausible range** is where published services and the calibration sources put
  the value (the per-key comment in ``simulation/config.py`` and the README say why); a
  value outside it is run, but prints a warning naming the key, the value and the likely
  intent (a percentage typed for a proportion, years typed for days).

Entries are keyed ``"ClassName.field"`` or, for a field name used once in the schema,
by the bare ``"field"``, so a key that moves to another section keeps its bounds.
``tests/test_bounds.py`` fails if a numeric field of the schema has no entry, or an entry
matches no field. ``python -m simulation.bounds`` prints the README table.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Optional

INT32 = 2 ** 31 - 1  # session-table ids and session indices are C ints (recorder.ROW)
INT64 = 2 ** 63 - 1  # counters in the compiled agents are C longs (entities.pxd)


class ImplausibleValue(UserWarning):
    """A value the model can run but that lies far outside its documented plausible range."""


@dataclass(frozen=True)
class Bound:
    """Hard range (refused outside), plausible range (warned outside) and the unit of one key."""

    lo: float
    hi: float
    plausible: tuple[float, float]
    unit: str
    intent: str = ""  # "percent": 10 was likely 10% | "per_year": a yearly rate typed as percent | "years": days
    lo_open: bool = False  # the hard range excludes lo

    def hard_text(self) -> str:
        """The hard range in interval notation."""
        return f"{'(' if self.lo_open else '['}{_num(self.lo)}, {_num(self.hi)}]"


def _num(v: float) -> str:
    if isinstance(v, int) and abs(v) >= 10 ** 6:
        return f"{v:.3g}" if v not in (INT32, INT64) else ("2^31-1" if v == INT32 else "2^63-1")
    return f"{v:g}"


P = (0.0, 1.0)
# Intercepts that only reach a safe logistic (C exp, or a branch on the sign) may be large:
# tests and users set +-60 for "never" and "always".
LOGIT_MEAN = Bound(-100.0, 100.0, (-5.0, 5.0), "log-odds")
LOGIT_COEF = Bound(-20.0, 20.0, (-5.0, 5.0), "log-odds per unit")
LOGIT_SD = Bound(0.0, 5.0, (0.0, 3.0), "log-odds SD")
PROB = Bound(0.0, 1.0, P, "probability", "percent")
SHARE = Bound(0.0, 1.0, P, "share", "percent")
COUNT_SESSIONS = Bound(1, 10_000, (1, 300), "sessions")
DAYS = Bound(0.0, 100_000.0, (0.0, 730.0), "days", "years")
SCORE = Bound(0.0, 1e6, (0.0, 1000.0), "scale points")
ALLIANCE_SD = Bound(0.0, 10.0, (0.0, 0.5), "alliance units (0-1 scale)")
# One entry for keys that are the same quantity for sibling hazards or paired keys.
PROCESSES = Bound(1, 256, (1, 64), "processes")
HAZARD_INTERCEPT = Bound(-100.0, 100.0, (-10.0, 2.0), "log-odds")  # per-contact DNA, dropout and rupture
HAZARD_ALLIANCE = Bound(-50.0, 50.0, (-10.0, 10.0), "log-odds per alliance unit")
HAZARD_WAIT = Bound(-5.0, 5.0, (-0.5, 0.5), "log-odds per week waited")
RUPTURE_SEVERITY = Bound(0.0, 1.0, (0.0, 0.5), "alliance units (0-1 scale)")
RUPTURE_IMPACT = Bound(0.0, 10.0, (0.0, 2.0), "multiplier of severity")
DIALOG_GAIN = Bound(0.0, 1.0, (0.0, 0.3), "share of the gap to full agreement", "percent")

BOUNDS: dict[str, Bound] = {
    # run
    "seed": Bound(0, INT64, (0, INT64), "master seed"),
    "replications": Bound(1, 100_000, (1, 1000), "replications per scenario"),
    "horizon_days": Bound(0.0, 100_000.0, (30.0, 3650.0), "days", "years", lo_open=True),
    "warmup_days": Bound(0.0, 100_000.0, (0.0, 3650.0), "days", "years"),
    "workers": PROCESSES,
    "local_workers": PROCESSES,
    "max_memory_gb": Bound(0.0, 1e6, (0.1, 1e6), "GB", lo_open=True),
    # output
    "stream_rows": Bound(1000, 100_000_000, (10_000, 10_000_000), "rows"),
    "timeseries_interval_days": Bound(0.01, 100_000.0, (1.0, 92.0), "days"),
    # service
    "clinicians": Bound(1, 100_000, (1, 500), "clinicians"),
    "referrals_per_week": Bound(0.0, 100_000.0, (0.0, 1000.0), "patients per week"),
    "first_appointment_delay_days": DAYS,
    "renege_per_week": Bound(0.0, 1000.0, (0.0, 1.0), "hazard per week waited", "percent"),
    "teams": Bound(1, 10_000, (1, 50), "teams"),
    "max_days_in_care": Bound(0.0, 100_000.0, (7.0, 3650.0), "days", "years", lo_open=True),
    # service.disciplines[]
    "count": Bound(0, 100_000, (0, 500), "clinicians"),
    "caseload_cap": Bound(1, 1_000_000, (1, 500), "patients"),
    "comfortable_caseload": Bound(1, 1_000_000, (1, 500), "patients"),
    "session_interval_days": Bound(0.01, 10_000.0, (1.0, 180.0), "days"),
    "session_interval_max_days": Bound(0.01, 10_000.0, (1.0, 365.0), "days"),
    "treatment_effect": Bound(0.0, 100.0, (0.0, 3.0), "weight"),
    "alliance_shift": Bound(-20.0, 20.0, (-5.0, 5.0), "log-odds"),
    # population
    "severity_max": Bound(0.0, 1e6, (1.0, 1000.0), "scale points", lo_open=True),
    "severity_mean": SCORE,
    "severity_sd": SCORE,
    "PopulationConfig.severity_min": SCORE,
    "caseness": SCORE,
    "reliable_change": Bound(0.0, 1e6, (0.0, 1000.0), "scale points", lo_open=True),
    "measurement_sd": SCORE,
    # capacity enters the alliance potential (exp() argument), so its range is narrower
    "capacity_logit_mean": Bound(-10.0, 10.0, (-3.0, 3.0), "log-odds"),
    "capacity_logit_sd": Bound(0.0, 3.0, (0.0, 2.0), "log-odds SD"),
    "sensitivity_logit_mean": LOGIT_MEAN,
    "sensitivity_logit_sd": LOGIT_SD,
    "engagement_logit_mean": LOGIT_MEAN,
    "engagement_logit_sd": LOGIT_SD,
    "low_intensity_share": SHARE,
    "low_intensity_severity": Bound(0.0, 20.0, (0.0, 5.0), "log-odds per SD of severity"),
    "max_sessions_low": COUNT_SESSIONS,
    "max_sessions_high": COUNT_SESSIONS,
    # population.anxiety (GAD-7): IAPT referral mean about 12-13, SD 4-5.5; PHQ-9 correlation 0.55-0.85
    # (Kroenke et al. 2010, Löwe et al. 2008); caseness 8 and reliable change 4 (IAPT manual)
    "AnxietyConfig.max": Bound(0.0, 1e6, (1.0, 1000.0), "scale points", lo_open=True),
    "AnxietyConfig.mean": Bound(0.0, 1e6, (10.0, 15.0), "scale points"),
    "AnxietyConfig.sd": Bound(0.0, 1e6, (4.0, 5.5), "scale points"),
    "AnxietyConfig.correlation": Bound(-1.0, 1.0, (0.55, 0.85), "correlation"),
    "AnxietyConfig.measurement_sd": Bound(0.0, 1e6, (1.0, 3.0), "scale points"),
    "AnxietyConfig.caseness": Bound(0.0, 1e6, (5.0, 15.0), "scale points"),
    "AnxietyConfig.reliable_change": Bound(0.0, 1e6, (3.0, 6.0), "scale points", lo_open=True),
    # clinicians
    "alliance_skill_sd": Bound(0.0, 3.0, (0.0, 1.5), "log-odds SD"),
    "outcome_skill_sd": Bound(0.0, 3.0, (0.0, 1.0), "log response-rate SD"),
    "detection_logit_mean": LOGIT_MEAN,
    "detection_logit_sd": LOGIT_SD,
    "repair_logit_mean": LOGIT_MEAN,
    "repair_logit_sd": LOGIT_SD,
    "rater_bias_mean": Bound(-1.0, 1.0, (-0.5, 0.5), "alliance units (0-1 scale)"),
    "rater_bias_sd": ALLIANCE_SD,
    "strain_growth_penalty": Bound(0.0, 100.0, (0.0, 5.0), "share per unit strain"),
    "style_dims": Bound(1, 4, (1, 4), "dimensions"),
    # alliance
    "AllianceConfig.weights": SHARE,
    "potential_intercept": Bound(-20.0, 20.0, (-5.0, 5.0), "log-odds"),
    "potential_capacity": Bound(-10.0, 10.0, (-3.0, 3.0), "log-odds per SD"),
    "fit_sd": Bound(0.0, 3.0, (0.0, 2.0), "log-odds SD"),
    "component_sd": Bound(0.0, 3.0, (0.0, 2.0), "log-odds SD"),
    "initial_share": SHARE,
    "growth_rate": SHARE,
    "AllianceConfig.noise_sd": ALLIANCE_SD,
    "symptom_feedback": Bound(0.0, 100.0, (0.0, 2.0), "potential gain per unit improvement"),
    "reference": Bound(0.0, 1.0, P, "alliance units (0-1 scale)"),
    "scale_min": Bound(-1e6, 1e6, (-100.0, 1000.0), "instrument points"),
    "scale_max": Bound(-1e6, 1e6, (-100.0, 1000.0), "instrument points"),
    "patient_bias_mean": Bound(-1.0, 1.0, (-0.5, 0.5), "alliance units (0-1 scale)"),
    "patient_bias_sd": ALLIANCE_SD,
    "patient_error_sd": ALLIANCE_SD,
    "clinician_error_sd": ALLIANCE_SD,
    "transfer_share": SHARE,
    # the relationship with the team (issue 16; README "The relationship with the team")
    "team_weight": Bound(0.0, 1.0, (0.0, 0.7), "weight of the team relationship", "percent"),
    "team_rate": Bound(0.0, 1.0, (0.02, 0.3), "share of the gap closed per attended session", "percent"),
    # the clinician's stable view of a relationship (README "STAR test-retest")
    "clinician_stable_share": Bound(0.0, 1.0, (0.0, 0.9), "share of the clinician's rating-error variance", "percent"),
    # attendance
    "dna_intercept": HAZARD_INTERCEPT,
    "dna_engagement": LOGIT_COEF,
    "dna_alliance": HAZARD_ALLIANCE,
    "dna_unresolved": LOGIT_COEF,
    "dna_wait_per_week": HAZARD_WAIT,
    "consecutive_dna_discharge": Bound(1, 10_000, (1, 10), "DNAs"),
    # dropout
    "DropoutConfig.intercept": HAZARD_INTERCEPT,
    "early_boost": LOGIT_COEF,
    "early_decay": Bound(0.0, 10_000.0, (0.1, 50.0), "contacts", lo_open=True),
    "DropoutConfig.alliance": HAZARD_ALLIANCE,
    "DropoutConfig.unresolved": LOGIT_COEF,
    "after_dna": LOGIT_COEF,
    "wait_per_week": HAZARD_WAIT,
    "engagement": LOGIT_COEF,
    # one-off dropout risk of a move, by cause (README "Transition costs" gives the narrower sourced ranges)
    "transition_patient_request": Bound(0.0, 1.0, (0.0, 0.5), "probability", "percent"),
    "transition_policy": Bound(0.0, 1.0, (0.0, 0.5), "probability", "percent"),
    "transition_turnover": Bound(0.0, 1.0, (0.0, 0.7), "probability", "percent"),
    # outcome
    "response_rate": Bound(0.0, 1.0, (0.0, 0.5), "share of severity per session", "percent"),
    "response_sd": Bound(0.0, 5.0, (0.0, 2.0), "log response-rate SD"),
    "alliance_effect": Bound(-50.0, 50.0, (-10.0, 10.0), "log response rate per alliance unit"),
    "unresolved_response": Bound(0.0, 50.0, (0.0, 5.0), "log response rate"),
    "OutcomeConfig.noise_sd": Bound(0.0, 1e6, (0.0, 20.0), "scale points"),
    "sudden_gain_prob": Bound(0.0, 1.0, (0.0, 0.3), "probability", "percent"),
    "sudden_gain_share": SHARE,
    "min_sessions_recovery_discharge": Bound(0, 10_000, (0, 50), "sessions"),
    "caseness_discharge_after": Bound(0, 10_000, (0, 50), "sessions"),
    # rupture
    "RuptureConfig.intercept": HAZARD_INTERCEPT,
    "sensitivity": LOGIT_COEF,
    "strain": LOGIT_COEF,
    "RuptureConfig.alliance": HAZARD_ALLIANCE,
    "withdrawal_share": SHARE,
    "RuptureConfig.severity_min": RUPTURE_SEVERITY,
    "RuptureConfig.severity_max": RUPTURE_SEVERITY,
    "withdrawal_impact": RUPTURE_IMPACT,
    "confrontation_impact": RUPTURE_IMPACT,
    "withdrawal_detect_factor": Bound(0.0, 1e6, (0.05, 20.0), "odds multiplier", lo_open=True),
    "repair_reserve": Bound(0.0, 100.0, (0.0, 5.0), "weight"),
    "repair_gain": Bound(0.0, 1.0, (0.0, 0.3), "alliance units (0-1 scale)"),
    "erosion": Bound(0.0, 1.0, (0.0, 0.2), "alliance units per session"),
    "later_repair_decay": SHARE,
    "report_prob": PROB,
    "false_report_prob": Bound(0.0, 1.0, (0.0, 0.3), "probability", "percent"),
    "corrective_propensity": Bound(0.0, 20.0, (0.0, 0.7), "log-odds"),
    "corrective_bond": Bound(0.0, 1.0, (0.0, 0.1), "alliance units (0-1 scale)"),
    # intervention (training and monitoring; bare names follow the keys if they move)
    "training_share": SHARE,
    "training_detection_gain": LOGIT_COEF,
    "training_repair_gain": LOGIT_COEF,
    "monitoring_every": Bound(0, 10_000, (0, 20), "sessions"),
    "monitoring_detection_gain": LOGIT_COEF,
    # DIALOG structured assessment and the follow-up outcomes (MANSA, satisfaction: 1-7 items)
    "dialog_every_days": Bound(0.0, 1e5, (0.0, 120.0), "days", "years"),
    "dialog_share": SHARE,
    "dialog_goals_gain": DIALOG_GAIN,
    "dialog_tasks_gain": DIALOG_GAIN,
    "dialog_mansa_gain": Bound(-6.0, 6.0, (0.0, 0.2), "MANSA points per DIALOG session"),
    "mansa_mean": Bound(1.0, 7.0, (3.5, 5.5), "MANSA points (1-7)"),
    "mansa_per_severity_sd": Bound(-6.0, 6.0, (-0.6, 0.0), "MANSA points per severity SD"),
    "mansa_sd": Bound(0.0, 6.0, (0.5, 1.2), "MANSA points"),
    "satisfaction_mean": Bound(1.0, 7.0, (4.0, 6.5), "satisfaction points (1-7)"),
    "satisfaction_per_alliance": Bound(-60.0, 60.0, (0.0, 6.0), "points per alliance unit (0-1 scale)"),
    "satisfaction_sd": Bound(0.0, 6.0, (0.5, 1.5), "satisfaction points"),
    "dialog_satisfaction_gain": Bound(-6.0, 6.0, (0.0, 0.1), "satisfaction points per DIALOG session"),
    # policy (bare names follow the keys into per-policy sections)
    "matching_accuracy": Bound(0.0, 1.0, P, "correlation", "percent"),
    "handover_risk_ratio": Bound(0.0, 1.0, (0.1, 1.0), "ratio of transition risks", "percent"),
    "handover_transfer_share": SHARE,
    "preference_accuracy": SHARE,
    "preference_share": SHARE,
    "preference_shift": Bound(0.0, 20.0, (0.0, 3.0), "log-odds"),
    "threshold": Bound(-1e6, 1e6, (-100.0, 1000.0), "instrument points"),
    "consecutive": Bound(1, 10_000, (1, 20), "measurements"),
    "measure_every": Bound(1, 10_000, (1, 20), "sessions"),
    "unresolved_sessions": Bound(1, 10_000, (1, 20), "sessions"),
    "request_slope": Bound(0.0, 50.0, (0.0, 10.0), "log-odds per scale point"),
    "request_intercept": Bound(-100.0, 100.0, (-15.0, 0.0), "log-odds"),
    # turnover
    "annual_rate": Bound(0.0, 12.0, (0.0, 0.6), "leavers per clinician-year", "per_year"),
    "recruitment_delay_days": DAYS,
    "absence_per_year": Bound(0.0, 365.0, (0.0, 12.0), "episodes per clinician-year"),
    "absence_mean_days": Bound(0.0, 10_000.0, (1.0, 180.0), "days", lo_open=True),
    # involuntary care (README "Involuntary care")
    "InvoluntaryConfig.share": Bound(0.0, 1.0, (0.0, 0.15), "share of referrals", "percent"),
    "InvoluntaryConfig.potential_shift": Bound(-10.0, 10.0, (-0.8, 0.0), "log-odds"),
    "InvoluntaryConfig.dna_shift": Bound(-20.0, 20.0, (-1.0, 0.5), "log-odds"),
    "InvoluntaryConfig.dropout_shift": Bound(-20.0, 20.0, (-2.0, 0.0), "log-odds"),
    "InvoluntaryConfig.period_days": Bound(0.0, 100_000.0, (28.0, 365.0), "days", "years", lo_open=True),
    "InvoluntaryConfig.later_period_days": Bound(0.0, 100_000.0, (28.0, 730.0), "days", "years", lo_open=True),
    "InvoluntaryConfig.renewal_prob": Bound(0.0, 1.0, (0.3, 0.8), "probability", "percent"),
    # service.care_weights (a list, each item)
    "care_weights": SHARE,
    # costs: a post-year of NHS mental-health staff (salary, on-costs, overheads) runs from about
    # 35,000 (band 5 nurse) to about 200,000 GBP (consultant psychiatrist) in recent unit-cost tables
    "default_annual_cost_per_post": Bound(0.0, 1e7, (20_000.0, 250_000.0), "GBP per post-year"),
    # STAR item scoring (simulation/star.py): item noise in item points (items 0-4); plausible
    # 0.3-1.0 keeps a 6-item subscale's internal consistency in the usual range (README "STAR")
    "item_sd": Bound(0.0, 4.0, (0.3, 1.0), "item points (STAR items 0-4)"),
    # STAR's own scale (simulation/star.py): the share of a rater's shortfall from a perfect
    # relationship that shows on STAR; 1 = none compressed, 0 would score every relationship 48.
    # Plausible 0.2-1: below 0.2 a rater's worst rating would still score above 38 of 48.
    "patient_slope": Bound(0.0, 1.0, (0.2, 1.0), "share of the rating's shortfall", lo_open=True),
    "clinician_slope": Bound(0.0, 1.0, (0.2, 1.0), "share of the rating's shortfall", lo_open=True),
    # A clinician's own dropout log-odds shift (simulation/therapist_dropout.py, validation target V1): off
    # (0) by default; sourced 0.45, plausible up to 0.6 (Zimmermann et al. 2017; Xiao et al. 2017).
    "TherapistDropoutConfig.logit_sd": Bound(0.0, 5.0, (0.0, 0.6), "per-contact dropout log-odds SD"),
}


def bound_for(cls: type, name: str) -> Optional[Bound]:
    """The entry of field ``name`` of dataclass ``cls`` ("Class.field" first, then the bare name)."""
    return BOUNDS.get(f"{cls.__name__}.{name}") or BOUNDS.get(name)


def _is_number(hint: Any) -> bool:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union and len(args) == 1:
        hint = args[0]
    if typing.get_origin(hint) is list:
        hint = (typing.get_args(hint) or (None,))[0]
    return hint in (int, float)


def numeric_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, type, str]]:
    """(dotted key, owning dataclass, field name) of every number or list of numbers in the schema."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hint):
            yield from numeric_fields(hint, key + ".")
        elif typing.get_origin(hint) is list and dataclasses.is_dataclass((typing.get_args(hint) or (None,))[0]):
            yield from numeric_fields(typing.get_args(hint)[0], key + "[].")
        elif _is_number(hint):
            yield key, cls, f.name


def _values(v: Any) -> list:
    if isinstance(v, (list, tuple)):
        return [x for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
    return [v] if isinstance(v, (int, float)) and not isinstance(v, bool) else []


@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _walk(obj: Any, prefix: str = "") -> Iterator[tuple[str, Bound, Any]]:
    for name in _fields(type(obj)):
        v = getattr(obj, name)
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(v):
            yield from _walk(v, key + ".")
        elif isinstance(v, (list, tuple)) and v and all(dataclasses.is_dataclass(x) for x in v):
            for i, x in enumerate(v):
                yield from _walk(x, f"{key}[{i}].")
        else:
            b = bound_for(type(obj), name)
            if b is not None:
                yield key, b, v


def check_hard(cfg: Any) -> None:
    """Raise ConfigError for the first number outside its hard range."""
    from .errors import ConfigError

    for key, b, v in _walk(cfg):
        for i, x in enumerate(_values(v)):
            below = x <= b.lo if b.lo_open else x < b.lo
            if below or x > b.hi:
                where = f"{key}[{i}]" if isinstance(v, (list, tuple)) else key
                why = intent(where, b, x)
                raise ConfigError(where, x, f"a value in {b.hard_text()} ({b.unit})" + (f"; {why}" if why else ""))


def intent(key: str, b: Bound, v: float) -> str:
    """The likely slip behind an implausible value, or ''."""
    if b.intent == "per_year" and v >= 1:
        return f"a rate per year, {v:g} means {v * 100:g}%; did you mean {v / 100:.2f}?"
    if b.intent == "percent" and 1 < v <= 100:
        return f"a proportion, not a percentage; did you mean {v / 100:g}?"
    if b.intent == "years" and 0 < v <= 30 and b.plausible[0] > v:
        return f"in days; did you mean {v * 365:g} ({v:g} years)?"
    return ""


def implausible(cfg: Any) -> list[str]:
    """One message per value outside its plausible range (key, value, range and likely intent)."""
    out = []
    for key, b, v in _walk(cfg):
        for x in _values(v):
            lo, hi = b.plausible
            if x < lo or x > hi:
                why = intent(key, b, x)
                out.append(f"{key}={x:g}: outside the plausible range [{_num(lo)}, {_num(hi)}] {b.unit}"
                           + (f"; {why}" if why else "; it will run, but check it"))
                break
    return out


def warn_implausible(cfg: Any) -> None:
    """Issue an :class:`ImplausibleValue` warning for every implausible value (the value still runs)."""
    for msg in implausible(cfg):
        warnings.warn(msg, ImplausibleValue, stacklevel=2)


def readme_table() -> str:
    """A Markdown table of every numeric key: hard range, plausible range, unit."""
    from .config import Config

    rows = ["| key | hard range (refused outside) | plausible range (warned outside) | unit |", "|---|---|---|---|"]
    for key, cls, name in numeric_fields(Config):
        b = bound_for(cls, name)
        if b is None:
            continue
        rows.append(f"| `{key}` | {b.hard_text()} | [{_num(b.plausible[0])}, {_num(b.plausible[1])}] | {b.unit} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(readme_table())
