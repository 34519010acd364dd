"""Automatic calibration: fit the free parameters to the fitted targets by ABC-SMC (pyabc).

    python -m analysis.infer reference=talking_therapy [--particles 200] [--generations 8]
        [--min-eps 0.35] [--minutes 55] [--workers N] [--out DIR] [--transition defensive] [key=value ...]

Priors (uniform ranges with reasons) come from ``configs/priors/<reference>.yaml``. The
configuration is composed once; every particle sets its values on the typed config
(:func:`simulation.parameters.with_values`) and runs ``fit.replications`` replications whose
ids start at 10_000 (a hash of the particle's values picks them), so they never overlap the
replications 0..23 of the calibration report. The distance of a simulation from the targets
is the root mean square of each fitted target's standardised distance from the centre of its
accepted range, ``z = (simulated - centre) / half-width`` (1 = on the range's edge; a target
that cannot be estimated counts as ``z = 3``). pyabc's adaptive (median) epsilon schedule
shrinks the tolerance each generation; its SQLite history (``abc.db`` in the output
directory) lets a stopped fit resume (``--resume``). ``--transition`` picks the proposal
(:data:`TRANSITIONS`): the default ``defensive`` mixes the uniform prior into pyabc's
multivariate normal kernel, which alone let reference A's 11-parameter fit collapse to an
effective sample size of 5 (README "Automatic calibration").

Writes ``calibration/posterior_<reference>.parquet`` (equal-weight draws resampled from the
last population, one column per parameter), a metadata JSON beside it, and in the output
directory the report: marginals, pairs, and each target's posterior predictive interval
against its accepted range (``report.md`` + PNGs).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PRIORS_DIR = ROOT / "configs" / "priors"
CALIBRATION_DIR = ROOT / "calibration"
FIT_REPLICATION_BASE = 10_000  # fit replications start here; the calibration report uses 0..23
PREDICTIVE_REPLICATION_BASE = 5_000_000  # posterior predictive checks: disjoint from both
NAN_Z = 3.0  # standardised distance charged to a target that cannot be estimated


# --------------------------------------------------------------------------- priors
@dataclass(frozen=True)
class Prior:
    """A uniform prior over one dotted config key, with why its range is plausible."""

    name: str
    low: float
    high: float
    reason: str


@dataclass(frozen=True)
class Priors:
    """Everything a fit of one reference needs besides the targets."""

    reference: str
    overrides: tuple[str, ...]
    parameters: tuple[Prior, ...]
    horizon_days: float
    warmup_days: float
    replications: int

    @property
    def names(self) -> list[str]:
        """The parameter names, in the order of the posterior's columns."""
        return [p.name for p in self.parameters]


def load_priors(reference: str, path: Optional[Path] = None) -> Priors:
    """Read ``configs/priors/<reference>.yaml``; a bad file raises ValueError naming the key."""
    import yaml

    path = Path(path) if path else PRIORS_DIR / f"{reference}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRIORS_DIR.glob("*.yaml"))
        raise ValueError(f"no priors for reference={reference!r} ({path}); known: {', '.join(known)}")
    data = yaml.safe_load(path.read_text())
    params = []
    for name, spec in (data.get("parameters") or {}).items():
        low, high = float(spec["low"]), float(spec["high"])
        if not low < high:
            raise ValueError(f"{path.name}: parameters.{name}: low {low} must be below high {high}")
        params.append(Prior(name, low, high, str(spec.get("reason", ""))))
    if not params:
        raise ValueError(f"{path.name}: no parameters")
    fit = data.get("fit") or {}
    return Priors(reference=str(data.get("reference", reference)), overrides=tuple(data.get("overrides") or ()),
                  parameters=tuple(params), horizon_days=float(fit.get("horizon_days", 365)),
                  warmup_days=float(fit.get("warmup_days", 180)), replications=int(fit.get("replications", 1)))


# --------------------------------------------------------------------------- targets and distance
def fitted_targets(reference: str) -> list:
    """The reference's fitted targets with an accepted range (validation targets and companion rows never enter a fit)."""
    from analysis.calibration import TARGETS

    return [t for t in TARGETS.values()
            if t.reference == reference and t.role == "fitted" and not t.companion_of and t.has_range]


