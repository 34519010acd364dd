"""Parameter search helper used to calibrate reference A (not run by tests).

    .venv/bin/python -m analysis.calibrate [--reps N] [--boot B] key=value ...

Runs the talking-therapy configuration with the given overrides, prints the
calibration table (analysis.calibration) and the service-load KPIs (utilisation, wait),
so one can change a few parameters, look, and change again. Each call is one point of
the search recorded in notes/issue-3.md.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from analysis.calibration import calibration_table, format_table
from simulation.api import run


def main() -> None:
    """Print the calibration table for a configuration given as key=value overrides (hand tuning)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--boot", type=int, default=0, help="bootstrap resamples for pooled targets (0: none)")
    ap.add_argument("--brief", action="store_true", help="numbers only")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    t0 = time.time()
    res = run([f"run.replications={args.reps}", "run.progress=false", *args.overrides])
    refs = {s.name: "talking_therapy" for s in res.scenarios}
    table = calibration_table(res.tables, {"references": refs}, n_boot=args.boot)
    pd.set_option("display.width", 200)
    if args.brief:
        print(table[["target", "accepted_low", "accepted_high", "simulated", "ci_low", "ci_high", "inside"]]
              .round(3).to_string(index=False))
    else:
        print(format_table(table))
    k = res.tables["kpis"]
    cols = [c for c in res.kpis.columns if c.startswith("utilisation_")] + [
        "mean_wait_weeks", "mean_waiting", "dropout_rate", "attender_dropout_rate", "dna_discharge_rate",
        "reliable_recovery_rate", "iapt_recovery_rate", "mean_sessions", "rupture_patient_share", "repair_share",
        "left_waiting_list_rate"]
    print(k[cols].mean().round(3).to_frame().T.to_string(index=False))
    p = res.tables["patients"]
    m = p[p["measured"] & (p["sessions_attended"] > 0)]
    print(m["exit_reason"].value_counts(normalize=True).round(3).to_frame().T.to_string(index=False))
    print(f"{time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
