"""A streamed session table is the in-memory one, row for row; memory stays bounded."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.sessions import iter_sessions, read_sessions
from simulation.api import load_config, run
from simulation.errors import ConfigError
from simulation.recorder import SessionRecorder
from simulation.service import Service
from simulation.streaming import SessionStream, part_files

BASE = ["run.replications=2", "run.horizon_days=200", "run.warmup_days=40", "run.progress=false"]
STREAM = ["output.stream_sessions=true", "output.stream_rows=1000"]


@pytest.fixture(scope="module")
def in_memory():
    return run(BASE)


def test_streamed_equals_in_memory(tmp_path, in_memory):
    res = run(BASE + STREAM, out_dir=tmp_path)
    assert "sessions" not in res.tables  # never held in memory
    assert len(res.session_parts) > 2  # several parts per chunk were written
    streamed = pd.read_parquet(tmp_path / "sessions.parquet")
    pd.testing.assert_frame_equal(streamed, in_memory.tables["sessions"], check_exact=True)
    assert res.manifest["row_counts"]["sessions"] == len(in_memory.tables["sessions"])
    for name in ("patients", "kpis", "timeseries"):
        pd.testing.assert_frame_equal(res.tables[name], in_memory.tables[name], check_exact=True)


def test_streamed_with_workers_and_cache_equals_in_memory(tmp_path, in_memory):
    run(BASE + STREAM + ["run.workers=2"], out_dir=tmp_path)
    chunk_parts = sorted(tmp_path.glob("chunks/*/rep_*/sessions/part-*.parquet"))
    assert chunk_parts and not list(tmp_path.glob("chunks/*/.*"))  # parts moved into their chunks
    again = run(BASE + STREAM, out_dir=tmp_path)  # every chunk reused, parts read from the cache
    assert again.manifest["chunks_reused"] == 2
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sessions.parquet"), in_memory.tables["sessions"],
                                  check_exact=True)
    # A non-streamed rerun over streamed chunks loads the parts back into memory.
    mem = run(BASE, out_dir=tmp_path)
    pd.testing.assert_frame_equal(mem.tables["sessions"], in_memory.tables["sessions"], check_exact=True)


def test_buffer_is_flushed_during_the_run(tmp_path):
    """The recorder never holds much more than stream_rows rows (plus one week's sessions)."""
    cfg = load_config(BASE + STREAM)
    svc = Service(cfg, 0, "s", sessions_dir=str(tmp_path / "parts"))
    most = 0
    original = svc.session_stream.flush

    def spy(force=False):
        nonlocal most
        most = max(most, len(svc.recorder))
        original(force)

    svc.session_stream.flush = spy
    svc.run()
    sizes = [pq_rows(p) for p in part_files(tmp_path / "parts")]
    assert len(sizes) >= 2 and sum(sizes) > 1000
    weekly = 10 * 20  # clinicians x caseload cap: at most one session each per week
    assert most <= 1000 + weekly
    assert len(svc.recorder) == 0


def pq_rows(path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def test_empty_chunk_still_has_a_schema(tmp_path):
    rec = SessionRecorder(True)
    stream = SessionStream(rec, tmp_path / "p", 1000, "s", 0)
    parts = stream.close()
    df = pd.read_parquet(parts[0])
    assert len(df) == 0 and list(df.columns[:3]) == ["scenario", "replication", "patient_id"]


def test_lazy_reading_filters_columns_and_rows(tmp_path, in_memory):
    run(BASE + STREAM, out_dir=tmp_path)
    full = in_memory.tables["sessions"]
    part = read_sessions(tmp_path, columns=["replication", "patient_id", "alliance_patient"],
                         where=("replication", "==", 1))
    expect = full.loc[full["replication"] == 1, ["replication", "patient_id", "alliance_patient"]]
    pd.testing.assert_frame_equal(part, expect.reset_index(drop=True), check_exact=True)
    batches = list(iter_sessions(tmp_path, columns=["day"], batch_rows=500))
    assert len(batches) > 2 and all(len(b) <= 500 for b in batches)
    assert pd.concat(batches, ignore_index=True)["day"].equals(full["day"])


def test_streaming_needs_a_run_directory():
    with pytest.raises(ConfigError) as err:
        run(BASE + STREAM)
    assert err.value.key == "output.stream_sessions"


def test_stream_rows_range_checked():
    with pytest.raises(ConfigError):
        load_config(["output.stream_rows=10"])