def target_key(t) -> str:
    """Summary-statistic name of a target (pyabc wants identifier-like keys)."""
    return f"target_{t.number}"


def estimate_targets(tables: dict[str, pd.DataFrame], targets: Sequence) -> dict[str, float]:
    """Each target's point estimate on one particle's tables (t-targets: mean over replications)."""
    reps = sorted(tables["patients"]["replication"].unique()) if "patients" in tables else []
    split = ({r: {n: df for n, df in tables.items()} for r in reps} if len(reps) == 1 else
             {r: {n: df[df["replication"] == r] for n, df in tables.items() if "replication" in df.columns}
              for r in reps})
    out = {}
    for t in targets:
        if any(name not in tables for name in t.tables):
            out[target_key(t)] = np.nan
            continue
        try:
            if t.interval == "t":
                vals = np.array([t.estimator(split[r]) for r in reps], dtype=float)
                v = float(np.nanmean(vals)) if np.any(np.isfinite(vals)) else np.nan
            else:
                v = float(t.estimator({n: tables[n] for n in t.tables}))
        except Exception:  # an estimator that fails on a degenerate run: the distance charges NAN_Z
            v = np.nan
        out[target_key(t)] = v
    return out


def standardised(values: dict[str, float], targets: Sequence) -> np.ndarray:
    """z of each target: (simulated - centre of range) / half-width; NAN_Z where not estimable."""
    z = []
    for t in targets:
        v = values.get(target_key(t), np.nan)
        centre, half = (t.low + t.high) / 2.0, (t.high - t.low) / 2.0
        z.append(abs(v - centre) / half if np.isfinite(v) else NAN_Z)
    return np.asarray(z, dtype=float)


def rms_distance(values: dict[str, float], targets: Sequence) -> float:
    """Root mean square of the standardised distances (1.0 = every target on its range's edge)."""
    z = standardised(values, targets)
    return float(np.sqrt(np.mean(z ** 2)))


# --------------------------------------------------------------------------- the model
class TargetModel:
    """What one ABC particle runs: the prepared config with the particle's values, then the targets."""

    def __init__(self, cfg, priors: Priors, targets: Sequence, base: int = FIT_REPLICATION_BASE,
                 ids: Optional[Sequence[int]] = None):
        self.cfg = cfg
        self.priors = priors
        self.targets = list(targets)
        self.base = base
        self.ids = list(ids) if ids is not None else None

    def replication_ids(self, values: dict[str, float]) -> list[int]:
        """Replication ids for these values: from ``base`` on, picked by a hash of the values."""
        if self.ids is not None:
            return self.ids
        blob = json.dumps({k: round(float(v), 12) for k, v in sorted(values.items())}).encode()
        start = int(hashlib.sha256(blob).hexdigest()[:8], 16) % 1_000_000
        return [self.base + start * self.priors.replications + k for k in range(self.priors.replications)]

    def simulate(self, values: dict[str, float]) -> dict[str, float]:
        """Target estimates for one parameter vector."""
        from simulation.api import run_config

        values = {k: float(values[k]) for k in self.priors.names}
        tables = run_config(self.cfg, self.replication_ids(values), scenario=self.priors.reference, values=values)
        return estimate_targets(tables, self.targets)

    def __call__(self, par) -> dict[str, float]:
        return self.simulate(dict(par))


def prepare_fit(priors: Priors, extra_overrides: Sequence[str] = ()):
    """The config every particle starts from: composed once, fit-sized, sessions kept."""
    from simulation.api import prepare

    over = [*priors.overrides, *extra_overrides, f"run.horizon_days={priors.horizon_days}",
            f"run.warmup_days={priors.warmup_days}", "output.sessions=true", "run.progress=false",
            "output.stream_sessions=false"]
    cfg = prepare(over)
    return dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, name=priors.reference))


# --------------------------------------------------------------------------- pyabc
def pyabc_prior(priors: Priors):
    """Independent uniform priors as a pyabc Distribution."""
    import pyabc

    return pyabc.Distribution(**{p.name: pyabc.RV("uniform", p.low, p.high - p.low) for p in priors.parameters})


