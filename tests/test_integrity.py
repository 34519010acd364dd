"""Run-directory integrity and worker hygiene (issue 18): no stale, mixed or lost results, no orphans.

- a chunk missing or holding a damaged file is recomputed, and the tables equal a fresh run's;
- a rerun with other output settings leaves none of the earlier run's tables or report;
- a second run on a locked output directory stops with one line (exit 2), and a killed
  holder never leaves the lock behind;
- stale temporaries of killed runs are removed;
- a SIGKILLed parent takes its workers with it; Ctrl-C with workers always exits 130 with
  the one documented line, never hangs and leaves no worker behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis.sessions import read_sessions
from simulation.api import run
from simulation.chunkfiles import FILE_LIST
from simulation.io import read_table
from simulation.rundir import LOCK_FILE, RunDirInUse, run_dir_lock

EXE = str(Path(sys.executable).parent / "alliance-sim")
SMALL = ["experiment=null", "run.replications=2", "run.horizon_days=200", "run.warmup_days=0", "run.progress=false"]
CHUNK_TABLES = ("patients", "sessions", "clinicians", "timeseries", "caseloads", "reassignments", "kpis")
LINUX = sys.platform.startswith("linux")


@pytest.fixture(scope="module")
def fresh():
    """The reference: the same config run without a directory (nothing reused)."""
    return run(SMALL)


def _assert_tables_equal(out: Path, reference) -> None:
    for name in (*CHUNK_TABLES, "summary"):
        pd.testing.assert_frame_equal(read_table(out, name), reference.tables[name], check_exact=True, obj=name)


def _chunk(out: Path, rep: int) -> Path:
    (chunk,) = out.glob(f"chunks/default-*/rep_{rep:04d}")
    return chunk


def _flip_byte(path: Path) -> None:
    """Corrupt a file without changing its size (only the digest can tell)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_chunks_are_recomputed_and_tables_equal_a_fresh_run(tmp_path, fresh):
    """Each damage to a saved chunk makes that chunk a miss; the rerun's tables equal a fresh run's."""
    out = tmp_path / "run"
    run(SMALL, out_dir=out)
    # One damage per chunk per rerun: each damaged chunk alone must be a miss.
    damages = [
        (lambda c: (c / "patients.parquet").unlink(),  # the reproduction: 758 patients instead of 1,509
         lambda c: (c / "sessions.parquet").unlink()),
        (lambda c: (c / "kpis.parquet").unlink(),
         lambda c: _flip_byte(c / "clinicians.parquet")),  # same size, other bytes
        (lambda c: (c / "timeseries.parquet").write_bytes((c / "timeseries.parquet").read_bytes()[:-7]),
         lambda c: (c / FILE_LIST).unlink()),  # no list: nothing can be checked
        (lambda c: (c / "extra.parquet").write_bytes((c / "kpis.parquet").read_bytes()),  # a foreign table
         None),
    ]
    for damage0, damage1 in damages:
        damage0(_chunk(out, 0))
        if damage1 is not None:
            damage1(_chunk(out, 1))
        again = run(SMALL, out_dir=out)
        assert again.manifest["chunks_computed"] == (1 if damage1 is None else 2)
        assert again.manifest["chunks_reused"] == 2 - again.manifest["chunks_computed"]
        _assert_tables_equal(out, fresh)
        assert len(read_table(out, "patients")) == len(fresh.tables["patients"])
    assert run(SMALL, out_dir=out).manifest["chunks_reused"] == 2  # recomputed chunks are whole again


def test_chunk_of_a_config_without_sessions_is_not_reused_for_one_with_them(tmp_path):
    """output.sessions is part of the config digest: the chunks live apart and each run gathers its own."""
    out = tmp_path / "run"
    run([*SMALL, "output.sessions=false"], out_dir=out)
    res = run(SMALL, out_dir=out)
    assert res.manifest["chunks_reused"] == 0
    assert len(list(out.glob("chunks/default-*"))) == 2
    assert len(read_sessions(out)) == len(res.tables["sessions"]) > 0


def test_rerun_with_other_output_settings_leaves_no_stale_tables(tmp_path):
    """Seed 1, then seed 2 without sessions, then seed 2 as CSV: only the last run's tables remain."""
    out = tmp_path / "run"
    run([*SMALL, "run.seed=1"], out_dir=out)
    (out / "report.md").write_text("seed 1 report")
    (out / "figures").mkdir()
    (out / "figures" / "kpis.png").write_bytes(b"png")
    (out / "analysis").mkdir()
    (out / "analysis" / "differences.csv").write_text("a\n1\n")
    (out / "calibration.csv").write_text("target\n")

    second = run([*SMALL, "run.seed=2", "output.sessions=false"], out_dir=out)
    with pytest.raises(FileNotFoundError):
        read_sessions(out)  # seed 1's sessions must not be returned as seed 2's
    assert not list(out.glob("sessions.*"))
    for stale in ("report.md", "figures/kpis.png", "analysis/differences.csv", "calibration.csv"):
        assert not (out / stale).exists(), stale
    pd.testing.assert_frame_equal(read_table(out, "kpis"), second.tables["kpis"], check_exact=True)

    third = run([*SMALL, "run.seed=2", "output.format=csv"], out_dir=out)
    assert not list(out.glob("*.parquet")), "an earlier run's Parquet table would be read first"
    for name in ("patients", "sessions", "kpis", "summary"):
        assert (out / f"{name}.csv").exists()
    # CSV keeps 17 significant digits; its last one may round differently.
    pd.testing.assert_frame_equal(read_table(out, "kpis"), third.tables["kpis"], check_exact=False, rtol=1e-14)
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2


