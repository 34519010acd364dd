"""Local worker processes (``run.workers=N``) that never outlive their run, and a clean Ctrl-C.

- **A killed parent takes its workers with it.** Each worker asks the Linux kernel to
  SIGKILL it when the parent dies (``prctl(PR_SET_PDEATHSIG)``), and a watchdog thread
  checks ``os.getppid()`` once a second as a fallback (other systems, or a parent that died
  before the request took effect).
- **Ctrl-C is handled once, in the parent.** Workers ignore SIGINT (it is blocked while they
  are forked, so none arrives before they ignore it). While chunks run, the parent's SIGINT
  handler only sets a flag; the parent checks it between waits, never inside the executor's
  machinery, then cancels pending chunks, kills the workers, waits (bounded) for the
  executor's manager thread to finish, and raises KeyboardInterrupt from its own code. The
  CLI turns that into one line and exit 130; finished chunks are already saved.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterator

POLL_SECONDS = 0.1  # how often the parent looks at the Ctrl-C flag while chunks run
WATCHDOG_SECONDS = 1.0  # how often a worker checks that its parent is alive
JOIN_SECONDS = 10.0  # bound on waiting for the executor's manager thread after the workers are killed
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class _CtrlC:
    """While active (main thread only), SIGINT sets ``requested`` instead of raising KeyboardInterrupt."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        self.requested = True  # no lock, no I/O: safe whatever the main thread was doing

    def __enter__(self) -> "_CtrlC":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread, so processes forked inside inherit it blocked."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def run_in_processes(todo: list, finished: Callable, workers: int, chunk: Callable) -> None:
    """Compute every ``(s_i, scenario, replication, sessions_dir)`` with ``chunk`` in worker processes."""
    pool = None
    with _CtrlC() as ctrl_c:
        try:
            with _sigint_blocked():
                pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=_worker_init,
                                           initargs=(os.getpid(),))
                futures = {pool.submit(chunk, s.config, s.name, r, sdir): (s_i, s, r) for s_i, s, r, sdir in todo}
            pending = set(futures)
            while pending and not ctrl_c.requested:
                done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for fut in done:
                    finished(*futures[fut], fut.result())
            if not ctrl_c.requested:
                pool.shutdown(wait=True)
        except BaseException:  # a failed chunk (or Ctrl-C outside the main thread's handler): stop now
            _stop(pool)
            raise
        if ctrl_c.requested:
            _stop(pool)
            raise KeyboardInterrupt


def _stop(pool) -> None:
    """Cancel what has not started, kill the workers, let the executor's manager thread wind down."""
    if pool is None:
        return
    procs = list((pool._processes or {}).values())
    manager = pool._executor_manager_thread
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.kill()
    if manager is not None:
        manager.join(JOIN_SECONDS)  # it sees the workers gone and closes its pipes before the interpreter exits


def _worker_init(parent: int) -> None:
    """In each worker: leave Ctrl-C to the parent, and die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # discards a SIGINT that arrived while it was blocked
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), ctypes.c_ulong(0),
                       ctypes.c_ulong(0))
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_watch_parent, args=(parent,), name="alliance-sim-parent-watchdog", daemon=True).start()


def _watch_parent(parent: int) -> None:
    """Fallback for PR_SET_PDEATHSIG: kill this worker once it has been reparented."""
    while os.getppid() == parent:
        time.sleep(WATCHDOG_SECONDS)
    os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------- a pool kept warm across runs
class WarmPool:
    """Spawned worker processes kept alive between runs (the page's pool), dying with this process."""

    # The processes are spawned, never forked (a server's threads and locks are not copied),
    # by a thread that lives as long as this process: PR_SET_PDEATHSIG fires when the
    # *thread* that started a child ends, so a short-lived request thread must not start them.
    # submit is the executor's; a pool whose worker died is replaced on the next call.

    def __init__(self, workers: int, warm: Callable = None) -> None:
        self.workers = int(workers)
        self._warm_fn = warm  # run once in each new worker (module-level, so it pickles): imports, caches
        self._warm: list = []
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._start()

    def _start(self) -> None:
        """Start the processes from a daemon thread that then waits for the rest of the process's life."""
        made = threading.Event()
        box: dict = {}

        def own() -> None:
            import multiprocessing

            try:
                with _sigint_blocked():
                    pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                               initializer=_worker_init, initargs=(os.getpid(),))
                # The first submit launches every process, here in this thread.
                warm = [pool.submit(_warm_up, self._warm_fn) for _ in range(self.workers)]
                box["pool"], box["warm"] = pool, warm
            except BaseException as exc:  # handed to the constructing thread
                box["err"] = exc
            made.set()
            threading.Event().wait()  # keep this thread (the workers' parent for PDEATHSIG) alive

        threading.Thread(target=own, name="alliance-sim-warm-pool", daemon=True).start()
        made.wait()
        if "err" in box:
            raise box["err"]
        self._pool, self._warm = box["pool"], box["warm"]

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every worker has started and warmed up (the benchmark; the page need not wait)."""
        for fut in self._warm:
            fut.result(timeout)

    def submit(self, fn: Callable, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` in a worker; a Future (a broken pool is replaced first)."""
        with self._lock:
            if self._pool is None or getattr(self._pool, "_broken", False):
                self._start()
            return self._pool.submit(fn, *args, **kwargs)

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests: they must die with this process)."""
        return sorted((self._pool._processes or {}).keys()) if self._pool is not None else []

    def shutdown(self) -> None:
        """Stop the workers now (tests; a server just exits and takes them with it)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


def _warm_up(warm: Callable = None) -> int:
    """In a new worker: run ``warm`` (imports the first run will need) once, before that run needs them."""
    if warm is not None:
        warm()
    return os.getpid()