# --------------------------------------------------------------------------- proposals
TRANSITIONS = ("defensive", "mvn", "local", "logit")  # the first is the default (README "Automatic calibration")
DEFENSIVE_PRIOR_SHARE = 0.2  # share of proposals drawn from the prior: caps a particle's weight at 1/0.2 x the prior's
KERNEL_SCALING = 2.0  # factor on the kernel's covariance (pyabc's `scaling`; 1 = Silverman's rule as is; README)
TRANSITION_DETAIL = {
    "defensive": f"{DEFENSIVE_PRIOR_SHARE:g} x uniform prior + {1 - DEFENSIVE_PRIOR_SHARE:g} x "
                 "pyabc.MultivariateNormalTransition() (Silverman bandwidth)",
    "mvn": "pyabc.MultivariateNormalTransition() (Silverman bandwidth; pyabc's default)",
    "local": "pyabc.LocalTransition(k_fraction=0.25)",
    "logit": "pyabc.MultivariateNormalTransition() on logit((x - low) / (high - low)), logistic priors",
}


try:  # pyabc is optional (the `infer` extra); without it only the defensive proposal is unavailable
    from pyabc import MultivariateNormalTransition as _MVNBase
except ImportError:  # pragma: no cover
    _MVNBase = object


class DefensiveTransition(_MVNBase):
    """pyabc's MVN kernel mixed with the uniform prior box, so no particle's weight can explode.

    A particle's importance weight is prior / proposal. With a share ``a`` of the proposal being
    the prior itself the weight is at most ``1 / a`` (Hesterberg 1995, Technometrics 37:185,
    "defensive importance sampling"); the kernel alone lets it grow without bound in 11 dimensions.
    """

    def __init__(self, low=None, high=None, prior_share: float = DEFENSIVE_PRIOR_SHARE, scaling: float = 1):
        super().__init__(scaling=scaling)
        self.low = low
        self.high = high
        self.prior_share = prior_share

    def _box(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds in the order of the fitted columns (pyabc orders them by name, not as the priors file)."""
        cols = list(self.X.columns)
        return (np.array([self.low[c] for c in cols], dtype=float), np.array([self.high[c] for c in cols], dtype=float))

    def rvs_single(self):
        """A uniform draw from the prior box with probability ``prior_share``, else a kernel draw."""
        import pyabc

        if np.random.uniform() < self.prior_share:
            lo, hi = self._box()
            return pyabc.Parameter(dict(zip(self.X.columns, lo + (hi - lo) * np.random.uniform(size=len(lo)))))
        return super().rvs_single()

    def rvs(self, size=None):
        """``size`` draws, each picking its mixture component."""
        if size is None:
            return self.rvs_single()
        return pd.DataFrame([dict(self.rvs_single()) for _ in range(size)])

    def pdf(self, x):
        """Mixture density: prior_share x uniform(box) + (1 - prior_share) x kernel."""
        kernel = np.asarray(super().pdf(x), dtype=float)
        lo, hi = self._box()
        v = (x[self.X.columns].to_numpy(dtype=float) if isinstance(x, pd.DataFrame)
             else np.array([x[c] for c in self.X.columns], dtype=float))
        inside = np.all((v >= lo) & (v <= hi), axis=-1)
        out = self.prior_share * np.where(inside, 1.0 / float(np.prod(hi - lo)), 0.0) + (1 - self.prior_share) * kernel
        return float(out) if np.ndim(out) == 0 else out


class UnitModel:
    """The model seen on the logit scale: z = logit((x - low) / (high - low)), so bounded priors become unbounded."""

    def __init__(self, model: "TargetModel"):
        self.model = model

    def __call__(self, par) -> dict[str, float]:
        return self.model.simulate(from_logit(dict(par), self.model.priors))


def _from_logit(z, prior):
    """A logit-scale value (or array) back on ``prior``'s own box: low + (high - low) x expit(z)."""
    return prior.low + (prior.high - prior.low) / (1.0 + np.exp(-z))


def from_logit(z: dict, priors: Priors) -> dict[str, float]:
    """Original-scale values of logit-scale values (each prior's box)."""
    return {p.name: float(_from_logit(float(z[p.name]), p)) for p in priors.parameters}


def frame_from_logit(frame: pd.DataFrame, priors: Priors) -> pd.DataFrame:
    """A population on the logit scale mapped back to the parameters' own scale."""
    return frame.assign(**{p.name: _from_logit(frame[p.name].to_numpy(dtype=float), p) for p in priors.parameters})


def check_transition(name: str) -> str:
    """The proposal name, or a ConfigError naming the allowed ones."""
    from simulation.errors import ConfigError

    if name not in TRANSITIONS:
        raise ConfigError("--transition", name, f"one of {', '.join(TRANSITIONS)}")
    return name


def pyabc_setup(transition: str, priors: Priors, model: "TargetModel", scaling: float = 1.0):
    """(model, prior, transition) for pyabc under the chosen proposal; ``scaling`` multiplies the kernel's covariance."""
    import pyabc

    if transition == "logit":  # uniform on (low, high) <=> standard logistic on the logit scale
        prior = pyabc.Distribution(**{p.name: pyabc.RV("logistic", 0.0, 1.0) for p in priors.parameters})
        return UnitModel(model), prior, pyabc.MultivariateNormalTransition(scaling=scaling)
    prior = pyabc_prior(priors)
    if transition == "local":
        return model, prior, pyabc.LocalTransition(k_fraction=0.25, scaling=scaling)
    if transition == "defensive":
        return model, prior, DefensiveTransition(low={p.name: p.low for p in priors.parameters},
                                                 high={p.name: p.high for p in priors.parameters}, scaling=scaling)
    return model, prior, pyabc.MultivariateNormalTransition(scaling=scaling)


def check_scaling(value: float) -> float:
    """The kernel's covariance factor, or a ConfigError (it must be a positive finite number)."""
    from simulation.errors import ConfigError

    if not (np.isfinite(value) and value > 0):
        raise ConfigError("--kernel-scaling", value, "a positive number (1 = pyabc's Silverman bandwidth)")
    return float(value)


def effective_sample_sizes(history) -> list[float]:
    """Kish's effective sample size (sum w)^2 / sum w^2 of every generation in a pyabc history."""
    out = []
    for t in range(history.max_t + 1):
        _, w = history.get_distribution(m=0, t=t)
        w = np.asarray(w, dtype=float)
        out.append(float(w.sum() ** 2 / np.sum(w ** 2)))
    return out


def _sampler(workers: int, backend: str, dask_address: Optional[str]):
    """pyabc's multicore sampler on local cores, or its Dask sampler when run.backend=dask."""
    import pyabc

    if backend == "dask":
        from dask.distributed import Client, LocalCluster

        client = Client(dask_address) if dask_address else Client(LocalCluster(n_workers=workers,
                                                                              threads_per_worker=1))
        return pyabc.sampler.DaskDistributedSampler(dask_client=client)
    if workers <= 1:
        return pyabc.sampler.SingleCoreSampler()
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers)


