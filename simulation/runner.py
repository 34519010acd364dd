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

from . import anxiety
from .chunkfiles import DONE, tables_of, verified_files, write_file_list
from .config import Config
from .experiment import Experiment
from .io import atomic_write_json, read_table, write_table
from .kpis import compute_kpis
from .rundir import clear_outputs, remove_stale_temporaries, run_dir_lock
from .service import Service

TABLES = ("patients", "sessions", "clinicians", "timeseries", "caseloads", "reassignments", "kpis")
# Settings that change how a run is executed, never what it computes.
EXECUTION_ONLY = {("run", "replications"), ("run", "workers"), ("run", "backend"), ("run", "dask"),
                  ("run", "progress"), ("output", "dir"), ("output", "format"), ("output", "stream_sessions"),
                  ("output", "stream_rows"), ("run", "max_memory_gb")}


@dataclass
class Scenario:
    """One named scenario of a run: its validated config and the overrides that made it."""

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
    # Streamed session table: the chunks' part files in gather order (not in ``tables``).
    session_parts: list[Path] = field(default_factory=list)
    experiment: Optional[Experiment] = None  # the experiment that was run (None: a single scenario)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)


def run_chunk(cfg: Config, scenario: str, replication: int,
              sessions_dir: Optional[str] = None) -> dict[str, pd.DataFrame]:
    """Simulate one scenario × replication and derive its KPIs.

    Pure (no I/O) unless ``sessions_dir`` is given: then the session table is streamed to
    part files in that directory, which belongs to this chunk alone.
    """
    from .parameters import for_replication

    cfg = for_replication(cfg, replication)  # run.parameters=posterior: this replication's draw
    svc = Service(cfg, replication, scenario, sessions_dir=sessions_dir)
    tables = svc.run()
    tables["kpis"] = chunk_kpis(cfg, tables)
    return tables


def chunk_kpis(cfg: Config, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The KPIs of one chunk's tables under its config (caseness, costs, measured window, anxiety measure)."""
    # One call for run_chunk and the fixed-cost benchmark, so the benchmark times what a run does.
    return compute_kpis(tables, cfg.run.warmup_days, cfg.population.caseness, cfg.costs,
                        cfg.run.warmup_days + cfg.run.horizon_days,
                        cfg.population.anxiety.caseness if anxiety.enabled(cfg.population) else None)


def config_digest(cfg: Config) -> str:
    """A short hash of everything in ``cfg`` that can change results."""
    data = dataclasses.asdict(cfg)
    for group, key in EXECUTION_ONLY:
        data.get(group, {}).pop(key, None)
    from .parameters import posterior_digest

    if cfg.run.parameters == "posterior":  # the draws are part of what the chunk computed
        data["posterior_sha256"] = posterior_digest(cfg)
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _chunk_dir(run_dir: Path, scenario: Scenario, replication: int) -> Path:
    return run_dir / "chunks" / f"{scenario.name}-{config_digest(scenario.config)}" / f"rep_{replication:04d}"


def _stream_dir(chunk_path: Path) -> Path:
    """Where a running chunk streams its session parts (moved into the chunk when done)."""
    return chunk_path.parent / f".{chunk_path.name}.sessions-parts"


def _streams(s: Scenario) -> bool:
    return bool(s.config.output.sessions and s.config.output.stream_sessions)


def _expected_tables(cfg: Config) -> set[str]:
    """The tables a chunk of this config holds (sessions only with ``output.sessions``)."""
    return set(TABLES) - (set() if cfg.output.sessions else {"sessions"})


def _save_chunk(path: Path, tables: dict[str, pd.DataFrame], digest: str) -> None:
    """Write a chunk (and its session parts) into a temporary directory, list its files, mark it DONE, rename it."""
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, df in tables.items():
        df.to_parquet(tmp / f"{name}.parquet", index=False)
    parts = _stream_dir(path)
    if parts.is_dir():
        os.replace(parts, tmp / "sessions")
    write_file_list(tmp, digest)
    (tmp / DONE).write_text("ok\n")
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


def _load_chunk(path: Path, cfg: Config, stream: bool = False) -> Optional[dict[str, pd.DataFrame]]:
    """A saved chunk's tables if every file it should hold is intact, else None; streamed sessions stay on disk."""
    files = verified_files(path, config_digest(cfg))
    if files is None or tables_of(files) != _expected_tables(cfg):
        return None  # also a chunk written by a version with fewer tables (e.g. before `caseloads`)
    try:
        tables = {rel[:-len(".parquet")]: pd.read_parquet(path / rel) for rel in files
                  if "/" not in rel and rel.endswith(".parquet") and not (stream and rel == "sessions.parquet")}
        if not stream and any(rel.startswith("sessions/") for rel in files):
            from .streaming import part_files

            tables["sessions"] = pd.concat([pd.read_parquet(p) for p in part_files(path / "sessions")],
                                           ignore_index=True)
    except Exception:  # a damaged chunk is not a result: recompute it
        return None
    return tables


def _chunk_parts(path: Path) -> list[Path]:
    """A saved chunk's session table as a list of Parquet files (streamed parts or one file)."""
    from .streaming import part_files

    if (path / "sessions").is_dir():
        return part_files(path / "sessions")
    return [path / "sessions.parquet"] if (path / "sessions.parquet").exists() else []


def _progress(total: int, enabled: bool):
    if not enabled or total < 2:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="chunks", unit="chunk", file=sys.stderr, leave=False)


