"""The ``alliance-sim`` command: a Hydra app around :func:`simulation.api.run`.

User mistakes (bad keys, values out of range, unknown experiments) print one line naming
the key, the value and what is allowed, and exit with status 2, without a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .config import register_schema
from .errors import ConfigError

register_schema()


def _fail(err: ConfigError) -> None:
    print(f"alliance-sim: {err}", file=sys.stderr)
    sys.exit(2)


@hydra.main(config_path=str(Path(__file__).resolve().parents[1] / "configs"), config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    from . import api
    from .report import print_summary

    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    run_dir = Path(cfg.output.dir) if cfg.output.dir else Path(hc.runtime.output_dir)
    try:
        res = api.run(overrides, out_dir=run_dir, progress=bool(cfg.run.progress))
    except ConfigError as err:
        _fail(err)
    print_summary(res)
    extra = res.experiment.extra if res.experiment else {}
    if extra.get("report") == "calibration":
        from analysis.calibration import format_table, write_calibration

        print("\nCalibration (targets in ../shared/CALIBRATION.md; calibration.csv in the run directory):")
        print(format_table(write_calibration(run_dir, res.tables, extra)))
    try:
        from analysis.report import build_report
    except ImportError:
        return
    build_report(run_dir)


def _precheck(argv: list[str]) -> None:
    """Compose once before Hydra does, so a bad override gets our one-line error."""
    if any(a in ("-m", "--multirun") or a.startswith("-") for a in argv):
        return
    from . import api

    try:
        api.load_config([a for a in argv if "=" in a and not a.startswith("hydra")])
    except ConfigError as err:
        _fail(err)


def main() -> None:
    _precheck(sys.argv[1:])
    _app()


if __name__ == "__main__":
    main()
