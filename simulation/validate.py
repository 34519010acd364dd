"""Type, range and cross-field checks on a typed :class:`~simulation.config.Config`.

Three layers run in order, each raising :class:`ConfigError` on the first bad value:

1. **types**: every field is checked against its annotation in ``simulation/config.py``
   (an integer is not a bool, a number is finite, a list holds the right items);
2. **field rules**: ``FIELD_RULES`` maps each dotted key (list items as ``[]``) to one
   rule: ``probability``, ``positive``, ``at_least(1)``, ``one_of(REGISTRY)``, ... or
   ``free`` for a number that may take any finite value. ``tests/test_validation.py``
   fails if a field of the schema has no entry, so a new key cannot slip through;
3. **cross-field checks**: functions decorated with ``@cross_check`` see the whole
   config (warm-up vs horizon, weights summing to 1, disciplines a care model needs).

To add a key: declare it in ``config.py``, add one line to ``FIELD_RULES``, and, if it
must agree with other keys, one ``@cross_check`` function.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import typing
from typing import Any, Callable, Iterator, Mapping

from .config import Config
from .errors import ConfigError
from .policies import ALLOCATION, ON_LEAVE, REALLOCATION, REASSIGNMENT
from .rupture import RUPTURE_MODELS

Rule = Callable[[str, Any], None]  # raises ConfigError(key, value, allowed) or returns None


# --------------------------------------------------------------------------- rules
def free(key: str, v: Any) -> None:
    """Any value of the annotated type (finiteness is checked with the type)."""


def probability(key: str, v: Any) -> None:
    """A probability or share in [0, 1] (a value in (1, 100] was probably typed as a percentage)."""
    if not 0.0 <= v <= 1.0:
        hint = f"; did you mean {v / 100:g}?" if 1.0 < v <= 100.0 else ""
        raise ConfigError(key, v, f"a probability in [0, 1]{hint}")


def positive(key: str, v: Any) -> None:
    """Rule: a number > 0."""
    if not v > 0:
        raise ConfigError(key, v, "a number > 0")


def non_negative(key: str, v: Any) -> None:
    """Rule: a number >= 0."""
    if not v >= 0:
        raise ConfigError(key, v, "a number >= 0")


def at_least(lo: int) -> Rule:
    """Rule factory: an integer >= lo."""
    def rule(key: str, v: Any) -> None:
        if not v >= lo:
            raise ConfigError(key, v, f"an integer >= {lo}")
    return rule


def between(lo: float, hi: float) -> Rule:
    """Rule factory: a value in [lo, hi]."""
    def rule(key: str, v: Any) -> None:
        if not lo <= v <= hi:
            raise ConfigError(key, v, f"a value in [{lo}, {hi}]")
    return rule


def one_of(options: Any) -> Rule:
    """A name from a fixed set or a registry (read when checked, so late registrations count)."""
    def rule(key: str, v: Any) -> None:
        names = options() if callable(options) else options
        if v not in names:
            raise ConfigError(key, v, f"one of {', '.join(sorted(names))}")
    return rule


def optional(inner: Rule) -> Rule:
    """Rule factory: None, or a value that passes ``inner``."""
    def rule(key: str, v: Any) -> None:
        if v is not None:
            inner(key, v)
    return rule


def each(inner: Rule, length: int | None = None, what: str = "") -> Rule:
    """Every item of a list passes ``inner``; ``length`` fixes the list's length."""
    def rule(key: str, v: Any) -> None:
        if length is not None and len(v) != length:
            raise ConfigError(key, list(v), f"a list of {length} {what}".rstrip())
        for i, item in enumerate(v):
            inner(f"{key}[{i}]", item)
    return rule


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


MAX_NAME = 100  # names go into directory names with a digest: well inside the 255-byte file-name limit


def name(key: str, v: Any) -> None:
    """A label that is also used in file and directory names."""
    if len(v) > MAX_NAME:
        raise ConfigError(key, v[:40] + f"... ({len(v)} characters)", f"a name of at most {MAX_NAME} characters")
    if not _NAME.match(v):
        raise ConfigError(key, v, "a non-empty name of ASCII letters, digits, '_', '-', '.', '+' (no spaces or '/')")