def fit(reference: str, particles: int = 200, generations: int = 8, min_eps: float = 0.3,
        minutes: Optional[float] = None, workers: Optional[int] = None, out_dir: Optional[Path] = None,
        posterior_path: Optional[Path] = None, draws: int = 200, resume: bool = False,
        extra_overrides: Sequence[str] = (), priors_path: Optional[Path] = None, seed: int = 1,
        predictive: int = 40, report: bool = True, quiet: bool = False, finish_only: bool = False,
        only_targets: Optional[Sequence[str]] = None, transition: str = TRANSITIONS[0],
        kernel_scaling: float = KERNEL_SCALING) -> dict:
    """Run ABC-SMC for one reference, write the posterior and the report; returns the metadata."""
    import logging

    import pyabc

    from simulation.errors import ConfigError

    check_transition(transition)
    check_scaling(kernel_scaling)
    np.random.seed(seed)  # pyabc draws from numpy's global generator
    t_start = time.time()
    priors = load_priors(reference, priors_path)
    targets = fitted_targets(priors.reference)
    if only_targets:
        targets = [t for t in targets if t.number in set(only_targets)]
    if not targets:
        raise ValueError(f"no fitted targets for reference {priors.reference!r}")
    cfg = prepare_fit(priors, extra_overrides)
    workers = int(workers or os.cpu_count() or 1)
    out_dir = Path(out_dir or ROOT / "outputs" / "infer" / priors.reference)
    out_dir.mkdir(parents=True, exist_ok=True)
    db = out_dir / "abc.db"
    model = TargetModel(cfg, priors, targets)
    observed = {target_key(t): (t.low + t.high) / 2.0 for t in targets}

    def distance(x: dict, x0: dict) -> float:
        return rms_distance(x, targets)

    logging.getLogger("ABC").setLevel(logging.WARNING if quiet else logging.INFO)
    logging.getLogger("Sampler").setLevel(logging.WARNING if quiet else logging.INFO)
    if not quiet and not logging.getLogger().handlers and not logging.getLogger("ABC").handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    used = out_dir / "transition.txt"  # the proposal of the fit in abc.db (the logit one stores logit values)
    stored = used.read_text().split() if used.exists() else ["mvn"]  # fits before --transition used mvn
    if finish_only:  # a stopped fit: posterior and report from the last complete generation in abc.db
        if not db.exists():
            raise ValueError(f"--finish: no fit history at {db}")
        transition = stored[0]
        kernel_scaling = float(stored[1]) if len(stored) > 1 else 1.0
        history = pyabc.History(f"sqlite:///{db}")
    else:
        if resume and db.exists() and used.exists() and stored[0] != transition:
            raise ConfigError("--transition", transition, f"--resume continues a fit made with "
                              f"--transition {stored[0]}; give that one")
        abc_model, abc_prior, kernel = pyabc_setup(transition, priors, model, kernel_scaling)
        abc = pyabc.ABCSMC(abc_model, abc_prior, distance, population_size=particles,
                           sampler=_sampler(workers, cfg.run.backend, cfg.run.dask.address),
                           eps=pyabc.MedianEpsilon(), transitions=kernel)
        if resume and db.exists():
            abc.load(f"sqlite:///{db}", 1)
        else:
            if db.exists():
                db.unlink()
            abc.new(f"sqlite:///{db}", observed)
        used.write_text(f"{transition} {kernel_scaling!r}\n")
        kwargs: dict[str, Any] = {"minimum_epsilon": min_eps, "max_nr_populations": generations}
        if minutes:
            kwargs["max_walltime"] = dt.timedelta(minutes=float(minutes))
        history = abc.run(**kwargs)
    fit_seconds = _history_seconds(history, time.time() - t_start)

    frame, weights = history.get_distribution(m=0, t=history.max_t)
    frame = frame[priors.names]
    if transition == "logit":
        frame = frame_from_logit(frame, priors)
    ess = effective_sample_sizes(history)
    post = resample(frame, weights, draws, seed)
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    meta = {
        "reference": priors.reference, "method": "ABC-SMC (pyabc)", "pyabc": pyabc.__version__,
        "particles": int(pops["particles"].iloc[-1]), "generations_run": int(history.max_t + 1), "generations_max": generations,
        "epsilons": [float(e) for e in pops["epsilon"]], "minimum_epsilon_asked": min_eps,
        "epsilon_reached": float(pops["epsilon"].iloc[-1]),
        "transition": transition, "transition_detail": TRANSITION_DETAIL[transition],
        "kernel_scaling": kernel_scaling,
        "ess": [round(e, 2) for e in ess], "acceptance_rates": [round(float(a), 4) for a in
                                                               pops["particles"] / pops["samples"]],
        "distinct_in_draws": int(post[priors.names].drop_duplicates().shape[0]),
        "simulations": int(history.total_nr_simulations), "workers": workers, "backend": cfg.run.backend,
        "wall_minutes": round(fit_seconds / 60.0, 2), "walltime_limit_minutes": minutes,
        "fit_run": {"horizon_days": priors.horizon_days, "warmup_days": priors.warmup_days,
                    "replications_per_particle": priors.replications,
                    "replication_ids": f"from {FIT_REPLICATION_BASE} (hash of the particle's values)"},
        "distance": "RMS over fitted targets of |simulated - centre| / half-width (NaN counts 3)",
        "targets": [t.number for t in targets], "parameters": priors.names, "draws": int(len(post)),
        "extra_overrides": list(extra_overrides), "seed": seed,
        "finished_from_history": bool(finish_only),  # --finish: workers/limits above are this call's, not the fit's
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    posterior_path = Path(posterior_path or CALIBRATION_DIR / f"posterior_{priors.reference}.parquet")
    write_posterior(post, posterior_path, meta)
    frame.assign(weight=weights).to_csv(out_dir / "last_population.csv", index=False)
    if report:
        write_report(out_dir, priors, targets, model, post, meta, n_predictive=predictive, workers=workers)
    return meta


def _history_seconds(history, fallback: float) -> float:
    """Wall seconds of the fit from its history (start of the run to the end of the last generation)."""
    try:
        pops = history.get_all_populations()
        start = history.get_abc().start_time
        return float((pd.Timestamp(pops["population_end_time"].max()) - pd.Timestamp(start)).total_seconds())
    except Exception:
        return fallback


def resample(frame: pd.DataFrame, weights: np.ndarray, n: int, seed: int) -> pd.DataFrame:
    """``n`` equal-weight draws from a weighted population (systematic resampling, fixed seed)."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    gen = np.random.default_rng(seed)
    positions = (gen.random() + np.arange(n)) / n
    idx = np.minimum(np.searchsorted(np.cumsum(w), positions), len(w) - 1)
    idx = gen.permutation(idx)  # draw r must not be ordered by particle index
    out = frame.iloc[idx].reset_index(drop=True).astype(float)
    out.insert(0, "draw", np.arange(n, dtype=np.int64))
    return out


def write_posterior(post: pd.DataFrame, path: Path, meta: dict) -> None:
    """The posterior draws (Parquet) and their metadata (JSON beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    post.to_parquet(path, index=False)
    meta = {**meta, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")


# --------------------------------------------------------------------------- report
def _predict_one(args) -> dict[str, float]:
    """Targets at one posterior draw ``k``, on its own replication ids (picklable for a process pool)."""
    model, values, k = args
    n = model.priors.replications
    ids = [PREDICTIVE_REPLICATION_BASE + k * n + i for i in range(n)]
    return TargetModel(model.cfg, model.priors, model.targets, ids=ids).simulate(values)


def posterior_predictive(model: TargetModel, post: pd.DataFrame, n: int, workers: int = 1) -> pd.DataFrame:
    """Targets simulated at ``n`` posterior draws, on replications disjoint from the fit's and the report's."""
    rows = [({k: float(v) for k, v in post.iloc[i][model.priors.names].items()}, i) for i in range(min(n, len(post)))]
    jobs = [(model, v, k) for v, k in rows]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            out = list(pool.map(_predict_one, jobs))
    else:
        out = [_predict_one(j) for j in jobs]
    return pd.DataFrame(out)


def write_report(out_dir: Path, priors: Priors, targets: Sequence, model: TargetModel, post: pd.DataFrame,
                 meta: dict, n_predictive: int = 40, workers: int = 1) -> Path:
    """Marginals, pairs and posterior predictive intervals vs accepted ranges: PNGs + report.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    names = priors.names
    k = len(names)
    cols = min(4, k)
    rows_ = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows_, cols, figsize=(3.2 * cols, 2.4 * rows_), squeeze=False)
    for ax, p in zip(axes.flat, priors.parameters):
        ax.hist(post[p.name], bins=20, range=(p.low, p.high), color="C0", alpha=0.8)
        ax.set_xlim(p.low, p.high)
        ax.set_title(p.name, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[k:]:
        ax.axis("off")
    fig.suptitle(f"posterior marginals, reference {priors.reference} (x axis = prior range)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "posterior_marginals.png", dpi=80)
    plt.close(fig)

    fig, axes = plt.subplots(k, k, figsize=(1.1 * k, 1.1 * k), squeeze=False)
    for i, pi in enumerate(priors.parameters):
        for j, pj in enumerate(priors.parameters):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == j:
                ax.hist(post[pi.name], bins=15, range=(pi.low, pi.high), color="C0")
            elif i > j:
                ax.scatter(post[pj.name], post[pi.name], s=1, alpha=0.5, color="C0")
                ax.set_xlim(pj.low, pj.high)
                ax.set_ylim(pi.low, pi.high)
            else:
                r = np.corrcoef(post[pj.name], post[pi.name])[0, 1] if post[pi.name].std() > 0 else np.nan
                ax.text(0.5, 0.5, f"{r:.2f}", ha="center", va="center", fontsize=6)
            if j == 0:
                ax.set_ylabel(pi.name.split(".")[-1], fontsize=5)
            if i == k - 1:
                ax.set_xlabel(pj.name.split(".")[-1], fontsize=5)
    fig.suptitle("posterior pairs (upper: correlation)", fontsize=8)
    fig.savefig(out_dir / "posterior_pairs.png", dpi=80)
    plt.close(fig)

    pred = posterior_predictive(model, post, n_predictive, workers)
    rows = []
    for t in targets:
        v = pred[target_key(t)].to_numpy(dtype=float) if len(pred) else np.array([])
        v = v[np.isfinite(v)]
        lo, med, hi = (np.percentile(v, [2.5, 50, 97.5]) if len(v) else (np.nan,) * 3)
        rows.append({"target": t.number, "quantity": t.quantity, "accepted_low": t.low, "accepted_high": t.high,
                     "predictive_median": med, "predictive_low": lo, "predictive_high": hi,
                     "share_inside": float(np.mean((v >= t.low) & (v <= t.high))) if len(v) else np.nan,
                     "n": int(len(v))})
    table = pd.DataFrame(rows)
    table.to_csv(out_dir / "posterior_predictive.csv", index=False)
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(table) + 1))
    for i, r in table.iterrows():
        half = (r.accepted_high - r.accepted_low) / 2.0
        c = (r.accepted_high + r.accepted_low) / 2.0
        ax.plot([-1, 1], [i, i], color="0.8", lw=6)
        ax.plot([(r.predictive_low - c) / half, (r.predictive_high - c) / half], [i, i], color="C0", lw=2)
        ax.plot([(r.predictive_median - c) / half], [i], "o", color="C0")
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels([f"{r.target}" for r in table.itertuples()], fontsize=7)
    ax.set_xlabel("(simulated - centre of accepted range) / half-width; grey = accepted range")
    ax.set_title("posterior predictive 95% intervals (one replication per draw)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "posterior_predictive.png", dpi=80)
    plt.close(fig)

    summ = post[names].describe(percentiles=[0.025, 0.5, 0.975]).T[["mean", "2.5%", "50%", "97.5%"]]
    summ.insert(0, "prior", [f"U({p.low:g}, {p.high:g})" for p in priors.parameters])
    lines = [f"# Automatic calibration of reference {priors.reference}", "",
             f"ABC-SMC (pyabc {meta.get('pyabc')}): {meta['particles']} particles, "
             f"{meta['generations_run']} generation(s) (max {meta['generations_max']}), "
             f"{meta['simulations']} simulations, {meta['wall_minutes']} min wall on {meta['workers']} worker(s); "
             f"epsilon schedule {', '.join(f'{e:.3g}' for e in meta['epsilons'])} "
             f"(asked to stop at {meta['minimum_epsilon_asked']}).", "",
             f"Proposal (`--transition {meta.get('transition', 'mvn')} --kernel-scaling "
             f"{meta.get('kernel_scaling', 1.0):g}`): {meta.get('transition_detail', '')}, kernel covariance x "
             f"{meta.get('kernel_scaling', 1.0):g}. "
             f"Effective sample size per generation (Kish): "
             f"{', '.join(f'{e:.1f}' for e in meta.get('ess', []))}; acceptance rate per generation "
             f"{', '.join(f'{a:.3f}' for a in meta.get('acceptance_rates', []))}; the {meta['draws']} "
             f"equal-weight draws hold {meta.get('distinct_in_draws', '?')} distinct particles.", "",
             f"Distance: {meta['distance']}. Fit runs: {priors.horizon_days:g} measured days after "
             f"{priors.warmup_days:g} days' warm-up, {priors.replications} replication(s) per particle, "
             f"replication ids {meta['fit_run']['replication_ids']}.", "",
             "## Posterior marginals", "", summ.to_markdown(floatfmt=".4g") if _has_tabulate() else summ.to_string(),
             "", "![marginals](posterior_marginals.png)", "", "![pairs](posterior_pairs.png)", "",
             f"## Posterior predictive ({len(pred)} draws, one replication each, ids from "
             f"{PREDICTIVE_REPLICATION_BASE})", "",
             table.to_markdown(index=False, floatfmt=".3g") if _has_tabulate() else table.to_string(index=False),
             "", "![predictive](posterior_predictive.png)", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- command line
def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m analysis.infer reference=NAME [options] [key=value ...]``."""
    ap = argparse.ArgumentParser(prog="python -m analysis.infer", description=__doc__.splitlines()[0])
    ap.add_argument("overrides", nargs="*", help="reference=NAME (required) and config overrides key=value")
    ap.add_argument("--particles", type=int, default=200, help="ABC population size (default 200)")
    ap.add_argument("--generations", type=int, default=8, help="maximum generations (default 8)")
    ap.add_argument("--min-eps", type=float, default=0.3, help="stop when epsilon reaches this (default 0.3)")
    ap.add_argument("--minutes", type=float, default=None, help="stop after this wall time (minutes)")
    ap.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    ap.add_argument("--draws", type=int, default=200, help="equal-weight posterior draws written (default 200)")
    ap.add_argument("--predictive", type=int, default=40, help="posterior draws simulated for the report")
    ap.add_argument("--out", type=Path, default=None, help="output dir (default outputs/infer/<reference>)")
    ap.add_argument("--posterior", type=Path, default=None,
                    help="posterior file (default calibration/posterior_<reference>.parquet)")
    ap.add_argument("--priors", type=Path, default=None, help="priors file (default configs/priors/<reference>.yaml)")
    ap.add_argument("--resume", action="store_true", help="continue the fit in OUT/abc.db")
    ap.add_argument("--finish", action="store_true",
                    help="no fitting: write the posterior and report from the last generation in OUT/abc.db")
    ap.add_argument("--targets", default=None, help="comma-separated subset of the fitted targets (default: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kernel-scaling", type=float, default=KERNEL_SCALING,
                    help=f"factor on the kernel's covariance (default {KERNEL_SCALING:g}; 1 = pyabc's Silverman)")
    ap.add_argument("--transition", default=TRANSITIONS[0],
                    help=f"ABC proposal: {' | '.join(TRANSITIONS)} (default {TRANSITIONS[0]}; README)")
    args = ap.parse_args(argv)
    refs = [o.split("=", 1)[1] for o in args.overrides if o.startswith("reference=")]
    if not refs:
        print("python -m analysis.infer: reference=NAME is required (talking_therapy | community_team)",
              file=sys.stderr)
        return 2
    rest = [o for o in args.overrides if not o.startswith("reference=")]
    from simulation.errors import ConfigError

    try:
        meta = fit(refs[-1], particles=args.particles, generations=args.generations, min_eps=args.min_eps,
                   minutes=args.minutes, workers=args.workers, out_dir=args.out, posterior_path=args.posterior,
                   draws=args.draws, resume=args.resume, extra_overrides=rest, priors_path=args.priors,
                   seed=args.seed, predictive=args.predictive, finish_only=args.finish,
                   only_targets=args.targets.split(",") if args.targets else None, transition=args.transition,
                   kernel_scaling=args.kernel_scaling)
    except ConfigError as err:
        print(f"python -m analysis.infer: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"python -m analysis.infer: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: meta[k] for k in ("reference", "particles", "generations_run", "epsilon_reached",
                                           "simulations", "wall_minutes", "draws", "transition", "ess")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
