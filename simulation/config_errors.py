"""Turn Hydra/OmegaConf composition failures into one-line :class:`ConfigError`\\ s.

Hydra reports a bad override in several shapes (a parse error, a missing group option,
an unknown key, a value its type cannot hold), each with a multi-line message and a
cause chain. Users should see one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any, Optional, Sequence

from .config import Config
from .errors import NO_VALUE, ConfigError
from .experiment import override_key

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

# Keys that moved: old dotted key -> where it lives now. An override of an old key gets one
# line naming the new one instead of "not a config key".
MOVED: dict[str, tuple[str, ...]] = {
    **{f"rupture.{k}": (f"intervention.{k}",) for k in (
        "training_share", "training_detection_gain", "training_repair_gain",
        "monitoring_every", "monitoring_detection_gain")},
    "policy.threshold": ("policy.alliance_threshold.threshold", "policy.patient_request.threshold"),
    "policy.consecutive": ("policy.alliance_threshold.consecutive",),
    "policy.measure_every": ("policy.alliance_threshold.measure_every",),
    "policy.unresolved_sessions": ("policy.unresolved_rupture.unresolved_sessions",),
    "policy.request_intercept": ("policy.patient_request.request_intercept",),
    "policy.request_slope": ("policy.patient_request.request_slope",),
    "dropout.transition": ("dropout.transition_policy", "dropout.transition_patient_request",
                           "dropout.transition_turnover"),
}
# Why a key split into several (default: each reassignment policy has its own section).
MOVED_WHY: dict[str, str] = {"dropout.transition": "one transition risk per cause of the move"}


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[./@][A-Za-z0-9_]+)*")


def check_override_text(override: str) -> str:
    """An override as Hydra's grammar takes it: the bracket form ``a.b[0].c=5`` becomes ``a.b.0.c=5``,
    and a key Hydra cannot parse (non-ASCII, spaces, symbols) is refused in one line."""
    if "=" not in override:
        return override
    key, value = override.split("=", 1)
    if "[" in key:
        key = re.sub(r"\[(\d+)\]", r".\1", key)
    bare = key.lstrip("+~")
    if not _KEY.fullmatch(bare):
        shown = bare if len(bare) <= 60 else bare[:40] + f"... ({len(bare)} characters)"
        raise ConfigError(shown, NO_VALUE, "a config key of ASCII letters, digits, '_' and '.' (for a list item "
                                           "the dotted form, e.g. service.disciplines.0.caseload_cap=5)")
    out = f"{key}={value}"
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        OverridesParser.create().parse_overrides([out])
    except Exception as exc:  # the grammar's message names the whole line; ours names the key
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].replace(out, "").strip(" :")
        shown = value if len(value) <= 60 else value[:40] + f"... ({len(value)} characters)"
        raise ConfigError(bare, shown, "a value Hydra's override grammar can read: quote text with spaces, "
                                       "symbols or non-ASCII letters (key='value'); ${...} must be a complete "
                                       f"interpolation ({reason or 'parse error'})") from None
    return out


def field_hint(key: str) -> Optional[Any]:
    """The schema annotation of a dotted key (``service.disciplines[0].count`` and ``.0.`` work too)."""
    cls: Any = Config
    hint: Any = None
    for part in key.split("."):
        if part.isdigit():  # a list index in Hydra's form (service.disciplines.0.count)
            continue
        part = re.sub(r"\[\d*\]$", "", part)
        if not dataclasses.is_dataclass(cls):
            return None
        hints = typing.get_type_hints(cls)
        if part not in hints:
            return None
        hint = hints[part]
        cls = hint
        if typing.get_origin(hint) is list and typing.get_args(hint) and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            cls = typing.get_args(hint)[0]
    return hint


def known_keys(key: str) -> list[str]:
    """Names allowed next to ``key``'s last part (fields of its parent, or top-level keys)."""
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    cls: Any = Config if not parent else field_hint(parent)
    if typing.get_origin(cls) is list:
        cls = typing.get_args(cls)[0]
    if not dataclasses.is_dataclass(cls):
        return []
    return [f.name for f in dataclasses.fields(cls)]


def group_options(group: str) -> list[str]:
    """The options of a config group (its YAML files), for 'allowed' in messages."""
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def _value_of(key: str, overrides: Sequence[str]) -> Any:
    for o in reversed(list(overrides)):
        if "=" in o and override_key(o) == key:
            return o.split("=", 1)[1]
    return NO_VALUE


