"""The ``alliance-sim`` command: a Hydra app around :func:`simulation.api.run`.

User mistakes (bad keys, values out of range, unknown experiments or group options, a
malformed override) print one line naming the key, the value and what is allowed, and
exit with status 2, without a traceback. They are caught *before* Hydra starts: in run
mode the overrides are composed and validated once; in multirun mode (``-m``) every
combination of the sweep is, so no job of a sweep starts if any job would fail.
Ctrl-C stops a run with one line (exit 130); finished chunks stay on disk, and the same
command resumes.
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .config import register_schema
from .errors import ConfigError
from .experiment import override_key

register_schema()

_RUN = {}  # the current job's run directory, for the interrupt message


def format_error(err: ConfigError) -> str:
    """The one line a user sees for a bad value, on the command line and on the page."""
    return f"alliance-sim: {err}"


def _fail(err: ConfigError) -> None:
    print(format_error(err), file=sys.stderr)
    sys.exit(2)


@hydra.main(config_path=str(Path(__file__).resolve().parents[1] / "configs"), config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    from . import api
    from .rundir import run_dir_lock

    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    run_dir = Path(cfg.output.dir) if cfg.output.dir else Path(hc.runtime.output_dir)
    _RUN["dir"] = run_dir
    if cfg.output.dir:
        _RUN["resume"] = "Run the same command again to resume."
    elif str(hc.mode) == "RunMode.MULTIRUN":
        _RUN["resume"] = f"Resume with the same command plus hydra.sweep.dir={hc.sweep.dir}"
    else:
        _RUN["resume"] = f"Resume with the same command plus output.dir={run_dir}"
    try:
        from .resources import check_writable_dir

        check_writable_dir("output.dir" if cfg.output.dir else "hydra.run.dir", run_dir)
        with run_dir_lock(run_dir):  # held through the report, so a second run cannot mix into it
            res = api.run(overrides, out_dir=run_dir, progress=bool(cfg.run.progress))
            try:
                _after_run(res, run_dir)
            except OSError as exc:
                _io_failure(exc)
    except ConfigError as err:
        _fail(err)
    except OSError as exc:  # a full disk, a directory made read-only mid-run
        _io_failure(exc)
    except MemoryError:
        print(f"alliance-sim: out of memory; finished chunks are kept under {run_dir / 'chunks'}; lower "
              f"run.max_memory_gb so the pre-run estimate refuses such runs", file=sys.stderr)
        sys.exit(1)
    except Exception:
        if _RUN.get("interrupted"):  # e.g. an import cut short by Ctrl-C fails with its own error
            raise KeyboardInterrupt from None
        raise


def _after_run(res, run_dir: Path) -> None:
    """Print the summary (and calibration table), then build the report."""
    from .report import print_summary, run_reporters

    m = res.manifest
    if m.get("chunks_reused"):
        print(f"alliance-sim: reused {m['chunks_reused']} of {m['chunks_total']} chunks from {run_dir / 'chunks'}; "
              f"computed {m['chunks_computed']}", file=sys.stderr)
    print_summary(res)
    run_reporters(res, run_dir)  # the report and calibration table, registered by analysis.cli


def _sweep_plan(argv: list[str]) -> tuple[bool, list[str], list[tuple[str, list[str]]]]:
    """Whether to check; the fixed overrides; each swept key with the override of each of its values."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        args, _ = get_args_parser().parse_known_args(argv)
    except SystemExit:  # argparse has printed its usage error; let Hydra report it the same way
        return False, [], []
    if (args.help or args.hydra_help or args.shell_completion or args.info is not None or args.config_path
            or args.config_name or args.config_dir or args.experimental_rerun):
        return False, [], []
    mine = [a for a in args.overrides if not a.lstrip("+~").startswith("hydra")]
    if not args.multirun:
        return True, mine, []
    try:
        parsed = OverridesParser.create().parse_overrides(mine)
    except Exception:  # the parse error is reported by composing the raw overrides
        return True, mine, []
    optimiser = any(a.lstrip("+~").startswith("hydra/sweeper") for a in args.overrides)
    fixed, sweeps = [], []
    for o in parsed:
        lhs = o.input_line.split("=", 1)[0]
        if not o.is_sweep_override():
            fixed.append(o.input_line)
            continue
        try:
            values = list(o.sweep_string_iterator())
        except Exception:  # interval(...) and other sweeps only an optimiser can enumerate
            if optimiser:
                continue
            raise ConfigError(o.key_or_group, o.input_line.split("=", 1)[1],
                              "values the basic sweeper can list: a,b,c, range(start,stop[,step]) or choice(...); "
                              "interval(...) needs an optimising sweeper (hydra/sweeper=...)") from None
        sweeps.append((override_key(lhs), [f"{lhs}={v}" for v in values]))
    return True, fixed, sweeps


def _plain(key: str, values: list[str]) -> bool:
    """A swept key whose values can be set on a composed config without composing again."""
    return ("." in key and not key.startswith("hydra") and "/" not in key
            and not any(v.split("=", 1)[0].startswith(("+", "~")) or "${" in v for v in values))


