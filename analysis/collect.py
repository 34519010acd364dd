"""Gather a Hydra multirun sweep (``alliance-sim -m ...``) into one table and one plot.

Each job directory of the sweep (``SWEEP_DIR/N/``) holds a finished run (manifest.json,
summary table) and Hydra's ``.hydra/overrides.yaml``. The collected table has one row per
job and scenario (one row per job for one-scenario experiments): the job number, the
swept parameters as columns (keys whose values differ between jobs), and each KPI's mean
with its 95% interval across the job's replications.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import yaml

from simulation.io import read_manifest, read_table
from simulation.kpis import is_kpi, kpi_info


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Finished job directories under ``sweep_dir`` (those with a manifest), in job order."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"no sweep directory {sweep_dir}")
    found = [p.parent for p in sweep_dir.rglob("manifest.json") if "chunks" not in p.parts]
    if (sweep_dir / "manifest.json").exists():
        found = [sweep_dir]
    if not found:
        raise FileNotFoundError(f"no finished runs (manifest.json) under {sweep_dir}")

    def key(p: Path):
        return (0, int(p.name), "") if p.name.isdigit() else (1, 0, str(p))

    return sorted(set(found), key=key)


def job_overrides(job: Path) -> list[str]:
    """The job's command-line overrides (Hydra's record; else the baseline scenario's)."""
    hydra = job / ".hydra" / "overrides.yaml"
    if hydra.exists():
        return [str(o) for o in (yaml.safe_load(hydra.read_text()) or [])]
    m = read_manifest(job)
    scen = m.get("scenarios") or {}
    first = next(iter(scen.values()), {})
    return [o for o in first.get("overrides", []) if not o.startswith("run.name=")]


def _parse(value: str):
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def collect(sweep_dir: Path, kpi: str = "dropout_rate", param: Optional[str] = None,
            out_dir: Optional[Path] = None) -> tuple[pd.DataFrame, list[Path]]:
    """Collect every job; write ``collected.csv`` and ``collected_<kpi>.png``; return (table, files)."""
    if not is_kpi(kpi):
        from simulation.kpis import KPI_NAMES

        raise ValueError(f"unknown KPI {kpi!r}; known: {', '.join(KPI_NAMES)} (per discipline: NAME_<discipline>)")
    jobs = job_dirs(Path(sweep_dir))
    settings, raw = [], []
    for j in jobs:
        d = {}
        raw.append(job_overrides(j))
        for o in raw[-1]:
            k, _, v = o.partition("=")
            d[k.lstrip("+~")] = _parse(v)
        settings.append(d)
    keys = list(dict.fromkeys(k for s in settings for k in s))
    swept = [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1] or keys
    rows = []
    for j, s, r in zip(jobs, settings, raw):
        summary = read_table(j, "summary")
        base = {"job": j.name, "overrides": " ".join(r)}
        base.update({k: s.get(k) for k in swept})
        for scenario, g in summary.groupby("scenario", sort=False):
            row = dict(base, scenario=scenario)
            for r in g.itertuples():
                row[r.kpi] = r.mean
                row[f"{r.kpi}_ci_low"] = r.ci_low
                row[f"{r.kpi}_ci_high"] = r.ci_high
            row["replications"] = int(g["n_replications"].max())
            rows.append(row)
    table = pd.DataFrame(rows)
    out_dir = Path(out_dir) if out_dir else Path(sweep_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / "collected.csv"]
    table.to_csv(files[0], index=False)
    if param is None:
        param = swept[0] if swept else None
    if param is not None:
        if param not in table.columns:
            raise ValueError(f"parameter {param!r} was not swept; swept: {', '.join(swept)}")
        files.append(plot_sweep(table, kpi, param, [k for k in swept if k != param], out_dir))
    return table, files


def plot_sweep(table: pd.DataFrame, kpi: str, param: str, others: list[str], out_dir: Path) -> Path:
    """One KPI against the swept parameter, one line per scenario and other swept setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.labels import kpi_axis_label, kpi_label, kpi_scale, readable

    sc = kpi_scale(kpi)
    numeric = pd.to_numeric(table[param], errors="coerce").notna().all()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    group_cols = [c for c in ["scenario", *others] if c in table.columns]
    for i, (gkey, g) in enumerate(table.groupby(group_cols, sort=False)):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        label = ", ".join(f"{readable(c.split('.')[-1]).lower()} = {v}" if c != "scenario" else readable(v)
                          for c, v in zip(group_cols, gkey))
        if numeric:
            g = g.assign(_x=pd.to_numeric(g[param])).sort_values("_x")
            x = g["_x"].to_numpy(dtype=float)
        else:
            cats = list(dict.fromkeys(table[param].astype(str)))
            x = np.array([cats.index(str(v)) for v in g[param]], dtype=float)
            ax.set_xticks(range(len(cats)))
            ax.set_xticklabels(cats)
        y = g[kpi].to_numpy(dtype=float) * sc
        lo = g[f"{kpi}_ci_low"].to_numpy(dtype=float) * sc
        hi = g[f"{kpi}_ci_high"].to_numpy(dtype=float) * sc
        if sc == 100.0:  # a share's interval cannot leave 0-100%
            lo, hi = np.clip(lo, 0, 100), np.clip(hi, 0, 100)
        ax.errorbar(x, y, yerr=[np.clip(np.nan_to_num(y - lo), 0, None), np.clip(np.nan_to_num(hi - y), 0, None)],
                    fmt="o-", capsize=4,
                    color=f"C{i}", label=label)
    ax.set_xlabel(f"{readable(param.split('.')[-1])} ({param})")
    ax.set_ylabel(kpi_axis_label(kpi))
    ax.set_ylim(0, max(1e-9, ax.dataLim.ymax) * 1.1)  # every KPI is non-negative: the axis starts at zero
    reps = int(table["replications"].min())
    warn = "; few replications give wide intervals: add run.replications=10" if reps < 5 else ""
    ax.set_title(f"{kpi_label(kpi)} against {readable(param.split('.')[-1]).lower()}: sweep of "
                 f"{table['job'].nunique()} jobs\n"
                 f"mean and 95% interval over {reps} replication(s) per job{warn}\n({kpi_info(kpi).definition})",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    path = out_dir / f"collected_{kpi}.png"
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path
