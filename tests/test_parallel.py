"""Serial, local-parallel and Dask runs of the same config and seed give identical tables."""

from __future__ import annotations

import pandas as pd
import pytest

from simulation.api import load_config, run
from simulation.errors import ConfigError

BASE = ["run.replications=3", "run.horizon_days=200", "run.warmup_days=40", "run.progress=false"]
TABLES = ("patients", "sessions", "clinicians", "timeseries", "reassignments", "kpis")


def assert_same(a, b):
    for name in TABLES:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True, obj=name)


@pytest.fixture(scope="module")
def serial():
    return run(BASE)


def test_workers_two_equals_serial(serial):
    parallel = run(BASE + ["run.workers=2"])
    assert_same(serial, parallel)
    # Replications really differ (so equality above is not trivially empty).
    k = serial.tables["kpis"]
    assert len(k) == 3 and not k.iloc[0, 2:].equals(k.iloc[1, 2:])
    assert len(serial.tables["sessions"]) > 1000


def test_dask_existing_cluster_equals_serial(serial):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        res = run(BASE + ["run.backend=dask", f"run.dask.address={cluster.scheduler_address}"])
    assert_same(serial, res)


def test_dask_streamed_sessions_equal_serial(tmp_path, serial):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        res = run(BASE + ["run.backend=dask", f"run.dask.address={cluster.scheduler_address}",
                          "output.stream_sessions=true", "output.stream_rows=1000"], out_dir=tmp_path)
    assert "sessions" not in res.tables
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sessions.parquet"), serial.tables["sessions"],
                                  check_exact=True)


def test_dask_local_cluster_started_when_no_address(serial):
    pytest.importorskip("dask.distributed")
    res = run(BASE + ["run.replications=3", "run.backend=dask", "run.dask.local_workers=1"])
    assert_same(serial, res)


def test_parallel_workers_write_no_files(tmp_path, serial, monkeypatch):
    """Workers only return data: a run without a run directory leaves the disk untouched."""
    monkeypatch.chdir(tmp_path)
    run(BASE + ["run.workers=2"])
    assert list(tmp_path.iterdir()) == []


def test_parallel_run_dir_reuses_chunks(tmp_path, serial):
    first = run(BASE + ["run.workers=2"], out_dir=tmp_path)
    again = run(BASE + ["run.workers=2"], out_dir=tmp_path)
    assert again.manifest["chunks_reused"] == 3
    assert_same(first, again)
    assert_same(serial, again)


@pytest.mark.parametrize("override", ["run.dask.local_workers=0", "run.dask.address=' '"])
def test_bad_dask_settings_rejected(override):
    with pytest.raises(ConfigError):
        load_config([override])
