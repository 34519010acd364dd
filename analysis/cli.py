"""The ``alliance-sim`` command: the simulation's command line, then the report and calibration table.

``simulation.cli.main`` runs and prints the summary; this module plugs in what analysis
builds from the saved run (``simulation.report.register_reporter``), so that ``simulation/``
never imports ``analysis/``. The same reporter is declared as an entry point
(``alliance_sim.reporters`` in pyproject.toml) for Hydra jobs that run in other processes.
"""

from __future__ import annotations

from pathlib import Path

from simulation.report import register_reporter
from simulation.runner import Results


def after_run(res: Results, run_dir: Path) -> None:
    """Write the calibration table (calibration experiments) and the report into ``run_dir``."""
    from analysis.calibration import format_table, write_calibration
    from analysis.report import build_report

    extra = res.experiment.extra if res.experiment else {}
    if extra.get("report") == "calibration":
        print("\nCalibration (targets in ../shared/CALIBRATION.md; calibration.csv in the run directory):")
        print(format_table(write_calibration(run_dir, res.tables, extra)))
    build_report(run_dir)


def main() -> None:
    """Entry point of ``alliance-sim``: register the reporters, then run the simulation's command line."""
    from simulation.cli import main as simulation_main

    register_reporter("analysis", after_run)
    simulation_main()


if __name__ == "__main__":
    main()
