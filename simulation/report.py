"""What the command line prints after a run, and the post-run reporters other packages plug in.

The summary states the measured period, the unit of every number, its 95% interval and
the paired difference from the baseline, for the experiment's own KPIs. Reporters (the
HTML report, the calibration table) live in ``analysis/`` and register here, so that
``simulation/`` never imports ``analysis/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .kpis import default_kpis, kpi_columns, kpi_info
from .runner import Results
from .summary import INTERVALS

Reporter = Callable[[Results, Path], None]
# Installed packages may declare reporters as entry points in this group (analysis does, in
# pyproject.toml), so that Hydra jobs in other processes (joblib, SLURM) find them too.
REPORTER_GROUP = "alliance_sim.reporters"
_REPORTERS: dict[str, Reporter] = {}
_DISCOVERED = False


def register_reporter(name: str, reporter: Reporter) -> None:
    """Run ``reporter(results, run_dir)`` after every command-line run (a later registration replaces it)."""
    _REPORTERS[name] = reporter


def reporters() -> dict[str, Reporter]:
    """The registered reporters, plus those declared as entry points (discovered once)."""
    global _DISCOVERED
    if not _DISCOVERED:
        from importlib.metadata import entry_points

        _DISCOVERED = True
        for ep in entry_points(group=REPORTER_GROUP):
            if ep.name not in _REPORTERS:
                try:
                    _REPORTERS[ep.name] = ep.load()
                except ImportError:  # the package declaring it is not importable here: no report
                    continue
    return dict(_REPORTERS)


def run_reporters(res: Results, run_dir: Path) -> None:
    """Call every reporter, in registration order, after a run written to ``run_dir``."""
    for reporter in reporters().values():
        reporter(res, run_dir)


def fmt_number(kpi: str, v: float, diff: bool = False) -> str:
    """A KPI value in its display unit: proportions as % (differences in percentage points)."""
    if v is None or not np.isfinite(v):
        return "–"
    if kpi_info(kpi).is_proportion:
        return f"{100 * v:+.1f}" if diff else f"{100 * v:.1f}"
    return f"{v:+.2f}" if diff else f"{v:.2f}"


def fmt_with_ci(kpi: str, m: float, lo: float, hi: float, diff: bool = False) -> str:
    """"19.8 [18.9, 20.7]": the value and its interval in the KPI's display unit."""
    if m is None or not np.isfinite(m):
        return "–"
    if lo is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return fmt_number(kpi, m, diff)
    return f"{fmt_number(kpi, m, diff)} [{fmt_number(kpi, lo, diff)}, {fmt_number(kpi, hi, diff)}]"


def display_unit(kpi: str, diff: bool = False) -> str:
    """The unit the summary prints a KPI in: %, percentage points, or the KPI's own unit."""
    info = kpi_info(kpi)
    if info.is_proportion:
        return "pp" if diff else "%"
    return info.unit


def measured_period(res: Results) -> str:
    """One sentence: how long each replication measured, and the warm-up it left out."""
    def period(horizon: float, warmup: float) -> str:
        return f"{horizon:g} days ({horizon / 365.25:.1f} years) after a {warmup:g}-day warm-up that is not counted"

    runs = {s.name: (s.config.run.horizon_days, s.config.run.warmup_days) for s in res.scenarios}
    if len(set(runs.values())) == 1:
        return (f"Measured period: {period(*next(iter(runs.values())))} per replication; patients referred during "
                "the warm-up are not measured.")
    return ("Measured periods per replication (patients referred during the warm-up are not measured): "
            + "; ".join(f"{name}: {period(*hw)}" for name, hw in runs.items()) + ".")


