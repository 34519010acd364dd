"""Experiments: named sets of scenarios (override lists) compared on the same seeds.

An experiment file ``experiments/NAME.yaml`` holds::

    description: what is compared and why
    overrides: [run.replications=10]      # for every scenario; the command line wins
    baseline: usual_care                  # scenario the others are compared with
    scenarios:                            # name -> overrides on top of the above
      usual_care: []
      trained: [intervention.training_share=1.0]
    kpis: [dropout_rate, reliable_recovery_rate]   # KPIs to compare (simulation/kpis.py KPI_NAMES)
    figures: [kpis, retention]            # figures to draw (see analysis.figures)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from .errors import ConfigError

EXPERIMENTS_DIR = Path(__file__).resolve().parents[1] / "experiments"


@dataclass
class Experiment:
    """One experiment file: scenarios (override lists) compared with a baseline on the same seeds."""

    name: str
    description: str = ""
    overrides: list[str] = field(default_factory=list)
    baseline: Optional[str] = None
    scenarios: dict[str, list[str]] = field(default_factory=dict)
    kpis: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # experiment-specific settings (e.g. trial design)
    source: str = ""  # the name or path as the user gave it (the report's rerun line repeats it)


def available() -> list[str]:
    """Names of the experiment files shipped in experiments/ (for messages and the help page)."""
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


KNOWN_KEYS = ("description", "overrides", "baseline", "scenarios", "kpis", "figures", "extra")


def load_experiment(name_or_path: str) -> Experiment:
    """Load ``experiments/NAME.yaml`` (or a path to a YAML file), checking its shape first."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        path = EXPERIMENTS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError("experiment", name_or_path, f"one of {', '.join(available())} (files in {EXPERIMENTS_DIR})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError("experiment", str(name_or_path), f"a readable YAML file: {problem}{at}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
            type(data), f"a {type(data).__name__}")
        raise ConfigError("experiment", str(name_or_path),
                          f"a YAML file holding a mapping with keys {', '.join(KNOWN_KEYS)} (this one holds {kind})")
    return _experiment_from(path.stem, data, str(name_or_path))


def _experiment_from(stem: str, data: object, source: str) -> Experiment:
    """Check an experiment file's parsed content (a mapping of known keys and types) and build it."""
    where = f"experiment {stem}"
    if not isinstance(data, dict):
        raise ConfigError(where, _short(data), f"a mapping with keys {', '.join(KNOWN_KEYS)}")
    unknown = [k for k in data if k not in KNOWN_KEYS]
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]}", _short(data[unknown[0]]),
                          f"not an experiment key (known keys are {', '.join(KNOWN_KEYS)})")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise ConfigError(f"{where}: description", _short(description), "a string")
    for key in ("overrides", "kpis", "figures"):
        value = data.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(o, str) for o in value)):
            raise ConfigError(f"{where}: {key}", _short(value), "a list of strings")
    raw = data.get("scenarios")
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{where}: scenarios", _short(raw), "a mapping of name -> list of overrides (key=value)")
    scenarios: dict[str, list[str]] = {}
    for sc, over in (raw or {"baseline": []}).items():
        if not isinstance(sc, str):
            raise ConfigError(f"{where}: scenarios", _short(sc), "scenario names that are strings")
        if over is not None and not (isinstance(over, list) and all(isinstance(o, str) for o in over)):
            raise ConfigError(f"{where}: scenarios.{sc}", _short(over), "a list of overrides (key=value strings)")
        scenarios[sc] = list(over or [])
    extra = data.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise ConfigError(f"{where}: extra", _short(extra), "a mapping of experiment-specific settings")
    from .kpis import KPI_NAMES, unknown_kpi_hint

    unknown_kpis = [k for k in data.get("kpis") or [] if k not in KPI_NAMES]
    if unknown_kpis:
        raise ConfigError(f"{where}: kpis", unknown_kpis[0], unknown_kpi_hint(unknown_kpis[0]))
    baseline = data.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise ConfigError(f"{where}: baseline", _short(baseline), f"the name of one of its scenarios ({', '.join(scenarios)})")
    baseline = baseline or next(iter(scenarios))
    if baseline not in scenarios:
        raise ConfigError(f"{where}: baseline", baseline, f"one of its scenarios ({', '.join(scenarios)})")
    exp = Experiment(name=stem, description=description or "", overrides=list(data.get("overrides") or []),
                     baseline=baseline, scenarios=scenarios, kpis=list(data.get("kpis") or []),
                     figures=list(data.get("figures") or []), extra=dict(extra or {}), source=source)
    if exp.extra.get("sensitivity"):
        expand_sensitivity(exp)
    return exp


def _short(value: object, limit: int = 60) -> object:
    """A value as it is shown in a one-line error (long ones cut)."""
    text = repr(value)
    return value if len(text) <= limit else text[:limit] + "..."


def expand_sensitivity(exp: Experiment) -> None:
    """Add the scenarios of a one-at-a-time sensitivity analysis (``extra.sensitivity``), reusing what already runs."""
    # ``extra.sensitivity`` names the reference scenario of each compared policy and of the
    # comparator (``scenarios``: policy -> scenario, ``reference``: the comparator's policy), and
    # ``parameters``: a list of ``{key, central, values, affects}`` (``central``: the value the
    # reference scenarios already have; ``affects``: the policies whose results the key can
    # change, default all). Each other value of each key gets a copy of every affected scenario
    # with ``key=value`` added; an unaffected policy, or the central value, reuses the
    # reference scenario. The points (policy, key, value ->
    # scenario and comparator scenario) are stored in ``extra.sensitivity_points`` for the report.
    spec = exp.extra["sensitivity"]
    where = f"experiment {exp.name}: extra.sensitivity"
    refs = dict(spec.get("scenarios") or {})
    comparator = spec.get("reference")
    if comparator not in refs or any(sc not in exp.scenarios for sc in refs.values()):
        raise ConfigError(f"{where}.scenarios", refs, "policy -> one of the experiment's scenarios, including "
                          "the reference policy")
    points = []
    for par in spec.get("parameters") or []:
        key, values = str(par.get("key", "")), par.get("values")
        if not key or not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.parameters", par, "{key: config key, central: v, values: [v, ...], affects: [policy, ...]}")
        affects = set(par.get("affects") or refs)
        for value in values:
            made = {}
            for policy, ref in refs.items():
                if policy not in affects or value == par.get("central"):
                    made[policy] = ref
                    continue
                name = f"sens_{key.replace('.', '_')}_{value}_{policy}"
                exp.scenarios[name] = [o for o in exp.scenarios[ref] if override_key(o) != key] + [f"{key}={value}"]
                made[policy] = name
            points += [{"policy": policy, "parameter": key, "value": value, "scenario": made[policy],
                        "reference": made[comparator]} for policy in refs if policy != comparator]
    exp.extra["sensitivity_points"] = points


def override_key(override: str) -> str:
    """The key an override sets (``+a.b=1`` -> ``a.b``)."""
    return override.split("=", 1)[0].lstrip("+~")


def merge_overrides(*layers: list[str]) -> list[str]:
    """Later layers win: drop earlier overrides of a key a later layer sets."""
    out: list[str] = []
    for layer in layers:
        keys = {override_key(o) for o in layer}
        out = [o for o in out if override_key(o) not in keys] + list(layer)
    return out