MAX_TEXT = 1000


def text(key: str, v: Any) -> None:
    """A non-empty label of reasonable length."""
    if not v.strip():
        raise ConfigError(key, v, "a non-empty string")
    if len(v) > MAX_TEXT:
        raise ConfigError(key, v[:40] + f"... ({len(v)} characters)", f"a string of at most {MAX_TEXT} characters")


def path_text(key: str, v: Any) -> None:
    """A file-system path: non-empty, no NUL byte, within the usual 4096-byte limit."""
    if not v.strip() or "\0" in v or len(v.encode("utf-8", "surrogateescape")) > 4096:
        raise ConfigError(key, v if len(v) <= 60 else v[:40] + f"... ({len(v)} characters)",
                          "a directory path (non-empty, at most 4096 bytes, no NUL byte)")


_DASK = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$")


def dask_address(key: str, v: Any) -> None:
    """A scheduler address as Dask takes it: [tcp|tls|ws|wss|ucx://]host:port, or inproc://... in one process."""
    if re.fullmatch(r"inproc://\S+", v):
        return
    m = _DASK.match(v)
    if not m or not 0 < int(m.group(2)) < 65536:
        raise ConfigError(key, v if len(v) <= 60 else v[:40] + "...",
                          "a Dask scheduler address such as tcp://host:8786 (scheme tcp, tls, ws, wss or ucx; "
                          "port 1-65535), or null to start a local cluster")


def _experiments() -> list[str]:
    from .experiment import available

    return available()


def experiment_name(key: str, v: Any) -> None:
    """Rule: a shipped experiment's name or a path to an experiment YAML file."""
    from pathlib import Path

    try:
        if v in _experiments() or (Path(v).suffix in (".yaml", ".yml") and Path(v).is_file()):
            return
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL byte
        pass
    from .experiment import EXPERIMENTS_DIR

    raise ConfigError(key, v, f"one of {', '.join(_experiments())} (files in {EXPERIMENTS_DIR}) "
                              f"or a path to an experiment .yaml file")


def annual_rate(key: str, v: Any) -> None:
    """Rule: a yearly rate in [0, 12] (leavers per clinician-year)."""
    if not 0.0 <= v <= 12.0:
        raise ConfigError(key, v, "a number >= 0 and <= 12 (leavers per clinician-year)")


UNIT_WEIGHTS = "non-negative weights summing to 1"

