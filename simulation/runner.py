"""Run scenarios × replications as independent chunks, keep every finished chunk.

A chunk is one scenario × replication. Workers (local processes, or Dask) only compute
and *return* tables; the parent process saves each finished chunk atomically under
``RUN_DIR/chunks/`` before gathering, so an interrupted run loses nothing and a rerun with
the same config and seed recomputes only the missing chunks. Gathering sorts by scenario
order and replication, so serial and parallel runs give identical tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import pandas as pd

from .config import Config
from .io import atomic_write_json, read_table, write_table
from .kpis import compute_kpis
from .service import Service, disciplines_of

TABLES = ("patients", "sessions", "clinicians", "timeseries", "reassignments", "kpis")
# Settings that change how a run is executed, never what it computes.
EXECUTION_ONLY = {("run", "replications"), ("run", "workers"), ("run", "backend"), ("run", "dask_address"),
                  ("run", "progress"), ("output", "dir"), ("output", "format")}


@dataclass
class Scenario:
    name: str
    config: Config
    overrides: list[str] = field(default_factory=list)


@dataclass
class Results:
    """The tables of a run as DataFrames, plus where they were written (if anywhere)."""

    tables: dict[str, pd.DataFrame]
    scenarios: list[Scenario]
    run_dir: Optional[Path] = None
    manifest: dict = field(default_factory=dict)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)


def run_chunk(cfg: Config, scenario: str, replication: int) -> dict[str, pd.DataFrame]:
    """Simulate one scenario × replication and derive its KPIs (pure: no I/O)."""
    tables = Service(cfg, replication, scenario).run()
    caps = [d.caseload_cap for d in disciplines_of(cfg) for _ in range(d.count)]
    tables["kpis"] = compute_kpis(tables, cfg.run.warmup_days, sum(caps) / len(caps) if caps else 0.0)
    return tables


def config_digest(cfg: Config) -> str:
    """A short hash of everything in ``cfg`` that can change results."""
    data = dataclasses.asdict(cfg)
    for group, key in EXECUTION_ONLY:
        data.get(group, {}).pop(key, None)
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _chunk_dir(run_dir: Path, scenario: Scenario, replication: int) -> Path:
    return run_dir / "chunks" / f"{scenario.name}-{config_digest(scenario.config)}" / f"rep_{replication:04d}"


def _save_chunk(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Write a chunk into a temporary directory, then rename it into place."""
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, df in tables.items():
        df.to_parquet(tmp / f"{name}.parquet", index=False)
    (tmp / "DONE").write_text("ok\n")
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


def _load_chunk(path: Path) -> Optional[dict[str, pd.DataFrame]]:
    """A saved chunk, or None if it is missing, unfinished or unreadable (then it is recomputed)."""
    if not (path / "DONE").exists():
        return None
    try:
        return {p.stem: pd.read_parquet(p) for p in sorted(path.glob("*.parquet"))}
    except Exception:  # a damaged chunk is not a result: recompute it
        return None


def _progress(total: int, enabled: bool):
    if not enabled or total < 2:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="chunks", unit="chunk", file=sys.stderr, leave=False)


def run_scenarios(scenarios: list[Scenario], replications: int, run_dir: Optional[Path] = None,
                  workers: int = 1, backend: str = "local", dask_address: Optional[str] = None,
                  progress: bool = False) -> Results:
    """Run every scenario × replication; reuse chunks already saved in ``run_dir``."""
    start = time.time()
    jobs = [(s_i, s, r) for s_i, s in enumerate(scenarios) for r in range(replications)]
    done: dict[tuple[int, int], dict[str, pd.DataFrame]] = {}
    todo = []
    for s_i, s, r in jobs:
        cached = _load_chunk(_chunk_dir(run_dir, s, r)) if run_dir is not None else None
        if cached is not None:
            done[(s_i, r)] = cached
        else:
            todo.append((s_i, s, r))
    reused = len(done)
    bar = _progress(len(todo), progress)
    tracker = None
    if run_dir is not None:
        from .progress import RunProgress, remove_stale_temporaries

        remove_stale_temporaries(run_dir)
        tracker = RunProgress(run_dir, [s.name for s in scenarios], scenarios[0].config.run.seed if scenarios else None,
                              len(jobs), reused)

    def finished(s_i: int, s: Scenario, r: int, tables: dict[str, pd.DataFrame]) -> None:
        if run_dir is not None:
            _save_chunk(_chunk_dir(run_dir, s, r), tables)
            tracker.chunk_done()
        done[(s_i, r)] = tables
        if bar is not None:
            bar.update(1)

    try:
        _execute(todo, finished, workers, backend, dask_address)
    finally:
        if bar is not None:
            bar.close()
    tables = gather([done[(s_i, r)] for s_i, _, r in jobs])
    res = Results(tables=tables, scenarios=scenarios, run_dir=run_dir)
    res.manifest = {"chunks_total": len(jobs), "chunks_reused": reused, "chunks_computed": len(todo),
                    "runtime_seconds": time.time() - start}
    return res


def _execute(todo, finished: Callable, workers: int, backend: str, dask_address: Optional[str]) -> None:
    if not todo:
        return
    if backend == "dask":
        from .distributed import run_on_dask

        run_on_dask(todo, finished, dask_address)
        return
    if workers <= 1 or len(todo) == 1:
        for s_i, s, r in todo:
            finished(s_i, s, r, run_chunk(s.config, s.name, r))
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
    try:
        futures = {pool.submit(run_chunk, s.config, s.name, r): (s_i, s, r) for s_i, s, r in todo}
        for fut in as_completed(futures):
            s_i, s, r = futures[fut]
            finished(s_i, s, r, fut.result())
    except BaseException:
        # Ctrl-C or a failed chunk: keep what is saved, stop the workers now, do not wait.
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which saves finished chunks and stops them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def gather(chunks: Iterable[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Concatenate chunk tables in the given (deterministic) order."""
    chunks = list(chunks)
    out = {}
    for name in TABLES:
        parts = [c[name] for c in chunks if name in c]
        if parts:
            out[name] = pd.concat(parts, ignore_index=True)
    return out


def code_version() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("alliance-sim", "simpy", "numpy", "pandas", "hydra-core", "pyarrow", "matplotlib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def write_run(res: Results, run_dir: Path, fmt: str = "parquet", extra: Optional[dict] = None) -> None:
    """Write the gathered tables and the manifest (last, marking completion)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, df in res.tables.items():
        write_table(df, run_dir / name, fmt=fmt, csv_if_small=(name != "sessions"))
        counts[name] = int(len(df))
    manifest = {
        "completed": True,
        "seed": res.scenarios[0].config.run.seed if res.scenarios else None,
        "scenarios": {s.name: {"overrides": s.overrides, "config": dataclasses.asdict(s.config),
                               "digest": config_digest(s.config)} for s in res.scenarios},
        "row_counts": counts,
        "package_versions": package_versions(),
        "code_version": code_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **res.manifest,
        **(extra or {}),
    }
    res.manifest = manifest
    res.run_dir = run_dir
    atomic_write_json(run_dir / "manifest.json", manifest)


def load_run(run_dir: Path) -> dict[str, pd.DataFrame]:
    """Read a run directory's tables back (sessions may be absent)."""
    out = {}
    for name in (*TABLES, "summary"):
        try:
            out[name] = read_table(run_dir, name)
        except FileNotFoundError:
            pass
    return out
