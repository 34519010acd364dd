"""One run at a time per run directory, and no leftovers of another run in it.

A run holds an exclusive ``flock`` on ``RUN_DIR/.alliance-sim.lock`` for its lifetime; the
kernel drops it when the process exits or is killed, so a stale lock never blocks a rerun.
A second run on the same directory stops with :class:`RunDirInUse` (one line, exit 2).
While holding the lock a run removes what an earlier run left that it will not rewrite
(tables, report, figures, analysis tables) and the temporaries of killed runs, so a
directory never mixes two runs' results.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import sys
from pathlib import Path
from typing import Iterator, Optional

from .errors import ConfigError

LOCK_FILE = ".alliance-sim.lock"
# Every table name a run directory can hold at top level, and the report's own files.
TABLE_NAMES = ("patients", "sessions", "clinicians", "timeseries", "caseloads", "reassignments", "kpis", "summary",
               "calibration")
TABLE_SUFFIXES = (".parquet", ".csv")
REPORT_FILES = ("report.md", "report.html")
REPORT_GLOBS = ("figures/*.png", "analysis/*.csv")  # removed only in a directory that held a run

# File systems without flock support (some network mounts): run unlocked, with a warning.
UNLOCKABLE = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)
_held: dict[str, list[int]] = {}  # resolved run dir -> [lock fd, depth]: re-entrant within a process


class RunDirInUse(ConfigError):
    """Another process holds the output directory's lock: running too would mix two runs."""

    def __init__(self, run_dir: str, pid: Optional[int]):
        self.key, self.value, self.pid = "output.dir", str(run_dir), pid
        self.allowed = "a directory no other run is using"
        ValueError.__init__(self, f"output.dir {run_dir} is in use by another run (pid {pid if pid else '?'})")

    def __reduce__(self):
        return (type(self), (self.value, self.pid))


def _holder(fd: int) -> Optional[int]:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def run_dir_lock(run_dir: Optional[Path]) -> Iterator[None]:
    """Hold ``run_dir``'s exclusive lock inside the block (re-entrant; a no-op for None)."""
    if run_dir is None:
        yield
        return
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    key = str(run_dir.resolve())
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(fd)
        os.close(fd)
        raise RunDirInUse(str(run_dir), pid) from None
    except OSError as exc:
        if exc.errno not in UNLOCKABLE:
            os.close(fd)
            raise
        print(f"alliance-sim: warning: {run_dir} cannot be locked ({exc.strerror}); "
              "make sure no other run uses it", file=sys.stderr)
    except BaseException:
        os.close(fd)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[key] = [fd, 1]
        yield
    finally:
        _held.pop(key, None)
        os.close(fd)  # releases the lock (a forked worker closed its copy at fork, see below)


def _close_inherited_locks() -> None:
    """In a forked child (a worker) drop the copies of the parent's lock fds, never unlocking them."""
    for fd, _ in _held.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)


def clear_outputs(run_dir: Path) -> int:
    """Remove the tables and report of an earlier run (the current one writes its own at the end)."""
    run_dir = Path(run_dir)
    paths = [run_dir / f"{n}{s}" for n in TABLE_NAMES for s in TABLE_SUFFIXES]
    paths += [run_dir / f for f in REPORT_FILES]
    if (run_dir / "manifest.json").exists():  # figures/ and analysis/ are a report's only in a run directory
        paths += [p for g in REPORT_GLOBS for p in run_dir.glob(g)]
    removed = 0
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed += 1
    return removed


def remove_stale_temporaries(run_dir: Path) -> int:
    """Delete what killed runs left half-written: chunk and stream directories, table temporaries.

    Called with the directory's lock held, so no live run of ours can own any of them.
    """
    run_dir = Path(run_dir)
    stale = [*run_dir.glob("chunks/*/.rep_*.tmp-*"), *run_dir.glob("chunks/*/.rep_*.sessions-parts")]
    names = [f"{n}{s}" for n in TABLE_NAMES for s in TABLE_SUFFIXES] + ["manifest.json", *REPORT_FILES]
    stale += [p for name in names for p in run_dir.glob(f".{name}.*.tmp")]
    for p in stale:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return len(stale)