FIELD_RULES: dict[str, Rule] = {
    # run
    "run.seed": at_least(0),
    "run.replications": at_least(1),
    "run.horizon_days": positive,
    "run.warmup_days": non_negative,
    "run.workers": at_least(1),
    "run.backend": one_of({"local", "dask"}),
    "run.dask.address": optional(dask_address),  # tcp://host:port of a running scheduler; null starts a local cluster
    "run.dask.local_workers": optional(at_least(1)),
    "run.progress": free,
    "run.name": name,
    "run.max_memory_gb": optional(positive),  # see simulation.resources
    "run.parameters": one_of({"point", "posterior"}),  # posterior: replication r uses draw r (simulation/parameters.py)
    "run.posterior": optional(text),  # a posterior Parquet file (python -m analysis.infer writes one)
    # output
    "output.sessions": free,
    "output.stream_sessions": free,
    "output.stream_rows": at_least(1000),
    "output.timeseries_interval_days": positive,
    "output.format": one_of({"parquet", "csv"}),
    "output.dir": optional(path_text),
    # service
    "service.name": text,
    "service.clinicians": optional(at_least(1)),
    "service.referrals_per_week": non_negative,
    "service.first_appointment_delay_days": non_negative,
    "service.renege_per_week": non_negative,
    "service.disciplines": free,  # items checked below; cross checks: non-empty, unique names
    "service.disciplines[].name": name,
    "service.disciplines[].count": at_least(0),
    "service.disciplines[].caseload_cap": at_least(1),
    "service.disciplines[].comfortable_caseload": at_least(1),
    "service.disciplines[].session_interval_days": positive,
    "service.disciplines[].session_interval_max_days": optional(positive),
    "service.disciplines[].treatment_effect": non_negative,
    "service.disciplines[].alliance_shift": free,
    "service.care_model": free,  # cross check: names of present disciplines, no repeats
    "service.care_weights": each(non_negative),  # cross check: one per care_model entry, sum 1
    "service.teams": at_least(1),
    "service.max_days_in_care": optional(positive),
    "service.team_list": free,  # items checked below; cross check: posts and caps name disciplines
    "service.team_list[].name": name,
    "service.team_list[].referrals_per_week": non_negative,
    "service.team_list[].posts": free,  # cross check: discipline names -> integers >= 0
    "service.team_list[].caseload_caps": free,  # cross check: discipline names -> integers >= 1
    # population
    "population.group": name,
    "population.severity_scale": text,
    "population.severity_max": positive,
    "population.severity_mean": non_negative,
    "population.severity_sd": non_negative,
    "population.severity_min": non_negative,
    "population.caseness": non_negative,
    "population.reliable_change": positive,
    "population.measurement_sd": non_negative,
    "population.capacity_logit_mean": free,
    "population.capacity_logit_sd": non_negative,
    "population.sensitivity_logit_mean": free,
    "population.sensitivity_logit_sd": non_negative,
    "population.engagement_logit_mean": free,
    "population.engagement_logit_sd": non_negative,
    "population.low_intensity_share": probability,
    "population.max_sessions_low": at_least(1),
    "population.max_sessions_high": at_least(1),
    "population.low_intensity_severity": non_negative,
    "population.anxiety.scale": optional(one_of(("GAD-7",))),
    "population.anxiety.max": positive,
    "population.anxiety.mean": non_negative,
    "population.anxiety.sd": non_negative,
    "population.anxiety.correlation": between(-1.0, 1.0),
    "population.anxiety.measurement_sd": non_negative,
    "population.anxiety.caseness": non_negative,
    "population.anxiety.reliable_change": positive,
    # clinicians
    "clinicians.alliance_skill_sd": non_negative,
    "clinicians.outcome_skill_sd": non_negative,
    "clinicians.detection_logit_mean": free,
    "clinicians.detection_logit_sd": non_negative,
    "clinicians.repair_logit_mean": free,
    "clinicians.repair_logit_sd": non_negative,
    "clinicians.rater_bias_mean": between(-1.0, 1.0),
    "clinicians.rater_bias_sd": non_negative,
    "clinicians.strain_growth_penalty": non_negative,
    "clinicians.style_dims": between(1, 4),  # service.MAX_STYLE columns are drawn per entity
    # alliance
    "alliance.weights": each(non_negative, 3, "weights (goals, tasks, bond)"),
    "alliance.potential_intercept": free,
    "alliance.potential_capacity": free,
    "alliance.fit_sd": non_negative,
    "alliance.component_sd": non_negative,
    "alliance.initial_share": probability,
    "alliance.growth_rate": probability,
    "alliance.noise_sd": non_negative,
    "alliance.symptom_feedback": non_negative,
    "alliance.reference": probability,
    "alliance.instrument": one_of({"WAI-SR", "STAR"}),  # STAR: cross check on the scale; simulation/star.py
    "alliance.scale_min": free,
    "alliance.scale_max": free,  # cross check: > scale_min
    "alliance.patient_bias_mean": between(-1.0, 1.0),
    "alliance.patient_bias_sd": non_negative,
    "alliance.patient_error_sd": non_negative,
    "alliance.clinician_error_sd": non_negative,
    "alliance.transfer_share": probability,
    # attendance (log-odds coefficients may take any sign)
    "attendance.dna_intercept": free,
    "attendance.dna_engagement": free,
    "attendance.dna_alliance": free,
    "attendance.dna_unresolved": free,
    "attendance.dna_wait_per_week": free,
    "attendance.consecutive_dna_discharge": at_least(1),
    # dropout
    "dropout.intercept": free,
    "dropout.early_boost": free,
    "dropout.early_decay": positive,
    "dropout.alliance": free,
    "dropout.unresolved": free,
    "dropout.after_dna": free,
    "dropout.wait_per_week": free,
    "dropout.engagement": free,
    "dropout.transition_patient_request": probability,
    "dropout.transition_policy": probability,
    "dropout.transition_turnover": probability,
    # outcome
    "outcome.response_rate": probability,
    "outcome.response_sd": non_negative,
    "outcome.alliance_effect": free,
    "outcome.noise_sd": non_negative,
    "outcome.sudden_gain_prob": probability,
    "outcome.sudden_gain_share": probability,
    "outcome.min_sessions_recovery_discharge": at_least(0),
    "outcome.caseness_discharge_after": at_least(0),
    "outcome.unresolved_response": non_negative,
    # rupture
    "rupture.model": one_of(lambda: RUPTURE_MODELS),
    "rupture.intercept": free,
    "rupture.sensitivity": free,
    "rupture.strain": free,
    "rupture.alliance": free,
    "rupture.withdrawal_share": probability,
    "rupture.severity_min": probability,
    "rupture.severity_max": probability,  # cross check: >= severity_min
    "rupture.withdrawal_impact": each(non_negative, 3, "impacts (goals, tasks, bond)"),
    "rupture.confrontation_impact": each(non_negative, 3, "impacts (goals, tasks, bond)"),
    "rupture.withdrawal_detect_factor": positive,
    "rupture.repair_reserve": non_negative,
    "rupture.repair_gain": probability,
    "rupture.erosion": probability,
    "rupture.later_repair_decay": probability,
    "rupture.report_prob": probability,
    "rupture.false_report_prob": probability,
    "rupture.corrective_propensity": non_negative,
    "rupture.corrective_bond": probability,
    # intervention
    "intervention.training_share": probability,
    "intervention.training_detection_gain": free,
    "intervention.training_repair_gain": free,
    "intervention.monitoring_every": at_least(0),
    "intervention.monitoring_detection_gain": free,
    "intervention.dialog_every_days": non_negative,
    "intervention.dialog_share": probability,
    "intervention.dialog_goals_gain": probability,
    "intervention.dialog_tasks_gain": probability,
    "intervention.dialog_mansa_gain": free,
    "intervention.mansa_mean": between(1.0, 7.0),
    "intervention.mansa_per_severity_sd": free,
    "intervention.mansa_sd": non_negative,
    "intervention.satisfaction_mean": between(1.0, 7.0),
    "intervention.satisfaction_per_alliance": free,
    "intervention.satisfaction_sd": non_negative,
    "intervention.dialog_satisfaction_gain": free,
    # policy
    "policy.allocation": one_of(lambda: ALLOCATION),
    "policy.matching_accuracy": probability,
    "policy.reassignment": one_of(lambda: REASSIGNMENT),
    "policy.alliance_threshold.threshold": free,  # cross check: inside the alliance instrument's scale
    "policy.alliance_threshold.consecutive": at_least(1),
    "policy.alliance_threshold.measure_every": at_least(1),
    "policy.unresolved_rupture.unresolved_sessions": at_least(1),
    "policy.patient_request.threshold": free,  # cross check: inside the alliance instrument's scale
    "policy.patient_request.request_slope": non_negative,
    "policy.patient_request.request_intercept": free,
    "policy.on_leave": one_of(lambda: ON_LEAVE),
    "policy.reassignment_allocation": one_of(lambda: REALLOCATION),
    "policy.handover": free,
    "policy.preference_accuracy": probability,
    "population.preference_share": probability,
    "alliance.preference_shift": non_negative,
    "policy.handover_risk_ratio": probability,
    "policy.handover_transfer_share": probability,
    "policy.reassignment_priority": free,
    # turnover
    "turnover.annual_rate": annual_rate,
    "turnover.recruitment_delay_days": non_negative,
    "turnover.absence_per_year": non_negative,
    "turnover.absence_mean_days": positive,
    "turnover.absence_cover": free,
    # costs
    "costs.price_year": text,
    "costs.annual_cost_per_post": free,  # cross check: discipline names -> numbers >= 0
    "costs.default_annual_cost_per_post": non_negative,
    # the relationship with the team (issue 16)
    "alliance.team_weight": probability,
    "alliance.team_rate": probability,
    "alliance.clinician_stable_share": probability,  # share of clinician_error_sd^2 drawn once per dyad
    # involuntary care (issue 16)
    "involuntary.share": probability,
    "involuntary.potential_shift": free,
    "involuntary.dna_shift": free,
    "involuntary.dropout_shift": free,
    "involuntary.period_days": positive,
    "involuntary.later_period_days": positive,
    "involuntary.renewal_prob": probability,
    # top level
    "experiment": optional(experiment_name),
    # STAR item scoring (alliance.instrument=STAR)
    "star.item_sd": non_negative,
    "star.patient_slope": positive,  # at most 1: simulation/bounds.py
    "star.clinician_slope": positive,
    "therapist_dropout.logit_sd": non_negative,
}