def _path(key: str) -> list[str]:
    return re.sub(r"\[(\d+)\]", r".\1", key).split(".")


def _get(obj: Any, key: str) -> Any:
    for part in _path(key):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def _with(obj: Any, key: str, value: Any) -> Any:
    """A copy of ``obj`` with ``key`` set to ``value``: only the objects on the key's path are copied."""
    parts = _path(key)
    top = copy.copy(obj)
    node = top
    for part in parts[:-1]:
        child = copy.copy(node[int(part)] if part.isdigit() else getattr(node, part))
        if part.isdigit():
            node[int(part)] = child
        else:
            setattr(node, part, child)
        node = child
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        setattr(node, last, value)
    return top


_UNSET = object()


def _typed_value(cfg: Any, override: str) -> Any:
    """The typed value ``override`` would give its field of ``cfg``, or _UNSET if only composing can tell."""
    import typing

    from hydra.core.override_parser.overrides_parser import OverridesParser

    from .validate import type_ok

    key, _ = override.split("=", 1)
    *head, last = _path(override_key(key))
    try:
        value = OverridesParser.create().parse_overrides([override])[0].value()
        parent = _get(cfg, ".".join(head)) if head else cfg
        hint = typing.get_type_hints(type(parent))[last]
    except Exception:  # an unknown key, a list item, an odd value: compose it
        return _UNSET
    if isinstance(value, int) and not isinstance(value, bool) and float in (hint, *typing.get_args(hint)):
        value = float(value)
    if isinstance(value, list) and typing.get_origin(hint) is list and typing.get_args(hint) == (float,):
        value = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value if type_ok(hint, value) else _UNSET


def check_sweep(fixed: list[str], sweeps: list[tuple[str, list[str]]]) -> int:
    """Check every job of a sweep before the first runs; returns the number of jobs checked.

    Keys that select config groups or experiments are composed in full for each combination
    of their values. Every other (``a.b=value``) value is parsed once and set field by field
    on those composed configs, and each combination is checked again in full (types, hard
    ranges, field rules, cross-field checks, memory estimate): a fraction of a millisecond
    per job instead of a Hydra composition. A value that cannot be set that way (an unknown
    key, a value of the wrong type) is composed, which reports it.
    """
    from . import api
    from .bounds import warn_implausible
    from .validate import validate

    built: dict[tuple[str, ...], tuple[Any, list]] = {}

    def build(overrides: list[str]) -> tuple[Any, list]:
        k = tuple(overrides)
        if k not in built:
            built[k] = api.build_scenarios(overrides)
        return built[k]

    if not sweeps:
        build(fixed)
        return 1
    firsts = [vals[0] for _, vals in sweeps]
    plain = [i for i, (k, vals) in enumerate(sweeps) if _plain(k, vals)]
    other = [i for i in range(len(sweeps)) if i not in plain]
    checked = 0
    for combo in itertools.product(*[sweeps[i][1] for i in other]):
        chosen = dict(zip(other, combo))
        exp, base = build(fixed + [chosen.get(i, firsts[i]) for i in range(len(sweeps))])
        values: dict[tuple[int, str], Any] = {}
        for i in plain:
            for v in sweeps[i][1]:
                typed = _typed_value(base[0].config, v)
                if typed is _UNSET:  # compose this value alone: it raises the user's error, or gives the value
                    vexp, vsc = build(fixed + [chosen.get(j, firsts[j]) if j != i else v for j in range(len(sweeps))])
                    own = next((s for s in vsc if not _sets(vexp, s.name, sweeps[i][0])), None)
                    typed = copy.deepcopy(_get(own.config, sweeps[i][0])) if own is not None else _UNSET
                values[(i, v)] = typed
        for pcombo in itertools.product(*[sweeps[i][1] for i in plain]):
            scenarios = []
            for s in base:
                cfg = s.config
                for i, v in zip(plain, pcombo):
                    if values[(i, v)] is not _UNSET and not _sets(exp, s.name, sweeps[i][0]):
                        cfg = _with(cfg, sweeps[i][0], values[(i, v)])
                validate(cfg)
                warn_implausible(cfg)
                scenarios.append(type(s)(s.name, cfg, s.overrides))
            api.check_scenarios(scenarios)
            checked += 1
    return checked


def _sets(exp: Any, scenario: str, key: str) -> bool:
    """Whether an experiment's scenario sets ``key`` itself (then the command line does not apply)."""
    if exp is None:
        return False
    norm = ".".join(_path(key))
    return any(".".join(_path(override_key(o))) == norm for o in exp.scenarios.get(scenario, []))


def _precheck(argv: list[str]) -> None:
    """Compose and validate every job before Hydra starts, so a bad override gets one line."""
    check, fixed, sweeps = _sweep_plan(argv)
    if not check:
        return
    _check_dirs(argv)
    check_sweep(fixed, sweeps)


