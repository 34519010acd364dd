"""``python -m analysis report RUN_DIR``, ``collect SWEEP_DIR`` and ``sensitivity EXPERIMENT``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    """Parse the subcommand and run it; bad input prints one line and exits 2."""
    from simulation.errors import ConfigError

    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="regenerate figures and the report of a run directory from its tables")
    rep.add_argument("run_dir", type=Path)
    rep.add_argument("--figures", nargs="*", help="figures to draw (default: the experiment's list)")
    col = sub.add_parser("collect", help="gather a Hydra multirun sweep into one table and plot a KPI")
    col.add_argument("sweep_dir", type=Path)
    col.add_argument("--kpi", default="dropout_rate", help="KPI to plot (default: dropout_rate)")
    col.add_argument("--param", default=None, help="swept parameter for the x axis (default: the first swept)")
    col.add_argument("--out", type=Path, default=None, help="output directory (default: SWEEP_DIR)")
    from analysis.sensitivity import add_parser as add_sensitivity

    add_sensitivity(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "report":
            from analysis.report import build_report

            out = build_report(args.run_dir, figures=args.figures or None)
            print(f"report: {out} (and {out.with_suffix('.md').name})")
        elif args.command == "sensitivity":
            from analysis.sensitivity import main as sensitivity

            return sensitivity(args)
        else:
            from analysis.collect import collect

            table, files = collect(args.sweep_dir, kpi=args.kpi, param=args.param, out_dir=args.out)
            print(f"{len(table)} row(s) from {table['job'].nunique()} job(s); wrote " + ", ".join(map(str, files)))
    except ConfigError as err:
        print(f"python -m analysis {args.command}: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as err:
        print(f"python -m analysis {args.command}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