CROSS_CHECKS: list[Callable[[Config], None]] = []


def cross_check(fn: Callable[[Config], None]) -> Callable[[Config], None]:
    """Register a check that needs several keys; it raises ConfigError or returns None."""
    CROSS_CHECKS.append(fn)
    return fn


# --------------------------------------------------------------------------- types
def describe_type(hint: Any) -> str:
    """What a value of this annotation looks like, in words."""
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin is typing.Union:
        inner = describe_type(args[0]) if len(args) == 1 else " or ".join(describe_type(a) for a in args)
        return f"{inner} or null"
    if origin is list:
        return f"a list of {_plural(args[0])}" if args else "a list"
    if origin is dict:
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _plural(hint: Any) -> str:
    return {bool: "true/false values", int: "integers", float: "finite numbers", str: "strings"}.get(
        hint, f"{getattr(hint, '__name__', hint)} entries")


def type_ok(hint: Any, v: Any) -> bool:
    """Whether ``v`` has the schema type ``hint`` (Optional, lists and nested dataclasses included)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin is typing.Union:
        return any(type_ok(a, v) for a in typing.get_args(hint))
    if hint is type(None):
        return v is None
    if hint is bool:
        return isinstance(v, bool)
    if hint is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if hint is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if hint is str:
        return isinstance(v, str)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return isinstance(v, (list, tuple)) and all(type_ok(item, x) for x in v)
    if origin is dict:
        return isinstance(v, Mapping)
    if dataclasses.is_dataclass(hint):
        return isinstance(v, hint)
    return True


@functools.lru_cache(maxsize=None)
def type_hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved annotations (cached: resolving them is the slow part of a check)."""
    return typing.get_type_hints(cls)


