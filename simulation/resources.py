"""Can this machine run it? A pre-run estimate of events and memory, and checks of where a run writes.

The estimate is deliberately simple and errs high: per chunk (scenario x replication),

* patients = ``referrals_per_week`` x (warm-up + horizon) / 7;
* session rows = the smaller of demand (patients x the course cap x the disciplines of
  the care model x 1.5 for DNAs) and capacity (posts x caseload cap x days / session
  interval, posts grown by turnover), since no clinician holds more than ``caseload_cap``
  patients nor sees one more often than every ``session_interval_days``;
* time-series rows = days / ``output.timeseries_interval_days`` x teams x disciplines.

Bytes per row were measured on this code (``BYTES_*`` below). The parent holds every
chunk's tables until it writes them (twice while concatenating); each worker holds one
chunk's agents. A run above ``run.max_memory_gb`` (default: 80% of the RAM) is refused
before it starts with one line naming the key and the estimate.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .errors import ConfigError

# Peak bytes per row, fitted to runs of 3k-390k patients and 0-1.3M sessions (1 replication):
# tables the parent holds until it writes them, and a running chunk's agents, tapes and buffers.
BYTES_PATIENT_TABLE = 400.0
BYTES_PATIENT_LIVE = 1200.0
BYTES_SESSION = 150.0
BYTES_TIMESERIES = 200.0
BYTES_CLINICIAN = 2000.0
BASE_BYTES = 250e6  # interpreter, numpy, pandas, simpy, hydra
DNA_FACTOR = 1.5


@dataclass
class Estimate:
    """Expected size of a run, summed over its chunks."""

    chunks: int
    patients: float
    session_rows: float
    timeseries_rows: float
    peak_bytes: float

    def text(self) -> str:
        """The estimate in words, for the refusal line."""
        return (f"~{self.patients:.3g} patients and ~{self.session_rows:.3g} sessions over {self.chunks} chunks, "
                f"~{self.peak_bytes / 1e9:.3g} GB")


def machine_memory_bytes() -> float:
    """Physical RAM of this machine (bytes), or +inf where it cannot be read."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return math.inf


def _chunk(cfg) -> tuple[float, float, float, float]:
    """(patients, session rows, time-series rows, live agent bytes) of one replication of ``cfg``."""
    run, svc, pop = cfg.run, cfg.service, cfg.population
    days = run.warmup_days + run.horizon_days
    patients = svc.referrals_per_week * days / 7.0
    discs = list(svc.disciplines)
    counts = [d.count for d in discs]
    if svc.clinicians is not None and counts:
        counts[0] = svc.clinicians
    grow = 1.0 + cfg.turnover.annual_rate * days / 365.0
    capacity = sum(n * grow * d.caseload_cap * days / d.session_interval_days for n, d in zip(counts, discs))
    needed = max(1, len(svc.care_model))
    demand = patients * max(pop.max_sessions_low, pop.max_sessions_high) * needed * DNA_FACTOR
    sessions = min(demand, capacity) if cfg.output.sessions else 0.0
    series = days / cfg.output.timeseries_interval_days * svc.teams * max(1, len(discs))
    live = patients * BYTES_PATIENT_LIVE + sum(counts) * grow * BYTES_CLINICIAN
    return patients, sessions, series, live


def estimate(configs: Sequence, replications: int, workers: int = 1) -> Estimate:
    """The run's size: ``configs`` are the scenarios' configs, each run ``replications`` times."""
    patients = sessions = series = held = 0.0
    live = 0.0
    for cfg in configs:
        p, s, t, agents = _chunk(cfg)
        kept = 0.0 if cfg.output.stream_sessions else s  # streamed sessions go to disk as they are made
        patients += p * replications
        sessions += s * replications
        series += t * replications
        held += (p * BYTES_PATIENT_TABLE + kept * BYTES_SESSION + t * BYTES_TIMESERIES) * replications
        live = max(live, agents + s * BYTES_SESSION)
    peak = BASE_BYTES + 2.0 * held + max(1, workers) * live
    return Estimate(len(configs) * replications, patients, sessions, series, peak)


def check_memory(configs: Sequence, replications: int, workers: int = 1,
                 limit_gb: Optional[float] = None) -> Estimate:
    """Refuse (ConfigError on ``run.max_memory_gb``) a run whose estimated peak exceeds the limit."""
    est = estimate(configs, replications, workers)
    limit = limit_gb * 1e9 if limit_gb is not None else 0.8 * machine_memory_bytes()
    if est.peak_bytes > limit:
        given = limit_gb if limit_gb is not None else f"null (80% of this machine's RAM: {limit / 1e9:.3g} GB)"
        raise ConfigError("run.max_memory_gb", given,
                          f"this run is estimated at {est.text()}; use fewer replications or scenarios, a "
                          f"shorter horizon, output.sessions=false or output.stream_sessions=true, or raise "
                          f"run.max_memory_gb")
    return est


def check_writable_dir(key: str, path: str | Path) -> None:
    """Refuse a run directory that is a file, or that cannot be created or written."""
    p = Path(path)
    try:
        if p.exists() and not p.is_dir():
            raise ConfigError(key, str(path), "a directory (a file of that name exists)")
        probe = p
        while not probe.exists():
            if probe.parent == probe:
                break
            probe = probe.parent
        if not probe.is_dir():
            raise ConfigError(key, str(path), f"a directory path ({probe} is a file)")
        target = p if p.is_dir() else probe
        try:  # os.access is not enough (root on a read-only mount): make and remove a directory there
            os.rmdir(tempfile.mkdtemp(prefix=".alliance-sim-probe-", dir=target))
        except OSError as exc:
            raise ConfigError(key, str(path), f"a directory you can write ({target}: "
                                              f"{exc.strerror or exc})") from None
    except OSError as exc:  # e.g. a name too long for the file system
        raise ConfigError(key, str(path)[:80], f"a usable directory path ({exc.strerror or exc})") from None


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Refuse a Dask scheduler address nothing answers on (as Dask) within a few seconds."""
    import socket

    if address.startswith("inproc://"):  # a scheduler in this process: only Dask can reach it
        hostport = ""
    else:
        hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    try:
        if hostport:
            with socket.create_connection((host, int(port)), timeout=timeout):
                pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigError("run.dask.address", address,
                          f"a running Dask scheduler (none answered within {timeout:g} s: {reason})") from None
    try:
        from dask.distributed import Client
    except ImportError:  # reported by the Dask backend itself
        return
    from .distributed import connect

    connect(Client, address).close()
