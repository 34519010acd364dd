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

import itertools
import os
import signal
import sys
from pathlib import Path
from typing import Callable

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .config import register_schema
from .errors import ConfigError

register_schema()

_RUN = {}  # the current job's run directory, for the interrupt message
MAX_SWEEP_CHECKS = 512  # sweeps larger than this validate each value once instead of every combination


def _fail(err: ConfigError) -> None:
    print(f"alliance-sim: {err}", file=sys.stderr)
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
        with run_dir_lock(run_dir):  # held through the report, so a second run cannot mix into it
            _run_and_report(api, overrides, run_dir, cfg)
    except ConfigError as err:
        _fail(err)
    except Exception:
        if _RUN.get("interrupted"):  # e.g. an import cut short by Ctrl-C fails with its own error
            raise KeyboardInterrupt from None
        raise


def _run_and_report(api, overrides: list[str], run_dir: Path, cfg: DictConfig) -> None:
    """Run, print the summary, then the post-run reporters (report, calibration table), run directory locked."""
    from .report import print_summary, run_reporters

    res = api.run(overrides, out_dir=run_dir, progress=bool(cfg.run.progress))
    m = res.manifest
    if m.get("chunks_reused"):
        print(f"alliance-sim: reused {m['chunks_reused']} of {m['chunks_total']} chunks from {run_dir / 'chunks'}; "
              f"computed {m['chunks_computed']}", file=sys.stderr)
    print_summary(res)
    run_reporters(res, run_dir)  # the report and calibration table, registered by analysis.cli


def _job_overrides(argv: list[str]) -> tuple[bool, list[list[str]]]:
    """Whether to check, and the override list of every job the command would run."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        args, _ = get_args_parser().parse_known_args(argv)
    except SystemExit:  # argparse has printed its usage error; let Hydra report it the same way
        return False, []
    if (args.help or args.hydra_help or args.shell_completion or args.info is not None or args.config_path
            or args.config_name or args.config_dir or args.experimental_rerun):
        return False, []
    mine = [a for a in args.overrides if not a.lstrip("+~").startswith("hydra")]
    if not args.multirun:
        return True, [mine]
    try:
        parsed = OverridesParser.create().parse_overrides(mine)
    except Exception:  # the parse error is reported by composing the raw overrides
        return True, [mine]
    fixed, sweeps = [], []
    for o in parsed:
        lhs = o.input_line.split("=", 1)[0]
        if o.is_sweep_override():
            try:
                sweeps.append([f"{lhs}={v}" for v in o.sweep_string_iterator()])
            except Exception:  # interval sweeps (optimisers) cannot be enumerated
                continue
        else:
            fixed.append(o.input_line)
    if not sweeps:
        return True, [fixed]
    n = 1
    for s in sweeps:
        n *= len(s)
    if n <= MAX_SWEEP_CHECKS:
        return True, [fixed + list(combo) for combo in itertools.product(*sweeps)]
    firsts = [s[0] for s in sweeps]
    jobs = []
    for i, s in enumerate(sweeps):
        for v in s:
            jobs.append(fixed + firsts[:i] + [v] + firsts[i + 1:])
    return True, jobs


def _precheck(argv: list[str]) -> None:
    """Compose and validate every job before Hydra starts, so a bad override gets one line."""
    check, jobs = _job_overrides(argv)
    if not check:
        return
    from . import api

    for overrides in jobs:
        try:
            api.build_scenarios(overrides)
        except ConfigError as err:
            _fail(err)


DEFAULT_EXPERIMENT = "default"


def main() -> None:
    """The ``alliance-sim`` command: pick the default experiment, print the help page, check, then run."""
    # With no experiment named, the command runs the default experiment (experiment=null: one scenario).
    if not any(a.split("=", 1)[0].lstrip("+~") == "experiment" for a in sys.argv[1:] if "=" in a):
        sys.argv.append(f"experiment={DEFAULT_EXPERIMENT}")
    if any(a in ("--help", "-h") for a in sys.argv[1:]):  # a short page for new users before Hydra's dump
        from .cli_help import help_page

        print(help_page(), flush=True)
    interruptible(lambda: (_precheck(sys.argv[1:]), _app()))


def interruptible(body: Callable[[], object]) -> None:
    """Run ``body``; Ctrl-C anywhere in it prints the one line and exits 130, a Ctrl-C after it is ignored."""
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        try:
            body()
        except Exception:
            if _RUN.get("interrupted"):  # an error Ctrl-C caused (an import cut short) is the interrupt
                raise KeyboardInterrupt from None
            raise
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C cannot cut the line short
        run_dir = _RUN.get("dir")
        where = f" under {run_dir / 'chunks'}" if run_dir is not None else ""
        print(f"\nalliance-sim: interrupted; finished chunks are kept{where}. "
              f"{_RUN.get('resume', 'Nothing was simulated yet.')}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Everything worth keeping is on disk (atomically); skip interpreter teardown, whose
        # exit hooks (executor threads, Dask) are what could hang or print after the line.
        os._exit(130)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # finished: a late Ctrl-C cannot turn into a traceback


def _on_sigint(signum, frame) -> None:
    """Ctrl-C: remember it (an error it causes is reported as the interrupt), then interrupt."""
    _RUN["interrupted"] = True
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