def leaves(obj: Any, prefix: str = "") -> Iterator[tuple[str, str, Any, Any]]:
    """(key, rule key, annotation, value) for every field, list items of dataclasses included."""
    hints = type_hints(type(obj))
    for f in dataclasses.fields(obj):
        key = f"{prefix}{f.name}"
        v = getattr(obj, f.name)
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint) and dataclasses.is_dataclass(v):
            yield from leaves(v, key + ".")
            continue
        yield key, re.sub(r"\[\d+\]", "[]", key), hint, v
        item = (typing.get_args(hint) or (None,))[0] if typing.get_origin(hint) is list else None
        if item is not None and dataclasses.is_dataclass(item) and isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                if dataclasses.is_dataclass(x):
                    yield from leaves(x, f"{key}[{i}].")


def schema_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every rule key the schema declares (used to check FIELD_RULES is complete)."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hint):
            out += schema_keys(hint, key + ".")
            continue
        out.append(key)
        if typing.get_origin(hint) is list:
            (item,) = typing.get_args(hint)
            if dataclasses.is_dataclass(item):
                out += schema_keys(item, key + "[].")
    return out


# --------------------------------------------------------------------------- cross-field
@cross_check
def _warmup_shorter_than_horizon(cfg: Config) -> None:
    # horizon_days is the measured period after the warm-up; a warm-up longer than it is
    # almost always a slip (reference B uses equal lengths to let caseloads fill).
    if cfg.run.warmup_days > cfg.run.horizon_days:
        raise ConfigError("run.warmup_days", cfg.run.warmup_days,
                          f"a warm-up no longer than the measured horizon (run.horizon_days={cfg.run.horizon_days})")