def test_stale_temporaries_are_removed(tmp_path):
    """What killed runs left half-written (table temporaries, chunk and session-part directories) goes."""
    out = tmp_path / "run"
    run(SMALL, out_dir=out)
    digest_dir = _chunk(out, 0).parent
    stale = [out / ".patients.parquet.k2j3h4.tmp", out / ".sessions.parquet.x9.tmp", out / ".manifest.json.a1.tmp",
             digest_dir / f".rep_0000.tmp-{os.getpid()}", digest_dir / ".rep_0001.tmp-999999999",
             digest_dir / ".rep_0001.sessions-parts"]
    for p in stale:
        if p.suffix == ".tmp":
            p.write_bytes(b"x" * 1000)
        else:
            p.mkdir()
            (p / "part-00000.parquet").write_bytes(b"partial")
    keep = out / "notes.txt"  # not ours: never touched
    keep.write_text("mine")
    res = run(SMALL, out_dir=out)
    assert res.manifest["chunks_reused"] == 2
    assert [p for p in stale if p.exists()] == []
    assert keep.read_text() == "mine"


def test_second_run_on_a_locked_directory_stops_with_one_line(tmp_path):
    """While one run holds the directory, another stops before touching it: one line, exit 2."""
    out = tmp_path / "run"
    with run_dir_lock(out):
        proc = subprocess.run([EXE, *SMALL, f"output.dir={out}", f"hydra.run.dir={tmp_path / 'h'}"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == [
            f"alliance-sim: output.dir {out} is in use by another run (pid {os.getpid()})"]
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE], "the refused run wrote into the directory"
        with run_dir_lock(out):  # re-entrant within the process that holds it
            pass
    with run_dir_lock(out):  # released on leaving the block
        pass


def test_lock_of_a_killed_run_is_released(tmp_path):
    """The kernel drops the lock with its holder: a SIGKILLed run never blocks the next one."""
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom simulation.rundir import run_dir_lock\n"
         "with run_dir_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)\n", str(out)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirInUse) as err:
            run(SMALL, out_dir=out)
        assert err.value.key == "output.dir" and f"(pid {holder.pid})" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    res = run(SMALL, out_dir=out)
    assert res.manifest["chunks_computed"] == 2


