"""Parameters on the typed config: set dotted keys without Hydra, and posterior draws per replication.

A fit or a sensitivity analysis runs the model thousands of times; composing the YAML tree
with Hydra costs about 0.3 s a call, more than simulating a small service. ``with_values``
changes a few dotted keys of an already validated :class:`Config` with
``dataclasses.replace`` and re-validates, in well under a millisecond.

``run.parameters=posterior`` makes replication ``r`` of every scenario use draw ``r`` of the
posterior file (``run.posterior``, default ``calibration/posterior_<service.name>.parquet``):
the same draw in every scenario, so common random numbers still pair them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Mapping, Optional

from .config import Config
from .errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
POSTERIOR_DIR = ROOT / "calibration"
PARAMETER_MODES = ("point", "posterior")
NON_PARAMETER_COLUMNS = ("draw",)  # columns of a posterior file that are not config keys


def _coerce(key: str, old: Any, value: Any) -> Any:
    """The new value in the type of the old one (an int field gets a rounded number)."""
    if isinstance(old, bool) or old is None or isinstance(old, (str, list)) or dataclasses.is_dataclass(old):
        return value
    if isinstance(old, int):
        return int(round(float(value)))
    if isinstance(old, float):
        return float(value)
    return value


def _set(node: Any, parts: list[str], value: Any, key: str) -> Any:
    """A copy of ``node`` with ``parts`` set to ``value`` (dataclasses replaced, lists copied)."""
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if not head.isdigit() or int(head) >= len(node):
            raise ConfigError(key, value, f"a list index below {len(node)} at '{head}'")
        out = list(node)
        i = int(head)
        out[i] = _set(node[i], rest, value, key) if rest else _coerce(key, node[i], value)
        return out
    if not dataclasses.is_dataclass(node) or head not in {f.name for f in dataclasses.fields(node)}:
        raise ConfigError(key, value, "a key of the configuration schema (simulation/config.py)")
    old = getattr(node, head)
    new = _set(old, rest, value, key) if rest else _coerce(key, old, value)
    return dataclasses.replace(node, **{head: new})


def with_values(cfg: Config, values: Mapping[str, Any], check: bool = True) -> Config:
    """``cfg`` with dotted keys set (``{"rupture.intercept": -1.2}``), re-validated; ``cfg`` is untouched."""
    out = cfg
    for key, value in values.items():
        out = _set(out, str(key).split("."), value, str(key))
    if check:
        from .validate import validate

        out = validate(out)
    return out


# --------------------------------------------------------------------------- posterior draws
def posterior_path(cfg: Config) -> Path:
    """The posterior file a config uses: ``run.posterior`` or the service's committed one."""
    if cfg.run.posterior:
        p = Path(cfg.run.posterior)
        return p if p.is_absolute() else ROOT / p
    return POSTERIOR_DIR / f"posterior_{cfg.service.name}.parquet"


_CACHE: dict[tuple[str, int, int], tuple[Any, str]] = {}


def load_posterior(path: Path) -> tuple[Any, str]:
    """(draws DataFrame, SHA-256 of the file), cached per process by path, size and mtime."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise ConfigError("run.posterior", str(path), "an existing posterior file (python -m analysis.infer writes one)")
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        draws = pd.read_parquet(path)
        if "draw" in draws.columns:
            draws = draws.sort_values("draw", kind="stable").reset_index(drop=True)
        _CACHE.clear()
        _CACHE[key] = (draws, digest)
    return _CACHE[key]


def draw_values(cfg: Config, replication: int) -> dict[str, float]:
    """The parameter values of posterior draw ``replication`` (one draw per replication)."""
    draws, _ = load_posterior(posterior_path(cfg))
    if replication >= len(draws):
        raise ConfigError("run.replications", replication + 1,
                          f"at most {len(draws)} replications with run.parameters=posterior "
                          f"({len(draws)} draws in {posterior_path(cfg)})")
    row = draws.iloc[int(replication)]
    return {c: float(row[c]) for c in draws.columns if c not in NON_PARAMETER_COLUMNS}


def for_replication(cfg: Config, replication: int) -> Config:
    """The config replication ``replication`` runs with: itself (point) or with its posterior draw."""
    if cfg.run.parameters != "posterior":
        return cfg
    return with_values(cfg, draw_values(cfg, replication))


def parameters_manifest(cfg: Config) -> dict:
    """What the manifest records about the parameters: the mode and, with posterior, file and digest."""
    if cfg.run.parameters != "posterior":
        return {"mode": "point"}
    path = posterior_path(cfg)
    draws, digest = load_posterior(path)
    try:
        shown = str(path.resolve().relative_to(ROOT))
    except ValueError:
        shown = str(path)
    return {"mode": "posterior", "file": shown, "sha256": digest, "draws": int(len(draws)),
            "names": [c for c in draws.columns if c not in NON_PARAMETER_COLUMNS]}


def posterior_digest(cfg: Config) -> Optional[str]:
    """The posterior file's digest when the config draws from it (part of the chunk key), else None."""
    if cfg.run.parameters != "posterior":
        return None
    return load_posterior(posterior_path(cfg))[1]
