"""Range and cross-field checks on a typed :class:`~simulation.config.Config`.

Type checks and unknown keys are caught by the schema at composition time; this module
checks what a type cannot say (ranges, consistency) before anything is simulated.
"""

from __future__ import annotations

import math

from .config import Config
from .errors import ConfigError
from .policies import ALLOCATION, ON_LEAVE, REASSIGNMENT
from .rupture import RUPTURE_MODELS


def _prob(key: str, v: float) -> None:
    if not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
        raise ConfigError(key, v, "a probability in [0, 1]")


def _positive(key: str, v: float, allow_zero: bool = False) -> None:
    ok = isinstance(v, (int, float)) and math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        raise ConfigError(key, v, "a number >= 0" if allow_zero else "a number > 0")


def _choice(key: str, v: str, options) -> None:
    if v not in options:
        raise ConfigError(key, v, f"one of {', '.join(sorted(options))}")


def validate(cfg: Config) -> Config:
    """Raise :class:`ConfigError` on the first invalid value; return ``cfg`` unchanged."""
    r = cfg.run
    if r.replications < 1:
        raise ConfigError("run.replications", r.replications, "an integer >= 1")
    if r.workers < 1:
        raise ConfigError("run.workers", r.workers, "an integer >= 1")
    _positive("run.horizon_days", r.horizon_days)
    _positive("run.warmup_days", r.warmup_days, allow_zero=True)
    if r.warmup_days >= r.horizon_days + r.warmup_days or r.warmup_days >= r.horizon_days * 10:
        raise ConfigError("run.warmup_days", r.warmup_days, "shorter than the horizon (run.horizon_days)")
    _choice("run.backend", r.backend, {"local", "dask"})
    if r.dask.address is not None and not str(r.dask.address).strip():
        raise ConfigError("run.dask.address", r.dask.address, "a scheduler address such as tcp://host:8786, or null")
    if r.dask.local_workers is not None and r.dask.local_workers < 1:
        raise ConfigError("run.dask.local_workers", r.dask.local_workers, "an integer >= 1 (or null: run.workers)")
    if cfg.output.stream_rows < 1000:
        raise ConfigError("output.stream_rows", cfg.output.stream_rows, "an integer >= 1000")
    _choice("output.format", cfg.output.format, {"parquet", "csv"})
    _positive("output.timeseries_interval_days", cfg.output.timeseries_interval_days)

    s = cfg.service
    _positive("service.referrals_per_week", s.referrals_per_week, allow_zero=True)
    _positive("service.renege_per_week", s.renege_per_week, allow_zero=True)
    _positive("service.first_appointment_delay_days", s.first_appointment_delay_days, allow_zero=True)
    if s.clinicians is not None and s.clinicians < 1:
        raise ConfigError("service.clinicians", s.clinicians, "an integer >= 1")
    if s.teams < 1:
        raise ConfigError("service.teams", s.teams, "an integer >= 1")
    names = [d.name for d in s.disciplines]
    if not names:
        raise ConfigError("service.disciplines", names, "at least one discipline")
    for i, d in enumerate(s.disciplines):
        k = f"service.disciplines[{i}]"
        if d.count < 0:
            raise ConfigError(f"{k}.count", d.count, "an integer >= 0")
        if d.caseload_cap < 1:
            raise ConfigError(f"{k}.caseload_cap", d.caseload_cap, "an integer >= 1")
        if d.comfortable_caseload < 1:
            raise ConfigError(f"{k}.comfortable_caseload", d.comfortable_caseload, "an integer >= 1")
        _positive(f"{k}.session_interval_days", d.session_interval_days)
        if d.session_interval_max_days is not None and d.session_interval_max_days < d.session_interval_days:
            raise ConfigError(f"{k}.session_interval_max_days", d.session_interval_max_days,
                              f">= session_interval_days ({d.session_interval_days})")
    for name in s.care_model:
        if name not in names:
            raise ConfigError("service.care_model", list(s.care_model),
                              f"disciplines present in service.disciplines ({', '.join(names)})")
    if len(set(s.care_model)) != len(s.care_model) or not s.care_model:
        raise ConfigError("service.care_model", list(s.care_model), "a non-empty list without repeats")
    if len(s.care_weights) != len(s.care_model):
        raise ConfigError("service.care_weights", list(s.care_weights),
                          f"one weight per care_model entry ({len(s.care_model)})")
    if any(w < 0 for w in s.care_weights) or not math.isclose(sum(s.care_weights), 1.0, abs_tol=1e-6):
        raise ConfigError("service.care_weights", list(s.care_weights), "non-negative weights summing to 1")

    p = cfg.population
    _positive("population.severity_max", p.severity_max)
    if not (0 <= p.severity_min <= p.severity_max):
        raise ConfigError("population.severity_min", p.severity_min, f"between 0 and severity_max ({p.severity_max})")
    _positive("population.severity_sd", p.severity_sd, allow_zero=True)
    _positive("population.measurement_sd", p.measurement_sd, allow_zero=True)
    _prob("population.low_intensity_share", p.low_intensity_share)
    for key in ("max_sessions_low", "max_sessions_high"):
        if getattr(p, key) < 1:
            raise ConfigError(f"population.{key}", getattr(p, key), "an integer >= 1")

    a = cfg.alliance
    if len(a.weights) != 3 or any(w < 0 for w in a.weights) or not math.isclose(sum(a.weights), 1.0, abs_tol=1e-6):
        raise ConfigError("alliance.weights", list(a.weights), "three non-negative weights (goals, tasks, bond) summing to 1")
    for key in ("initial_share", "growth_rate", "transfer_share", "reference"):
        _prob(f"alliance.{key}", getattr(a, key))
    if a.scale_max <= a.scale_min:
        raise ConfigError("alliance.scale_max", a.scale_max, f"greater than alliance.scale_min ({a.scale_min})")

    if cfg.attendance.consecutive_dna_discharge < 1:
        raise ConfigError("attendance.consecutive_dna_discharge", cfg.attendance.consecutive_dna_discharge,
                          "an integer >= 1")
    _positive("dropout.early_decay", cfg.dropout.early_decay)
    _prob("dropout.transition", cfg.dropout.transition)
    o = cfg.outcome
    _positive("outcome.response_rate", o.response_rate, allow_zero=True)
    _prob("outcome.sudden_gain_prob", o.sudden_gain_prob)
    _prob("outcome.sudden_gain_share", o.sudden_gain_share)

    rc = cfg.rupture
    _choice("rupture.model", rc.model, RUPTURE_MODELS)
    for key in ("withdrawal_share", "report_prob", "false_report_prob", "training_share", "later_repair_decay"):
        _prob(f"rupture.{key}", getattr(rc, key))
    if not (0 <= rc.severity_min <= rc.severity_max <= 1):
        raise ConfigError("rupture.severity_max", rc.severity_max,
                          f"0 <= severity_min ({rc.severity_min}) <= severity_max <= 1")
    _positive("rupture.withdrawal_detect_factor", rc.withdrawal_detect_factor)
    if rc.monitoring_every < 0:
        raise ConfigError("rupture.monitoring_every", rc.monitoring_every, "an integer >= 0 (0 = off)")

    pol = cfg.policy
    _choice("policy.allocation", pol.allocation, ALLOCATION)
    _choice("policy.reassignment", pol.reassignment, REASSIGNMENT)
    if ON_LEAVE:
        _choice("policy.on_leave", pol.on_leave, ON_LEAVE)
    _prob("policy.matching_accuracy", pol.matching_accuracy)

    t = cfg.turnover
    _positive("turnover.annual_rate", t.annual_rate, allow_zero=True)
    _positive("turnover.recruitment_delay_days", t.recruitment_delay_days, allow_zero=True)
    _positive("turnover.absence_per_year", t.absence_per_year, allow_zero=True)
    _positive("turnover.absence_mean_days", t.absence_mean_days)
    return cfg
