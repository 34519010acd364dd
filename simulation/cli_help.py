"""The short page ``alliance-sim --help`` prints before Hydra's full dump of every key.

It lists what a new user needs first: the experiments (from ``experiments/*.yaml``), the
config groups with their options (from ``configs/``), and the keys changed most often.
Everything but the common keys is read from the files, so the page cannot go stale;
``tests/test_config_keys.py`` checks that every common key is a schema key.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import yaml

from .config_errors import CONFIG_DIR, group_options
from .experiment import EXPERIMENTS_DIR, available

# The keys users change most often: (override example, what it does).
COMMON_KEYS: list[tuple[str, str]] = [
    ("run.replications=20", "replications per scenario (more: tighter intervals)"),
    ("run.seed=7", "master seed; same seed and config give identical tables"),
    ("run.workers=2", "worker processes (results identical to serial)"),
    ("run.horizon_days=730", "measured period after the warm-up (run.warmup_days)"),
    ("output.dir=PATH", "write the run there; rerunning reuses finished chunks"),
    ("output.sessions=false", "skip the per-session table (large runs)"),
    ("service.clinicians=12", "posts in the first discipline"),
    ("service.referrals_per_week=30", "referrals a week (Poisson)"),
    ("service.disciplines.0.caseload_cap=25", "caseload cap of the first discipline (1: the second)"),
    ("turnover.annual_rate=0.3", "leavers per clinician-year, a fraction (0.3 = 30% a year)"),
    ("intervention.training_share=0.5", "share of clinicians trained in rupture repair"),
    ("policy.reassignment=alliance_threshold", "voluntary reassignment policy (or policy=OPTION)"),
    ("policy.alliance_threshold.threshold=2.5", "a policy's own parameters live in policy.<policy>.*"),
    ("clinicians.repair_logit_mean=1", "clinicians' mean repair skill (log-odds)"),
]


def _first_sentence(text: str, width: int = 76) -> str:
    """The description's first sentence, shortened to ``width`` characters."""
    flat = " ".join(str(text).split())
    first = re.split(r"(?<=\.)\s", flat, maxsplit=1)[0].rstrip(".")
    return textwrap.shorten(first, width=width, placeholder="...")


def _experiment_line(name: str) -> str:
    data = yaml.safe_load((EXPERIMENTS_DIR / f"{name}.yaml").read_text()) or {}
    return _first_sentence(data.get("description", ""))


def _defaults() -> dict[str, str]:
    """Each group's default option, from the defaults list of ``configs/config.yaml``."""
    data = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text()) or {}
    out = {}
    for item in data.get("defaults", []):
        if isinstance(item, dict):
            out.update({str(k): str(v) for k, v in item.items()})
    return out


def groups() -> list[str]:
    """The config groups: the directories of ``configs/``."""
    return sorted(p.name for p in CONFIG_DIR.iterdir() if p.is_dir() and any(p.glob("*.yaml")))


def help_page() -> str:
    """The page: usage, experiments, config groups with options (default marked *), common keys."""
    defaults = _defaults()
    lines = ["alliance-sim: simulate therapeutic alliance, rupture and repair in a mental health service.",
             "",
             "Usage: alliance-sim [experiment=NAME] [GROUP=OPTION ...] [KEY=VALUE ...]",
             "       alliance-sim -m KEY=A,B,C ...        (a sweep: one run per value)",
             "       make run experiment=NAME KEY=VALUE   (the same, inside .venv)",
             "",
             "Experiments (experiments/NAME.yaml; default: experiment=default; experiment=null runs one scenario):"]
    names = available()
    w = max(len(n) for n in names) + 2
    lines += [f"  {n:<{w}}{_experiment_line(n)}" for n in names]
    lines += ["", "Config groups (GROUP=OPTION; * = default; reference=community_team also picks "
                  "service, population and turnover):"]
    gw = max(len(g) for g in groups()) + 2
    for g in groups():
        opts = [o + ("*" if defaults.get(g) == o else "") for o in group_options(g)]
        lines.append(f"  {g:<{gw}}{', '.join(opts)}")
    lines += ["", "Common keys (GROUP.KEY=VALUE; every key, its meaning and unit: simulation/config.py):"]
    kw = max(len(k) for k, _ in COMMON_KEYS) + 2
    lines += [f"  {k:<{kw}}{what}" for k, what in COMMON_KEYS]
    lines += ["", "Bad input prints one line naming the key, the value and what is allowed (exit 2).",
              "README.md has the rest. Hydra's own help follows: every key with its current value.",
              "=" * 78, ""]
    return "\n".join(lines)


__all__ = ["COMMON_KEYS", "groups", "help_page"]
