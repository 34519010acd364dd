"""Global sensitivity: which parameters drive a KPI over their prior ranges (SALib Morris or Sobol).

    python -m analysis sensitivity EXPERIMENT [kpi=dropout_rate,reliable_recovery_rate] [--method morris|sobol]
        [--trajectories 10] [--samples 64] [--replications 1] [--scenario NAME] [key=value ...]

The experiment's baseline scenario (or ``--scenario``) is composed once; its reference
(``service.name``) picks the priors in ``configs/priors/<reference>.yaml``, whose uniform
ranges span the design. Every design point sets its values on the typed config
(:func:`simulation.parameters.with_values`) and runs the same replication ids (common random
numbers, so an elementary effect is not Monte Carlo noise), with the fit's run size
(``fit:`` in the priors file) unless ``--horizon-days`` says otherwise. Morris (the default)
screens with ``trajectories x (parameters + 1)`` runs and reports mu* (mean absolute
elementary effect, in KPI units over the whole prior range) and sigma (interactions and
non-linearity); Sobol (Saltelli sampling) reports first-order S1 and total ST indices with
bootstrap intervals and needs ``samples x (parameters + 2)`` runs.

Writes ``sensitivity_indices.csv`` (one row per parameter x KPI) and ``sensitivity.png``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KPIS = ("dropout_rate", "reliable_recovery_rate")


def _default_kpis() -> list[str]:
    """Dropout and recovery under their current KPI names (a renamed recovery KPI is found by its stem)."""
    from simulation.kpis import KPI_NAMES

    out = [k for k in DEFAULT_KPIS if k in KPI_NAMES]
    if not any("recover" in k for k in out):
        out += [k for k in KPI_NAMES if "recover" in k][:1]
    return out


def problem_of(priors) -> dict:
    """SALib's problem dictionary from the priors' uniform ranges."""
    return {"num_vars": len(priors.parameters), "names": priors.names,
            "bounds": [[p.low, p.high] for p in priors.parameters]}


def design(priors, method: str, trajectories: int, samples: int, seed: int) -> np.ndarray:
    """The design matrix (rows = runs, columns = parameters in prior order)."""
    problem = problem_of(priors)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, N=trajectories, num_levels=4, seed=seed)
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    raise ValueError(f"--method must be morris or sobol, not {method!r}")


def _kpis_at(args) -> dict[str, float]:
    """KPI means over the replications at one design point (a picklable job)."""
    from simulation.api import run_config

    cfg, names, row, reps, kpis = args
    tables = run_config(cfg, reps, values=dict(zip(names, map(float, row))))
    k = tables["kpis"]
    return {kpi: float(k[kpi].mean()) for kpi in kpis}


def evaluate(cfg, priors, X: np.ndarray, kpis: Sequence[str], replications: int, workers: int,
             progress: bool = True) -> pd.DataFrame:
    """KPI means at every design row, in row order, on local processes."""
    jobs = [(cfg, priors.names, row, list(range(replications)), list(kpis)) for row in X]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="design points", unit="run", file=sys.stderr)
    out: list = [None] * len(jobs)
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, res in enumerate(pool.map(_kpis_at, jobs, chunksize=1)):
                out[i] = res
                if bar is not None:
                    bar.update(1)
    else:
        for i, job in enumerate(jobs):
            out[i] = _kpis_at(job)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return pd.DataFrame(out)


def analyse(priors, method: str, X: np.ndarray, Y: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Indices per parameter x KPI, ranked within each KPI (1 = most influential)."""
    problem = problem_of(priors)
    rows = []
    for kpi in Y.columns:
        y = Y[kpi].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):  # a KPI undefined at some point: impute the mean (stated in README)
            y = np.where(np.isfinite(y), y, np.nanmean(y))
        if method == "morris":
            from SALib.analyze import morris

            si = morris.analyze(problem, X, y, conf_level=0.95, num_levels=4, seed=seed)
            for i, name in enumerate(priors.names):
                rows.append({"parameter": name, "kpi": kpi, "method": "morris", "mu_star": si["mu_star"][i],
                             "mu_star_conf": si["mu_star_conf"][i], "mu": si["mu"][i], "sigma": si["sigma"][i]})
        else:
            from SALib.analyze import sobol

            si = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
            for i, name in enumerate(priors.names):
                rows.append({"parameter": name, "kpi": kpi, "method": "sobol", "S1": si["S1"][i],
                             "S1_conf": si["S1_conf"][i], "ST": si["ST"][i], "ST_conf": si["ST_conf"][i]})
    df = pd.DataFrame(rows)
    key = "mu_star" if method == "morris" else "ST"
    df["rank"] = df.groupby("kpi")[key].rank(ascending=False, method="first").astype(int)
    return df.sort_values(["kpi", "rank"]).reset_index(drop=True)