@cross_check
def _disciplines(cfg: Config) -> None:
    s = cfg.service
    names = [d.name for d in s.disciplines]
    if not names:
        raise ConfigError("service.disciplines", names, "at least one discipline")
    if len(set(names)) != len(names):
        raise ConfigError("service.disciplines", names, "disciplines with distinct names")
    for i, d in enumerate(s.disciplines):
        k = f"service.disciplines[{i}]"
        if d.comfortable_caseload > d.caseload_cap:
            raise ConfigError(f"{k}.comfortable_caseload", d.comfortable_caseload,
                              f"an integer <= caseload_cap ({d.caseload_cap})")
        if d.session_interval_max_days is not None and d.session_interval_max_days < d.session_interval_days:
            raise ConfigError(f"{k}.session_interval_max_days", d.session_interval_max_days,
                              f">= session_interval_days ({d.session_interval_days})")


@cross_check
def _care_model(cfg: Config) -> None:
    s = cfg.service
    names = [d.name for d in s.disciplines]
    if not s.care_model or len(set(s.care_model)) != len(s.care_model):
        raise ConfigError("service.care_model", list(s.care_model), "a non-empty list without repeats")
    for n in s.care_model:
        if n not in names:
            raise ConfigError("service.care_model", list(s.care_model),
                              f"disciplines present in service.disciplines ({', '.join(names)})")
    if len(s.care_weights) != len(s.care_model):
        raise ConfigError("service.care_weights", list(s.care_weights),
                          f"one weight per care_model entry ({len(s.care_model)})")
    if not math.isclose(sum(s.care_weights), 1.0, abs_tol=1e-6):
        raise ConfigError("service.care_weights", list(s.care_weights), UNIT_WEIGHTS)
    if s.team_list:
        return  # checked per team by _team_list
    # Every discipline a patient needs must have a post in every team, or patients wait forever.
    counts = {d.name: d.count for d in s.disciplines}
    if s.clinicians is not None:
        counts[names[0]] = s.clinicians
    for i, n in enumerate(names):
        if n in s.care_model and counts[n] < s.teams:
            key = "service.clinicians" if (i == 0 and s.clinicians is not None) else f"service.disciplines[{i}].count"
            raise ConfigError(key, counts[n], f"at least one {n} per team (service.teams={s.teams}), "
                                              f"since the care model needs a {n}")


@cross_check
def _team_list(cfg: Config) -> None:
    """Teams described one by one: posts and caps name disciplines, every team can see its patients."""
    s = cfg.service
    if not s.team_list:
        return
    names = [d.name for d in s.disciplines]
    if len({t.name for t in s.team_list}) != len(s.team_list):
        raise ConfigError("service.team_list", [t.name for t in s.team_list], "teams with distinct names")
    if s.clinicians is not None:
        raise ConfigError("service.clinicians", s.clinicians,
                          "null when service.team_list is set (posts come from each team's posts)")
    if s.teams != len(s.team_list):
        raise ConfigError("service.teams", s.teams,
                          f"{len(s.team_list)}, the number of entries in service.team_list")
    for i, t in enumerate(s.team_list):
        k = f"service.team_list[{i}]"
        for field_name, lo in (("posts", 0), ("caseload_caps", 1)):
            for n, v in getattr(t, field_name).items():
                if n not in names:
                    raise ConfigError(f"{k}.{field_name}", n, f"a discipline of service.disciplines ({', '.join(names)})")
                if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                    raise ConfigError(f"{k}.{field_name}.{n}", v, f"an integer >= {lo}")
        for n in s.care_model:
            if int(t.posts.get(n, 0)) < 1 and t.referrals_per_week > 0:
                raise ConfigError(f"{k}.posts.{n}", int(t.posts.get(n, 0)),
                                  f"at least 1 (team {t.name} takes referrals and the care model needs a {n})")
    if sum(t.referrals_per_week for t in s.team_list) <= 0:
        raise ConfigError("service.team_list", [t.referrals_per_week for t in s.team_list],
                          "at least one team with referrals_per_week > 0")


