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
    name: str
    description: str = ""
    overrides: list[str] = field(default_factory=list)
    baseline: Optional[str] = None
    scenarios: dict[str, list[str]] = field(default_factory=dict)
    kpis: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # experiment-specific settings (e.g. trial design)


def available() -> list[str]:
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


def load_experiment(name_or_path: str) -> Experiment:
    """Load ``experiments/NAME.yaml`` (or a path to a YAML file)."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = EXPERIMENTS_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise ConfigError("experiment", name_or_path, f"one of {', '.join(available())} (files in {EXPERIMENTS_DIR})")
    data = yaml.safe_load(path.read_text()) or {}
    known = {"description", "overrides", "baseline", "scenarios", "kpis", "figures", "extra"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"experiment {path.stem}: {sorted(unknown)[0]}", data[sorted(unknown)[0]],
                          f"known keys are {', '.join(sorted(known))}")
    scenarios = data.get("scenarios") or {"baseline": []}
    if not isinstance(scenarios, dict):
        raise ConfigError(f"experiment {path.stem}: scenarios", scenarios, "a mapping of name -> list of overrides")
    scenarios = {str(k): [str(o) for o in (v or [])] for k, v in scenarios.items()}
    for key in ("overrides", "kpis", "figures"):
        if not isinstance(data.get(key) or [], list):
            raise ConfigError(f"experiment {path.stem}: {key}", data[key], "a list")
    for sc, over in (data.get("scenarios") or {}).items():
        if over is not None and not isinstance(over, list):
            raise ConfigError(f"experiment {path.stem}: scenarios.{sc}", over, "a list of overrides (key=value)")
    from .kpis import KPI_NAMES, unknown_kpi_hint

    unknown_kpis = [k for k in data.get("kpis") or [] if k not in KPI_NAMES]
    if unknown_kpis:
        raise ConfigError(f"experiment {path.stem}: kpis", unknown_kpis[0], unknown_kpi_hint(unknown_kpis[0]))
    baseline = data.get("baseline") or next(iter(scenarios))
    if baseline not in scenarios:
        raise ConfigError(f"experiment {path.stem}: baseline", baseline, f"one of its scenarios ({', '.join(scenarios)})")
    exp = Experiment(name=path.stem, description=str(data.get("description", "")),
                     overrides=[str(o) for o in data.get("overrides") or []], baseline=baseline,
                     scenarios=scenarios, kpis=list(data.get("kpis") or []),
                     figures=list(data.get("figures") or []), extra=dict(data.get("extra") or {}))
    if exp.extra.get("sensitivity"):
        expand_sensitivity(exp)
    return exp


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
