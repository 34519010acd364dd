"""No lost results: a killed experiment resumes from its saved chunks and ends identical.

The command line runs a two-scenario experiment (4 chunks) into an explicit
``output.dir``; it is killed with SIGKILL after the first chunk is saved, started again
and stopped with SIGINT (Ctrl-C) after more chunks, then started a third time to finish.
Each restart must reuse exactly the chunks already saved, the manifest must say
``completed: false`` while the run is unfinished, and the final tables must equal an
uninterrupted run's.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from simulation.api import run
from simulation.io import atomic_write_bytes, read_table, write_table

EXE = str(Path(sys.executable).parent / "alliance-sim")
EXPERIMENT = """description: two scenarios for the resume test
baseline: usual
scenarios:
  usual: []
  more_staff: [service.clinicians=12]
"""
ARGS = ["run.replications=2", "run.horizon_days=900", "run.warmup_days=60", "run.progress=false",
        "output.sessions=false"]


def _done_chunks(out: Path) -> int:
    return len([p for p in out.glob("chunks/*/rep_*") if (p / "DONE").exists()])


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen([EXE, *args, f"hydra.run.dir={tmp_path / 'hydra'}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)


def _interrupt_after(proc: subprocess.Popen, out: Path, chunks: int, sig: int) -> tuple[str, str]:
    deadline = time.time() + 120
    while _done_chunks(out) < chunks:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no chunk finished in time"
        time.sleep(0.02)
    proc.send_signal(sig)
    return proc.communicate(timeout=60)


def test_killed_experiment_resumes_and_matches_an_uninterrupted_run(tmp_path):
    exp = tmp_path / "resume.yaml"
    exp.write_text(EXPERIMENT)
    out = tmp_path / "run"
    args = [f"experiment={exp}", *ARGS, f"output.dir={out}"]

    # 1. Hard kill (no chance to clean up) after the first chunk.
    proc = _start(args, tmp_path)
    _interrupt_after(proc, out, 1, signal.SIGKILL)
    first = _done_chunks(out)
    assert 1 <= first < 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["completed"] is False and manifest["chunks_total"] == 4
    assert not list(out.glob("patients.*")), "no table may exist before the run completes"

    # 2. Restart, then Ctrl-C once more chunks are saved: one clean line, exit 130.
    proc = _start(args, tmp_path)
    _, err = _interrupt_after(proc, out, first + 1, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("alliance-sim: interrupted; finished chunks are kept")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["completed"] is False
    assert manifest["chunks_reused"] == first
    second = _done_chunks(out)
    assert first < second < 4

    # 3. Restart to the end: reuses exactly the saved chunks and computes the rest.
    proc = subprocess.run([EXE, *args, f"hydra.run.dir={tmp_path / 'hydra'}"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"reused {second} of 4 chunks" in proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["completed"] is True
    assert manifest["chunks_reused"] == second and manifest["chunks_computed"] == 4 - second

    reference = run(args[:-1])
    for name in ("patients", "clinicians", "timeseries", "kpis", "summary"):
        pd.testing.assert_frame_equal(read_table(out, name), reference.tables[name], check_exact=True,
                                      obj=name)


def test_atomic_writes_leave_old_file_on_failure(tmp_path):
    """A writer that dies part-way leaves the previous file untouched and no temporary file."""
    target = tmp_path / "t.parquet"
    df = pd.DataFrame({"a": [1, 2, 3]})
    write_table(df, tmp_path / "t", csv_if_small=False)

    class Boom(Exception):
        pass

    def bad_writer(frame):
        def to_parquet(path, index=False):
            Path(path).write_bytes(b"partial")
            raise Boom()
        return to_parquet

    broken = pd.DataFrame({"a": [9]})
    broken.to_parquet = bad_writer(broken)  # type: ignore[method-assign]
    try:
        write_table(broken, tmp_path / "t", csv_if_small=False)
    except Boom:
        pass
    pd.testing.assert_frame_equal(pd.read_parquet(target), df)
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    atomic_write_bytes(tmp_path / "m.json", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "t.parquet"]


def test_damaged_chunk_is_recomputed(tmp_path):
    """A chunk whose files cannot be read is treated as missing, not as a result."""
    args = ["run.replications=2", "run.horizon_days=120", "run.warmup_days=30", "run.progress=false"]
    first = run(args, out_dir=tmp_path)
    chunk = next(tmp_path.glob("chunks/*/rep_0001"))
    (chunk / "patients.parquet").write_bytes(b"not parquet")
    stale = chunk.parent / ".rep_0000.tmp-999999999"  # left by a writer that was killed
    stale.mkdir()
    again = run(args, out_dir=tmp_path)
    assert not stale.exists()
    assert again.manifest["chunks_reused"] == 1 and again.manifest["chunks_computed"] == 1
    pd.testing.assert_frame_equal(again.patients, first.patients, check_exact=True)


def test_ctrl_c_with_parallel_workers_is_clean(tmp_path):
    """Ctrl-C in a terminal signals the whole process group: parent and workers.

    The parent must print one line and exit 130, workers must not print tracebacks, and no
    worker may outlive the parent.
    """
    import os

    out = tmp_path / "run"
    args = ["run.replications=4", "run.workers=2", "run.horizon_days=900", "run.warmup_days=60",
            "run.progress=false", "output.sessions=false", f"output.dir={out}", f"hydra.run.dir={tmp_path / 'h'}"]
    proc = subprocess.Popen([EXE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            start_new_session=True)
    deadline = time.time() + 120
    while _done_chunks(out) < 1:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1].startswith("alliance-sim: interrupted")
    for _ in range(100):  # workers are terminated by the parent; give the kernel a moment
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("worker processes outlived the interrupted run")
    assert json.loads((out / "manifest.json").read_text())["completed"] is False