def run_scenarios(scenarios: list[Scenario], replications: int, run_dir: Optional[Path] = None,
                  workers: int = 1, backend: str = "local", dask_address: Optional[str] = None,
                  progress: bool = False, pool=None) -> Results:
    """Run every scenario × replication; reuse the intact chunks already saved in ``run_dir``.

    ``run_dir`` is locked for the call (a second process gets RunDirInUse); the tables and
    report of an earlier run and the temporaries of a killed one are removed first.

    A todo item is ``(scenario index, scenario, replication, sessions_dir)``: with
    ``output.stream_sessions`` each chunk streams its session parts into its own directory
    (never a shared file), and the parent moves them into the saved chunk. ``pool`` (an
    executor with ``submit``, e.g. workers.WarmPool) runs the chunks instead of ``workers``.
    """
    run_dir = Path(run_dir) if run_dir is not None else None
    with run_dir_lock(run_dir):
        return _run_locked(scenarios, replications, run_dir, workers, backend, dask_address, progress, pool)


def _run_locked(scenarios: list[Scenario], replications: int, run_dir: Optional[Path], workers: int,
                backend: str, dask_address: Optional[str], progress: bool, pool=None) -> Results:
    """run_scenarios with the run directory (if any) locked: clean it, reuse verified chunks, compute the rest."""
    start = time.time()
    jobs = [(s_i, s, r) for s_i, s in enumerate(scenarios) for r in range(replications)]
    if run_dir is None and any(_streams(s) for s in scenarios):
        from .errors import ConfigError

        raise ConfigError("output.stream_sessions", True, "a run directory (output.dir=... or run(..., out_dir=...))")
    if run_dir is not None:
        remove_stale_temporaries(run_dir)
        clear_outputs(run_dir)
    done: dict[tuple[int, int], dict[str, pd.DataFrame]] = {}
    todo = []
    for s_i, s, r in jobs:
        path = _chunk_dir(run_dir, s, r) if run_dir is not None else None
        cached = _load_chunk(path, s.config, _streams(s)) if path is not None else None
        if cached is not None:
            done[(s_i, r)] = cached
        else:
            # Absolute: a Dask worker's working directory is not ours.
            todo.append((s_i, s, r, str(_stream_dir(path).resolve()) if _streams(s) else None))
    reused = len(done)
    bar = _progress(len(todo), progress)
    tracker = None
    if run_dir is not None:
        from .progress import RunProgress

        tracker = RunProgress(run_dir, [s.name for s in scenarios], scenarios[0].config.run.seed if scenarios else None,
                              len(jobs), reused)

    def finished(s_i: int, s: Scenario, r: int, tables: dict[str, pd.DataFrame]) -> None:
        if run_dir is not None:
            _save_chunk(_chunk_dir(run_dir, s, r), tables, config_digest(s.config))
            tracker.chunk_done()
        done[(s_i, r)] = tables
        if bar is not None:
            bar.update(1)

    try:
        _execute(todo, finished, workers, backend, dask_address, pool)
    finally:
        if bar is not None:
            bar.close()
    tables = gather([done[(s_i, r)] for s_i, _, r in jobs])
    res = Results(tables=tables, scenarios=scenarios, run_dir=run_dir)
    res.session_parts = [p for s_i, s, r in jobs if _streams(s) for p in _chunk_parts(_chunk_dir(run_dir, s, r))]
    res.manifest = {"chunks_total": len(jobs), "chunks_reused": reused, "chunks_computed": len(todo),
                    "runtime_seconds": time.time() - start}
    return res