def _check_dirs(argv: list[str]) -> None:
    """Refuse Hydra run/sweep directories that are files or cannot be written (Hydra creates them first)."""
    from .resources import check_writable_dir

    multirun = any(a in ("-m", "--multirun") for a in argv)
    given = {a.split("=", 1)[0].lstrip("+~"): a.split("=", 1)[1] for a in argv if "=" in a}
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    target = given.get(key, "multirun" if multirun else "outputs")
    if "${" not in target:
        check_writable_dir(key, target)


DEFAULT_EXPERIMENT = "default"


def experiment_when_unnamed(argv: list[str]) -> str:
    """The default experiment, or null (one scenario) when the command line picks a group option its scenarios set."""
    from .experiment import load_experiment

    exp = load_experiment(DEFAULT_EXPERIMENT)
    owned = {override_key(o) for overrides in exp.scenarios.values() for o in overrides}
    picked = [a for a in argv if "=" in a and not a.startswith("-") and override_key(a) in owned]
    if not picked:
        return DEFAULT_EXPERIMENT
    print(f"alliance-sim: {picked[0]} is chosen by the default experiment's own scenarios, so it runs as one "
          "scenario (experiment=null); name an experiment to compare scenarios", file=sys.stderr)
    return "null"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Implausible values print one WARNING line; other warnings keep Python's format."""
    from .bounds import ImplausibleValue

    if issubclass(category, ImplausibleValue):
        if str(message) not in _SHOWN:
            _SHOWN.add(str(message))
            print(f"alliance-sim: WARNING: {message}", file=sys.stderr)
    else:
        _SHOW(message, category, filename, lineno, file, line)


_SHOW = warnings.showwarning
_SHOWN: set[str] = set()  # each implausible value is reported once, however often it is composed


def normalise_argv(argv: list[str]) -> list[str]:
    """Accept the bracket form the error messages print: ``a.b[0].c=5`` -> ``a.b.0.c=5``."""
    out = []
    for a in argv:
        if "=" in a and not a.startswith("-"):
            k, v = a.split("=", 1)
            if "[" in k:
                a = re.sub(r"\[(\d+)\]", r".\1", k) + "=" + v
        out.append(a)
    return out


def _io_failure(exc: OSError) -> None:
    """A file-system failure during a run: one line, what failed, and that finished chunks are kept."""
    run_dir = _RUN.get("dir")
    where = f"; finished chunks are kept under {run_dir / 'chunks'}. {_RUN.get('resume', '')}" if run_dir else ""
    target = f" {exc.filename}" if exc.filename else ""
    print(f"alliance-sim: could not write{target}: {exc.strerror or exc}{where}".rstrip(), file=sys.stderr)
    sys.exit(1)


def main() -> None:
    """The ``alliance-sim`` command: pick the default experiment, print the help page, check every job, then
    hand over to Hydra; one line for any user error."""
    warnings.showwarning = _show_warning
    sys.argv[1:] = normalise_argv(sys.argv[1:])
    # With no experiment named, the command runs the default experiment (experiment=null: one scenario).
    if not any(a.split("=", 1)[0].lstrip("+~") == "experiment" for a in sys.argv[1:] if "=" in a):
        sys.argv.append(f"experiment={experiment_when_unnamed(sys.argv[1:])}")
    if any(a in ("--help", "-h") for a in sys.argv[1:]):  # a short page for new users before Hydra's dump
        from .cli_help import help_page

        print(help_page(), flush=True)
    interruptible(_checked_app)


def _checked_app() -> None:
    """Check every job (warnings held back, so a refused command prints one line), then run Hydra."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _precheck(sys.argv[1:])
        for w in caught:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        _app()
    except ConfigError as err:
        _fail(err)


def interruptible(body: Callable[[], object]) -> None:
    """Run ``body``; Ctrl-C anywhere in it prints the one line and exits 130, a Ctrl-C after it is ignored."""
    _RUN.pop("done", None)
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        try:
            body()
            _RUN["done"] = True  # from here a Ctrl-C changes nothing (the handler ignores it)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except Exception:
            if _RUN.get("interrupted"):  # an error Ctrl-C caused (an import cut short) is the interrupt
                raise KeyboardInterrupt from None
            raise
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C cannot cut the line short
        if _RUN.get("done"):  # the signal came between the run's end and ignoring it: the run finished
            return
        run_dir = _RUN.get("dir")
        where = f" under {run_dir / 'chunks'}" if run_dir is not None else ""
        print(f"\nalliance-sim: interrupted; finished chunks are kept{where}. "
              f"{_RUN.get('resume', 'Nothing was simulated yet.')}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Everything worth keeping is on disk (atomically); skip interpreter teardown, whose
        # exit hooks (executor threads, Dask) are what could hang or print after the line.
        os._exit(130)


def _on_sigint(signum, frame) -> None:
    """Ctrl-C: remember it (an error it causes is reported as the interrupt), then interrupt; ignored once done."""
    if _RUN.get("done"):
        return
    _RUN["interrupted"] = True
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