@cross_check
def _costs(cfg: Config) -> None:
    """Unit costs are non-negative finite numbers (any discipline name: a config may list more than it uses)."""
    for n, v in cfg.costs.annual_cost_per_post.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"costs.annual_cost_per_post.{n}", v, "a number >= 0 (GBP per post-year)")


@cross_check
def _population(cfg: Config) -> None:
    p = cfg.population
    for key in ("severity_min", "severity_mean", "caseness"):
        if getattr(p, key) > p.severity_max:
            raise ConfigError(f"population.{key}", getattr(p, key),
                              f"a value in [0, severity_max ({p.severity_max})]")
    if p.max_sessions_low > p.max_sessions_high:
        raise ConfigError("population.max_sessions_low", p.max_sessions_low,
                          f"an integer <= max_sessions_high ({p.max_sessions_high})")
    a = p.anxiety
    for key in ("mean", "caseness"):
        if getattr(a, key) > a.max:
            raise ConfigError(f"population.anxiety.{key}", getattr(a, key), f"a value in [0, anxiety.max ({a.max})]")
    room = math.sqrt((1.0 - a.correlation ** 2) * a.sd ** 2)
    if a.measurement_sd > room + 1e-9:
        raise ConfigError("population.anxiety.measurement_sd", a.measurement_sd,
                          f"at most sqrt(1 - correlation^2) x sd = {room:.3g} (the referral variance severity "
                          "leaves unexplained)")


@cross_check
def _alliance(cfg: Config) -> None:
    a = cfg.alliance
    if not math.isclose(sum(a.weights), 1.0, abs_tol=1e-6):
        raise ConfigError("alliance.weights", list(a.weights), f"three {UNIT_WEIGHTS} (goals, tasks, bond)")
    if a.scale_max <= a.scale_min:
        raise ConfigError("alliance.scale_max", a.scale_max, f"greater than alliance.scale_min ({a.scale_min})")
    if a.instrument == "STAR":  # ratings are STAR totals: 12 items scored 0-4 (simulation/star.py)
        for key, value, want in (("alliance.scale_min", a.scale_min, 0.0), ("alliance.scale_max", a.scale_max, 48.0)):
            if value != want:
                raise ConfigError(key, value, f"{want:g} with alliance.instrument=STAR (totals 0-48; use instrument=star)")


@cross_check
def _rupture(cfg: Config) -> None:
    rc = cfg.rupture
    if rc.severity_min > rc.severity_max:
        raise ConfigError("rupture.severity_max", rc.severity_max, f">= rupture.severity_min ({rc.severity_min})")


@cross_check
def _policy(cfg: Config) -> None:
    a, pol = cfg.alliance, cfg.policy
    for key, threshold in (("policy.alliance_threshold.threshold", pol.alliance_threshold.threshold),
                           ("policy.patient_request.threshold", pol.patient_request.threshold)):
        if not a.scale_min <= threshold <= a.scale_max:
            raise ConfigError(key, threshold, f"a patient rating on the {a.instrument} scale [{a.scale_min}, "
                                              f"{a.scale_max}] (alliance.instrument; instrument=wai_sr|star)")


# --------------------------------------------------------------------------- entry point
def validate(cfg: Config) -> Config:
    """Raise :class:`ConfigError` on the first invalid value; return ``cfg`` unchanged.

    Order: types and field rules, then the hard ranges of :mod:`simulation.bounds`, then
    the cross-field checks.
    """
    from .bounds import check_hard

    for key, rule_key, hint, v in leaves(cfg):
        if not type_ok(hint, v):
            raise ConfigError(key, v, describe_type(hint))
        rule = FIELD_RULES.get(rule_key)
        if rule is not None:
            rule(key, v)
    check_hard(cfg)
    for check in CROSS_CHECKS:
        check(cfg)
    return cfg


# Helpers kept for checks written in the earlier imperative style.
def _prob(key: str, v: float) -> None:
    probability(key, v)


def _positive(key: str, v: float, allow_zero: bool = False) -> None:
    (non_negative if allow_zero else positive)(key, v)


def _choice(key: str, v: str, options) -> None:
    one_of(options)(key, v)