def _execute(todo, finished: Callable, workers: int, backend: str, dask_address: Optional[str], pool=None) -> None:
    """Compute the todo chunks serially, in local processes, on a given pool, or on Dask; hand each to ``finished``."""
    if not todo:
        return
    if pool is not None:  # a warm pool (the page): all submitted at once, handed on in submission order
        futures = [(s_i, s, r, pool.submit(run_chunk, s.config, s.name, r, sdir)) for s_i, s, r, sdir in todo]
        for s_i, s, r, fut in futures:
            finished(s_i, s, r, fut.result())
        return
    if backend == "dask":
        from .distributed import run_on_dask

        local = todo[0][1].config.run.dask.local_workers
        run_on_dask(todo, finished, run_chunk, config_digest, dask_address, local_workers=local or workers)
        return
    if workers <= 1 or len(todo) == 1:
        for s_i, s, r, sdir in todo:
            finished(s_i, s, r, run_chunk(s.config, s.name, r, sdir))
        return
    from .workers import run_in_processes

    run_in_processes(todo, finished, workers, run_chunk)


def gather(chunks: Iterable[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Concatenate chunk tables in the given (deterministic) order."""
    chunks = list(chunks)
    out = {}
    for name in TABLES:
        parts = [c[name] for c in chunks if name in c]
        if parts:
            out[name] = pd.concat(parts, ignore_index=True)
    return out


def compiled_modules() -> list[str]:
    """The hot-path modules running compiled in this install (recorded in the manifest)."""
    from .build import compiled_modules as compiled

    return compiled()


def code_version() -> str:
    """The git description of the code that ran (or 'unknown'), recorded in the manifest."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of Python and the main packages, recorded in the manifest for reproducibility."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("alliance-sim", "simpy", "numpy", "pandas", "hydra-core", "pyarrow", "matplotlib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def write_run(res: Results, run_dir: Path, fmt: str = "parquet", extra: Optional[dict] = None) -> None:
    """Write the gathered tables and the manifest (last, marking completion); remove every other table file."""
    run_dir = Path(run_dir)
    with run_dir_lock(run_dir):
        _write_locked(res, run_dir, fmt, extra)


def _write_locked(res: Results, run_dir: Path, fmt: str, extra: Optional[dict]) -> None:
    """write_run with the run directory locked."""
    counts = {}
    written = set()
    for name, df in res.tables.items():
        written.update(write_table(df, run_dir / name, fmt=fmt, csv_if_small=(name != "sessions")))
        counts[name] = int(len(df))
    if res.session_parts:
        from .io import concat_parquet

        counts["sessions"] = concat_parquet(res.session_parts, run_dir / "sessions.parquet")
        written.add(run_dir / "sessions.parquet")
    for name in (*TABLES, "summary"):  # a table this run did not write must not be read back as its own
        for suffix in (".parquet", ".csv"):
            if run_dir / f"{name}{suffix}" not in written:
                (run_dir / f"{name}{suffix}").unlink(missing_ok=True)
    manifest = {
        "completed": True,
        "seed": res.scenarios[0].config.run.seed if res.scenarios else None,
        "scenarios": {s.name: {"overrides": s.overrides, "config": dataclasses.asdict(s.config),
                               "digest": config_digest(s.config)} for s in res.scenarios},
        "row_counts": counts,
        "package_versions": package_versions(),
        "code_version": code_version(),
        "compiled_modules": compiled_modules(),  # the hot path ran as C (setup.py) or as Python
        # point values or posterior draws (file and digest): simulation/parameters.py
        "parameters": _parameters_manifest(res.scenarios),
        # the rating instrument (alliance.instrument: WAI-SR or STAR), one value or one per scenario
        "instrument": _instrument_manifest(res.scenarios),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **res.manifest,
        **(extra or {}),
    }
    res.manifest = manifest
    res.run_dir = run_dir
    atomic_write_json(run_dir / "manifest.json", manifest)


def _instrument_manifest(scenarios: list[Scenario]):
    """The rating instrument of the run (a name when every scenario shares it, else scenario -> name)."""
    per = {s.name: s.config.alliance.instrument for s in scenarios}
    names = set(per.values())
    return names.pop() if len(names) == 1 else per


def _parameters_manifest(scenarios: list[Scenario]) -> dict:
    """The parameter mode of the run (the same in every scenario, else one entry per scenario)."""
    from .parameters import parameters_manifest

    per = {s.name: parameters_manifest(s.config) for s in scenarios}
    values = list(per.values())
    return values[0] if values and all(v == values[0] for v in values) else per


def load_run(run_dir: Path) -> dict[str, pd.DataFrame]:
    """Read a run directory's tables back (sessions may be absent)."""
    out = {}
    for name in (*TABLES, "summary"):
        try:
            out[name] = read_table(run_dir, name)
        except FileNotFoundError:
            pass
    return out
