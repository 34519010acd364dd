"""Run chunks on a Dask distributed cluster (``run.backend=dask``).

The same chunks (scenario x replication) that local workers compute are submitted as
tasks calling :func:`simulation.runner.run_chunk`; each task *returns* its tables, and the
parent process saves and gathers them exactly as for a serial run, so results are
identical. With ``run.dask.address`` the chunks go to an existing scheduler (its workers
need the same alliance-sim code and dependencies installed); without it a local cluster
of ``run.dask.local_workers`` single-threaded worker processes is started and closed.

A streamed session table (``output.stream_sessions``) is written by the worker into the
chunk's own directory under the run directory, so on a multi-machine cluster that
directory must be on a file system every worker can write (a shared/network mount).
"""

from __future__ import annotations

from typing import Callable, Optional


CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler before the run is refused


def connect(client_cls, address: str, timeout: float = CONNECT_TIMEOUT):
    """A client of the scheduler at ``address``, or a one-line ConfigError if none answers as Dask does."""
    from .errors import ConfigError

    try:
        return client_cls(address, timeout=timeout)
    except Exception as exc:  # refused, timed out, or something that is not a Dask scheduler answered
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        if isinstance(exc, MemoryError):  # a garbage length prefix: something else listens there
            reason = "something answered, but not as a Dask scheduler"
        raise ConfigError("run.dask.address", address,
                          f"a running Dask scheduler (none answered within {timeout:g} s: {reason})") from None


def run_on_dask(todo: list, finished: Callable, run_chunk: Callable, config_digest: Callable,
                address: Optional[str] = None, local_workers: int = 1) -> None:
    """Submit every ``(s_i, scenario, replication, sessions_dir)`` and hand results to ``finished``.

    ``run_chunk`` and ``config_digest`` are the runner's (passed in, so this module does
    not import the runner that imports it).
    """
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the installation
        from .errors import ConfigError

        raise ConfigError("run.backend", "dask",
                          "an installation with the dask extra: pip install 'alliance-sim[dask]'") from exc
    cluster = None
    if address:
        client = connect(Client, address)
    else:
        # One thread per worker: a chunk is pure Python and holds the GIL throughout.
        cluster = LocalCluster(n_workers=max(1, int(local_workers)), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {}
        for s_i, s, r, sdir in todo:
            key = f"alliance-chunk-{s.name}-{config_digest(s.config)}-{r}"
            fut = client.submit(run_chunk, s.config, s.name, r, sdir, key=key, pure=False)
            futures[fut] = (s_i, s, r)
        for fut in as_completed(list(futures)):
            s_i, s, r = futures.pop(fut)
            finished(s_i, s, r, fut.result())
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