def _chain(exc: BaseException) -> list[BaseException]:
    out = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def from_composition(exc: BaseException, overrides: Sequence[str]) -> ConfigError:
    """The ConfigError a user should see for a Hydra/OmegaConf composition failure."""
    chain = _chain(exc)
    text = "\n".join(str(e) for e in chain)
    # `group=option` naming a file that is not there.
    m = re.search(r"Could not find '([^']+)/([^']+)'", text)
    if m:
        group, option = m.group(1), m.group(2)
        return ConfigError(group, option, f"one of {', '.join(group_options(group))} (files in configs/{group}/)")
    # A key the schema does not declare.
    m = re.search(r"Key '([^']+)' (?:not in|is not in struct)", text)
    if m:
        full = next((getattr(e, "full_key", None) for e in chain if getattr(e, "full_key", None)), None) or m.group(1)
        value = _value_of(full, overrides)
        return ConfigError(full, value, _unknown_key_help(full, value))
    # A value of the wrong type.
    full = next((getattr(e, "full_key", None) for e in chain if getattr(e, "full_key", None)), None)
    if full and any("Interpolation" in type(e).__name__ for e in chain):
        reason = (str(chain[-1]).splitlines() or [type(chain[-1]).__name__])[0][:120]
        return ConfigError(full, _value_of(full, overrides), f"an interpolation that resolves ({reason})")
    if full:
        from .validate import describe_type

        hint = field_hint(full)
        allowed = describe_type(hint) if hint is not None else chain[-1].__class__.__name__
        return ConfigError(full, _value_of(full, overrides), allowed)
    # An override the grammar cannot parse.
    m = re.search(r"Error parsing override '([^']*)'", text)
    if m:
        return ConfigError(m.group(1), NO_VALUE, "an override of the form key=value (e.g. run.replications=10) "
                                                  "or group=option (e.g. rupture=none)")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ConfigError("overrides", " ".join(overrides), first)


def unknown_keys(container: Any, cls: type = Config, prefix: str = "") -> Optional[str]:
    """The first key in a composed config that the schema does not declare (``+key=`` slips past Hydra)."""
    if not isinstance(container, dict):
        return None
    hints = typing.get_type_hints(cls)
    for k, v in container.items():
        key = f"{prefix}{k}"
        if k == "hydra" and not prefix:
            continue
        if k not in hints:
            return key
        hint = hints[k]
        if dataclasses.is_dataclass(hint):
            bad = unknown_keys(v, hint, key + ".")
            if bad:
                return bad
        elif typing.get_origin(hint) is list and isinstance(v, list):
            (item,) = typing.get_args(hint) or (None,)
            if item is not None and dataclasses.is_dataclass(item):
                for i, x in enumerate(v):
                    bad = unknown_keys(x, item, f"{key}[{i}].")
                    if bad:
                        return bad
    return None


def check_known_keys(cfg: Any, overrides: Sequence[str]) -> None:
    """Refuse keys the schema does not know (with a hint, or the key's new place if it moved)."""
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg, resolve=False, structured_config_mode=None)
    bad = unknown_keys(container)
    if bad:
        value = _value_of(bad, overrides)
        raise ConfigError(bad, value, _unknown_key_help(bad, value))


def moved_key_help(key: str, value: Any = NO_VALUE) -> Optional[str]:
    """Where a key that moved lives now, e.g. "moved to intervention.training_share (...)"; None if it did not move."""
    old = re.sub(r"^[+~]+", "", key)
    new = MOVED.get(old)
    if new is None:
        return None
    example = f"{new[0]}={value}" if value is not NO_VALUE else f"{new[0]}=..."
    where = " or ".join(new)
    why = f" ({MOVED_WHY.get(old, 'each reassignment policy has its own section')})" if len(new) > 1 else ""
    return f"moved to {where}{why}; e.g. {example}"


def _unknown_key_help(key: str, value: Any = NO_VALUE) -> str:
    import difflib

    moved = moved_key_help(key, value)
    if moved:
        return moved

    keys = known_keys(key)
    last = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(last, keys, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"not a config key ({hint}known keys here: {', '.join(keys)})" if keys else "not a config key"