# ----------------------------------------------------------------------------- workers
def _proc_state(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process from /proc, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
    return (state, int(ppid)) if state not in ("Z", "X") else None  # a zombie is dead, only not yet reaped


def _children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (psutil is not a dependency: read /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _proc_state(int(d.name))
            if st is not None and st[1] == pid:
                out.append(int(d.name))
    return out


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_killed_parent_takes_its_workers_with_it(tmp_path):
    """SIGKILL of a run with run.workers=2 leaves no orphan worker and no lock behind."""
    out = tmp_path / "run"
    args = [EXE, "experiment=null", "run.replications=4", "run.workers=2", "run.horizon_days=1000",
            "run.warmup_days=60", "run.progress=false", "output.sessions=false", f"output.dir={out}",
            f"hydra.run.dir={tmp_path / 'h'}"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while len(workers := _children(proc.pid)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "the workers never started"
            time.sleep(0.02)
        time.sleep(0.3)  # let them get into a chunk
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.time() + 10
        while alive := [w for w in workers if _proc_state(w) is not None]:
            assert time.time() < deadline, f"orphan workers {alive} outlived their killed parent"
            time.sleep(0.05)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # clean up whatever is left if the test failed
        except ProcessLookupError:
            pass
    assert json.loads((out / "manifest.json").read_text())["completed"] is False
    with run_dir_lock(out):  # the lock died with the run (tests/test_resume.py checks the resume itself)
        pass


# A driver process composes the scenarios once and forks one run per trial, so a trial
# costs a small parallel run, not an interpreter start and three Hydra compositions. The
# forked child runs what the alliance-sim command runs after composing (run_scenarios,
# write_run) inside the command's own Ctrl-C guard (simulation.cli.interruptible), in its
# own process group as a terminal's foreground job, and exits through normal interpreter
# teardown. (tests/test_resume.py sends Ctrl-C to the real command with workers as well.)
DRIVER = r"""
import json, os, random, signal, sys, time
from pathlib import Path
cfg = json.loads(sys.argv[1])
import simulation.cli as cli
from simulation.api import build_scenarios
from simulation.rundir import run_dir_lock
from simulation.runner import run_scenarios, write_run
_, scenarios = build_scenarios(cfg["args"])
reps = scenarios[0].config.run.replications

def state(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    s, ppid = stat[stat.rindex(")") + 2:].split()[:2]
    return None if s in ("Z", "X") else int(ppid)

def children(pid):
    return [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and state(int(d.name)) == pid]

def read(path):
    try:
        return path.read_bytes()
    except OSError:
        return b""

def body(out):
    with run_dir_lock(out):
        res = run_scenarios(scenarios, reps, run_dir=out, workers=2)
        write_run(res, out)

def trial(i, delay):
    out = Path(cfg["base"]) / f"t{i}"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        os.close(r)
        os.dup2(w, 2)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        cli._RUN.update(dir=out, resume="Run the same command again to resume.")
        cli.interruptible(lambda: body(out))
        sys.exit(0)
    os.close(w)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    t0 = time.time()
    workers, status = [], None
    while len(workers) < 2 and status is None and time.time() - t0 < 60:
        workers = children(pid)
        done, st = os.waitpid(pid, os.WNOHANG)
        status = st if done else None
        time.sleep(0.005)
    t_workers = time.time()
    if delay is not None and status is None:
        time.sleep(delay)
        try:
            os.killpg(pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    t_sig = time.time()
    hang, complete = False, None
    while status is None:
        done, st = os.waitpid(pid, os.WNOHANG)
        if complete is None and delay is None and b'"completed": true' in read(out / "manifest.json"):
            complete = time.time() - t_workers
        if done:
            status = st
        elif time.time() - t_sig > 30:
            hang = True
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.005)
    err = b""
    while chunk := os.read(r, 65536):
        err += chunk
    os.close(r)
    deadline = time.time() + 5
    while (left := [w for w in workers if state(w) is not None]) and time.time() < deadline:
        time.sleep(0.02)
    res = {"rc": os.waitstatus_to_exitcode(status), "stderr": err.decode(errors="replace"), "hang": hang,
           "workers": len(workers), "orphans": left, "complete_after_workers": complete,
           "seconds": round(time.time() - t0, 3), "delay": delay}
    print(json.dumps(res), flush=True)
    return res

rng = random.Random(cfg["seed"])
span = min(trial(f"calibration{i}", None)["complete_after_workers"] for i in range(2))  # the first is cold
interrupted = trials = 0
while interrupted < cfg["interrupted"] and trials < cfg["max_trials"]:
    trials += 1
    interrupted += trial(trials, rng.uniform(0, cfg["reach"] * span))["rc"] == 130
"""


@pytest.mark.skipif(not LINUX, reason="reads /proc, uses fork")
def test_ctrl_c_with_workers_always_exits_130_with_one_line(tmp_path):
    """Ctrl-C (SIGINT to the process group) at random points of 70 runs with run.workers=2.

    Each trial starts a small parallel run (3 chunks, 2 workers) and, once the workers
    exist, sends SIGINT after a delay drawn uniformly between 0 and 110% of the time the
    run takes from that point to its complete manifest (the shorter of two uninterrupted
    calibration runs), so the signals land while chunks compute, while they are saved, at
    the pool's shutdown, while the tables are written and (a few) during exit. Every
    interrupted trial must exit 130 with exactly the one documented line and no traceback,
    within 30 s (no hang), and leave no worker alive; a trial whose run had finished when
    the signal came must exit 0 without a traceback.
    Trials continue until 70 were interrupted: a failure that occurs in 1 trial out of 30
    is then caught with probability 1 - (29/30)^70 = 90.7%.
    """
    cfg = {"base": str(tmp_path), "seed": 18, "interrupted": 70, "max_trials": 100, "reach": 1.1,
           "args": ["experiment=null", "run.replications=3", "run.horizon_days=40", "run.warmup_days=0",
                    "output.sessions=false"]}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(cfg)], capture_output=True, text=True,
                          timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    calibration, trials = results[:2], results[2:]
    for calib in calibration:
        assert calib["rc"] == 0 and calib["workers"] == 2 and not calib["orphans"], calib
    interrupted = [t for t in trials if t["rc"] == 130]
    assert len(interrupted) >= 70, [t["rc"] for t in trials]
    expected = "alliance-sim: interrupted; finished chunks are kept under "
    for t in trials:
        assert not t["hang"], t
        assert not t["orphans"], t
        assert "Traceback" not in t["stderr"] and "Error" not in t["stderr"], t
        if t["rc"] == 130:
            lines = [ln for ln in t["stderr"].splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith(expected), t
        else:
            assert t["rc"] == 0, t