def plot(df: pd.DataFrame, path: Path) -> None:
    """One horizontal bar panel per KPI: mu* (Morris) or S1 and ST (Sobol), with intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kpis = list(dict.fromkeys(df["kpi"]))
    n_par = df["parameter"].nunique()
    fig, axes = plt.subplots(1, len(kpis), figsize=(4.5 * len(kpis), 0.35 * n_par + 1.2), squeeze=False)
    for ax, kpi in zip(axes[0], kpis):
        d = df[df["kpi"] == kpi].sort_values("rank", ascending=False)
        y = np.arange(len(d))
        if d["method"].iloc[0] == "morris":
            ax.barh(y, d["mu_star"], xerr=d["mu_star_conf"], color="C0", label="mu*")
            ax.plot(d["sigma"], y, "k|", markersize=10, label="sigma")
            ax.set_xlabel(f"Morris mu* ({kpi} units over the prior range)")
        else:
            ax.barh(y - 0.2, d["ST"], 0.4, xerr=d["ST_conf"], color="C0", label="ST (total)")
            ax.barh(y + 0.2, d["S1"], 0.4, xerr=d["S1_conf"], color="C1", label="S1 (first order)")
            ax.set_xlabel("Sobol index")
        ax.set_yticks(y)
        ax.set_yticklabels(d["parameter"], fontsize=7)
        ax.set_title(kpi, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run_sensitivity(experiment: str, kpis: Optional[Sequence[str]] = None, method: str = "morris",
                    trajectories: int = 10, samples: int = 64, replications: int = 1,
                    scenario: Optional[str] = None, overrides: Sequence[str] = (), out_dir: Optional[Path] = None,
                    workers: Optional[int] = None, horizon_days: Optional[float] = None,
                    warmup_days: Optional[float] = None, seed: int = 1,
                    progress: bool = True) -> tuple[pd.DataFrame, list[Path]]:
    """Design, run and analyse; write the CSV and the figure; return the indices and the files."""
    import dataclasses

    from analysis.infer import load_priors
    from simulation.api import build_scenarios
    from simulation.kpis import KPI_NAMES

    t0 = time.time()
    kpis = list(kpis or _default_kpis())
    for k in kpis:
        if k not in KPI_NAMES:
            raise ValueError(f"kpi={k}: not a KPI; allowed: {', '.join(KPI_NAMES)}")
    exp, scenarios = build_scenarios([f"experiment={experiment}", *overrides])
    names = [s.name for s in scenarios]
    pick = scenario or (exp.baseline if exp and exp.baseline else names[0])
    if pick not in names:
        raise ValueError(f"--scenario {pick}: not a scenario of {experiment} ({', '.join(names)})")
    cfg = scenarios[names.index(pick)].config
    priors = load_priors(cfg.service.name)
    horizon = float(horizon_days or priors.horizon_days)
    warmup = float(warmup_days if warmup_days is not None else priors.warmup_days)
    cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, horizon_days=horizon,
                                                           warmup_days=warmup, progress=False),
                              output=dataclasses.replace(cfg.output, sessions=False, stream_sessions=False))
    X = design(priors, method, trajectories, samples, seed)
    Y = evaluate(cfg, priors, X, kpis, replications, int(workers or cfg.run.workers or os.cpu_count() or 1),
                 progress)
    df = analyse(priors, method, X, Y, seed)
    out_dir = Path(out_dir or ROOT / "outputs" / "sensitivity" / experiment)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "sensitivity_indices.csv"
    df.to_csv(csv, index=False)
    fig = out_dir / "sensitivity.png"
    plot(df, fig)
    pd.DataFrame(X, columns=priors.names).join(Y).to_csv(out_dir / "sensitivity_design.csv", index=False)
    meta = {"experiment": experiment, "scenario": pick, "reference": priors.reference, "method": method,
            "trajectories": trajectories if method == "morris" else None,
            "samples": samples if method == "sobol" else None, "runs": int(len(X)),
            "replications_per_run": replications, "horizon_days": horizon, "warmup_days": warmup,
            "kpis": kpis, "seconds": round(time.time() - t0, 1), "seed": seed}
    (out_dir / "sensitivity.json").write_text(json.dumps(meta, indent=2) + "\n")
    return df, [csv, fig]


def add_parser(sub) -> None:
    """The ``sensitivity`` subcommand of ``python -m analysis``."""
    p = sub.add_parser("sensitivity", help="global sensitivity (SALib Morris or Sobol) over the prior ranges")
    p.add_argument("experiment", help="experiment name (experiments/NAME.yaml)")
    p.add_argument("overrides", nargs="*", help="kpi=a,b and config overrides key=value")
    p.add_argument("--method", choices=("morris", "sobol"), default="morris")
    p.add_argument("--trajectories", type=int, default=10, help="Morris trajectories (runs: r x (k+1))")
    p.add_argument("--samples", type=int, default=64, help="Sobol base samples (runs: N x (k+2)); a power of 2")
    p.add_argument("--replications", type=int, default=1, help="replications per design point")
    p.add_argument("--scenario", default=None, help="scenario of the experiment (default: its baseline)")
    p.add_argument("--horizon-days", type=float, default=None, help="measured days (default: the priors' fit size)")
    p.add_argument("--warmup-days", type=float, default=None, help="warm-up days (default: the priors' fit size)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: run.workers)")
    p.add_argument("--out", type=Path, default=None, help="output dir (default outputs/sensitivity/EXPERIMENT)")
    p.add_argument("--seed", type=int, default=1)


def main(args) -> int:
    """Run the subcommand from parsed arguments; print the top five per KPI."""
    kpis = None
    rest = []
    for o in args.overrides:
        if o.startswith("kpi="):
            kpis = [k for k in o.split("=", 1)[1].split(",") if k]
        else:
            rest.append(o)
    df, files = run_sensitivity(args.experiment, kpis=kpis, method=args.method, trajectories=args.trajectories,
                                samples=args.samples, replications=args.replications, scenario=args.scenario,
                                overrides=rest, out_dir=args.out, workers=args.workers,
                                horizon_days=args.horizon_days, warmup_days=args.warmup_days, seed=args.seed)
    cols = ["parameter", "mu_star", "mu_star_conf", "sigma"] if args.method == "morris" else \
        ["parameter", "S1", "S1_conf", "ST", "ST_conf"]
    for kpi, d in df.groupby("kpi", sort=False):
        print(f"{kpi}: most influential")
        print(d.head(5)[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("wrote " + ", ".join(map(str, files)))
    return 0
