"""Parameter search helper for calibrating a reference configuration by hand (not run by tests).

    .venv/bin/python -m analysis.calibrate [reference=NAME] [--reps N] [--boot B] [--brief] key=value ...

Runs the reference configuration (``reference=talking_therapy``, the default, or
``reference=community_team``) with the given overrides and prints, for that reference's
fitted targets, each estimate and its standardised distance from the centre of its accepted
range, with their root mean square: the estimates and the distance the automatic fit
(``python -m analysis.infer``) uses (``analysis.infer.estimate_targets``, one definition).
Without ``--brief`` it also prints the full calibration table (fitted and validation targets,
``analysis.calibration``) and the service-load KPIs (utilisation, wait), so one can change a
few parameters, look, and change again. Validation targets are shown, never searched on.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional, Sequence

import pandas as pd

from analysis.calibration import calibration_table, format_table
from analysis.infer import estimate_targets, fitted_targets, rms_distance, standardised, target_key

DEFAULT_REFERENCE = "talking_therapy"


def reference_of(overrides: Sequence[str]) -> str:
    """The reference a list of overrides selects (the last ``reference=NAME``; the config's default otherwise)."""
    refs = [o.split("=", 1)[1] for o in overrides if o.startswith("reference=")]
    return refs[-1] if refs else DEFAULT_REFERENCE


def fit_distance(tables: dict[str, pd.DataFrame], reference: str) -> tuple[pd.DataFrame, float]:
    """Each fitted target's estimate, accepted range and z, and the RMS distance: what the ABC fit computes."""
    targets = fitted_targets(reference)
    values = estimate_targets(tables, targets)
    z = standardised(values, targets)
    rows = pd.DataFrame({"target": [t.number for t in targets], "accepted_low": [t.low for t in targets],
                         "accepted_high": [t.high for t in targets],
                         "simulated": [values[target_key(t)] for t in targets], "z": z,
                         "inside": [t.inside(values[target_key(t)]) for t in targets]})
    return rows, rms_distance(values, targets)


def scenario_tables(tables: dict[str, pd.DataFrame], scenario: str) -> dict[str, pd.DataFrame]:
    """One scenario's rows of every table that has a scenario column (what estimate_targets expects)."""
    return {name: df[df["scenario"] == scenario] for name, df in tables.items()
            if isinstance(df, pd.DataFrame) and "scenario" in df.columns}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the fitted targets, their distance and the calibration table for key=value overrides (hand tuning)."""
    from simulation.api import run
    from simulation.errors import ConfigError

    ap = argparse.ArgumentParser(prog="python -m analysis.calibrate", description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--boot", type=int, default=0, help="bootstrap resamples for pooled targets (0: none)")
    ap.add_argument("--brief", action="store_true", help="the fitted targets' estimates and distance only")
    ap.add_argument("overrides", nargs="*", help="reference=NAME (default talking_therapy) and key=value overrides")
    args = ap.parse_args(argv)
    t0 = time.time()
    reference = reference_of(args.overrides)
    if not fitted_targets(reference):
        print(f"python -m analysis.calibrate: reference={reference!r} has no fitted targets", file=sys.stderr)
        return 2
    try:
        res = run([f"run.replications={args.reps}", "run.progress=false", *args.overrides])
    except ConfigError as err:
        print(f"python -m analysis.calibrate: {err}", file=sys.stderr)
        return 2
    pd.set_option("display.width", 200)
    for s in res.scenarios:
        rows, distance = fit_distance(scenario_tables(res.tables, s.name), reference)
        print(f"{s.name} (reference {reference}): {int(rows['inside'].sum())} of {len(rows)} fitted targets inside; "
              f"RMS distance {distance:.3f} (z = |simulated - centre| / half-width, 1 = on the range's edge; "
              "the distance the ABC fit minimises)")
        print(rows.round(3).to_string(index=False))
    if not args.brief:
        refs = {s.name: reference for s in res.scenarios}
        print(format_table(calibration_table(res.tables, {"references": refs}, n_boot=args.boot)))
        k = res.tables["kpis"]
        cols = [c for c in k.columns if c.startswith("utilisation_")] + [
            "mean_wait_weeks", "mean_waiting", "dropout_rate", "attender_dropout_rate", "dna_discharge_rate",
            "reliable_recovery_rate", "iapt_recovery_rate", "mean_sessions", "rupture_patient_share", "repair_share",
            "left_waiting_list_rate"]
        print(k[cols].mean().round(3).to_frame().T.to_string(index=False))
        p = res.tables["patients"]
        m = p[p["measured"] & (p["sessions_attended"] > 0)]
        print(m["exit_reason"].value_counts(normalize=True).round(3).to_frame().T.to_string(index=False))
    print(f"{time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