def summary_text(res: Results) -> str:
    """The printed summary: period, replications, each scenario's KPIs with units and intervals, differences."""
    summary = res.tables["summary"]
    k = res.tables["kpis"]
    exp = res.experiment
    baseline = exp.baseline if exp else None
    names = kpi_columns(default_kpis(exp.kpis if exp else None), list(k.columns))
    n = int(k.groupby("scenario").size().max()) if len(k) else 0
    lines = [measured_period(res),
             f"{n} replication(s) per scenario. 95% intervals across replications. Proportions: "
             f"{INTERVALS['logit']}. Counts, lengths and waits: {INTERVALS['t0']}."
             + (f" Differences from the baseline: {INTERVALS['paired t']}." if baseline else "")
             + (" Few replications give very wide intervals: use run.replications=10 or more for decisions."
                if n < 5 else "")
             + (" Parameters: posterior draws (run.parameters=posterior): replication r uses draw r, so the "
                "intervals include parameter uncertainty." if res.scenarios
                and res.scenarios[0].config.run.parameters == "posterior" else
                " Parameters: the calibrated point values (run.parameters=point): the intervals show Monte "
                "Carlo noise only.")]
    s = summary.set_index(["scenario", "kpi"])
    points = (exp.extra.get("sensitivity_points") or []) if exp else []
    hidden = {n for p in points for n in (p["scenario"], p["reference"]) if str(n).startswith("sens_")}
    if hidden:
        lines.append(f"{len(hidden)} sensitivity scenarios (sens_*) are summarised in the report's "
                     "analysis/sensitivity.csv, not here.")
    for sc in [x.name for x in res.scenarios if x.name not in hidden]:
        rows = []
        for kpi in names:
            if (sc, kpi) not in s.index:
                continue
            r = s.loc[(sc, kpi)]
            row = {"KPI": kpi_info(kpi).label, "name": kpi, "unit": display_unit(kpi),
                   "mean [95% CI]": fmt_with_ci(kpi, r["mean"], r["ci_low"], r["ci_high"])}
            if baseline and sc != baseline:
                d = fmt_with_ci(kpi, r["diff"], r["diff_ci_low"], r["diff_ci_high"], diff=True)
                row[f"vs {baseline} [paired 95% CI]"] = d if d == "–" else f"{d} {display_unit(kpi, diff=True)}"
            rows.append(row)
        title = sc + (" (baseline)" if sc == baseline else "")
        lines += ["", title, pd.DataFrame(rows).to_string(index=False) if rows else "  (no KPIs)"]
    if baseline and "staff_cost" in names:
        lines += ["", costs_text(res, baseline)]
    lines += ["", "Definitions:"] + [f"  {kpi_info(kpi).label} ({kpi}): {kpi_info(kpi).definition}" for kpi in names]
    return "\n".join(lines)


def costs_text(res: Results, baseline: str) -> str:
    """Extra staff cost, dropouts avoided and cost per dropout avoided of each scenario against the baseline."""
    from .costs import cost_per_dropout_avoided

    table = cost_per_dropout_avoided(res.tables["kpis"], baseline)
    price_year = res.scenarios[0].config.costs.price_year
    rows = [{"scenario": r.scenario, "extra staff cost (GBP)": f"{r.extra_cost:+,.0f}",
             "dropouts avoided": f"{r.dropouts_avoided:+.1f}",
             "cost per dropout avoided (GBP)": (f"{r.cost_per_dropout_avoided:,.0f}"
                                                if np.isfinite(r.cost_per_dropout_avoided) else "– (none avoided)")}
            for r in table.itertuples()]
    return (f"Costs against {baseline} (GBP at {price_year} prices; means of paired replication differences over "
            "the measured period; dropouts avoided = (baseline - scenario dropout_rate) x the scenario's patients who "
            "started; a negative cost per dropout avoided means fewer dropouts for less money):\n"
            + (pd.DataFrame(rows).to_string(index=False) if rows else "  (no other scenario)"))


def print_summary(res: Results) -> None:
    """Print :func:`summary_text`, and where the run's files are."""
    print("\n" + summary_text(res))
    if res.run_dir is not None:
        print(f"\nTables, manifest and report: {res.run_dir}")

