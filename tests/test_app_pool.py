"""The page's warm worker pool: same tables and figures as a serial run, workers that die with the server."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.app import engine
from analysis.figures import pick_examples
from simulation.workers import WarmPool

ROOT = Path(__file__).resolve().parents[1]
LINUX = sys.platform.startswith("linux")
SHORT = ("run.horizon_days=240", "run.warmup_days=60")


@pytest.fixture(scope="module")
def pool():
    """A warm pool of two spawned workers, started from a thread that ends at once (as a page request's)."""
    box = {}
    t = threading.Thread(target=lambda: box.update(pool=WarmPool(2, warm=engine._warm_worker)))
    t.start()
    t.join()
    yield box["pool"]
    box["pool"].shutdown()


@pytest.fixture(scope="module")
def settings():
    """Teach settings that differ from usual care (so the two scenarios differ), on a short horizon."""
    d = engine.teach_defaults(SHORT)
    return dataclasses.replace(d, repair_skill=1.0, trained_share=0.5, monitoring=True, replications=3)


def test_pool_outlives_the_thread_that_started_it(pool):
    """PR_SET_PDEATHSIG follows the starting thread: the workers must survive its end and keep working."""
    pids = pool.pids()
    assert len(pids) == 2 and os.getpid() not in pids
    got = {pool.submit(os.getpid).result(timeout=300) for _ in range(8)}
    assert got <= set(pids) and pool.pids() == pids


def test_teach_run_on_the_pool_equals_the_serial_run(pool, settings):
    """Same seeds, common random numbers: every table of the pool's run is bit-identical to the serial run."""
    serial = engine.simulate_teach(settings)
    pooled = engine.simulate_teach(settings, pool)
    assert set(serial.tables) == set(pooled.tables)
    for name, table in serial.tables.items():
        pd.testing.assert_frame_equal(pooled.tables[name], table, check_exact=True, obj=name)
    a, b = engine.teach_numbers(serial, settings), engine.teach_numbers(pooled, settings)
    assert a.headlines == b.headlines
    # The figures drawn on the workers are the same PNG bytes as drawn here (one plotting code).
    drawing = engine.submit_figures(pooled, a.figures, pool)
    here = engine.draw_figures(serial, a.figures)
    assert [f.name for f in here] == list(engine.FIGURES[f] for f in engine.TEACH_FIGURES)
    for fig in here:
        got = drawing[fig.name].result(timeout=300)
        assert fig.png is not None and got.png == fig.png and got.caption == fig.caption, fig.name


def test_without_a_pool_figures_are_drawn_on_request(settings):
    """One core: no workers; each figure is drawn here when asked for, the same as draw_figures."""
    run = engine.simulate_teach(dataclasses.replace(settings, replications=2))
    drawing = engine.submit_figures(run, ["differences"], None)
    assert drawing["differences"].result().png == engine.draw_figures(run, ["differences"])[0].png


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_warm_pool_workers_die_with_a_killed_server(tmp_path):
    """SIGKILL of the process holding the pool (the page's server) takes the spawned workers with it."""
    code = ("import os, sys, time\n"
            "from simulation.workers import WarmPool\n"
            "if __name__ == '__main__':\n"
            "    p = WarmPool(2)\n"
            "    p.wait_ready(300)\n"
            "    print(' '.join(map(str, p.pids())), flush=True)\n"
            "    time.sleep(600)\n")
    script = tmp_path / "server.py"
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(Path(f"/proc/{w}").exists() for w in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.time() + 30
        while alive := [w for w in workers if _running(w)]:
            assert time.time() < deadline, f"workers {alive} outlived their killed parent"
            time.sleep(0.05)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


# ----------------------------------------------------------------------------- example trajectories
def _reference_picks(sessions: pd.DataFrame, patients: pd.DataFrame, per_row: int) -> dict[str, list]:
    """The examples' definition written patient by patient (slow, plain): the oracle for pick_examples."""
    keys = ["replication", "patient_id"]
    s = sessions[sessions["attended"].astype(bool)].sort_values([*keys, "day"], kind="stable")
    m = patients.loc[patients["measured"].astype(bool), [*keys, "exit_reason"]]
    exits = {(r, p): str(e) for r, p, e in m.itertuples(index=False)}
    steady, v, u = [], [], []
    for key, d in s.groupby(keys, sort=True):
        key = tuple(int(k) for k in key)
        if key not in exits:
            continue
        a = d["alliance_latent"].to_numpy()
        rupt = (d["rupture"].astype(str) != "none").to_numpy()
        ok = (d["repair"].astype(str) == "noticed_repaired").to_numpy()
        unres = d["unresolved"].to_numpy(dtype=bool)
        n = len(d)
        if rupt.sum() == 0:
            if n >= 8:
                steady.append((-n, key))
            continue
        first = int(np.argmax(rupt))
        if first < 2 or first > n - 3:
            continue
        repaired_later = [i for i in range(first + 1, n) if ok[i]]
        if rupt.sum() == 1 and n >= 6 and unres[first] and repaired_later and repaired_later[0] < n - 1:
            v.append((-(a[first - 1] - a[first]), key))
        if n >= 5 and unres[first:].all():
            u.append((exits[key] != "dropout", -(a[first - 1] - a[-1]), key))
    return {"no rupture": [k for _, k in sorted(steady)[:per_row]],
            "rupture repaired": [k for *_, k in sorted(v)[:per_row]],
            "rupture unrepaired": [k for *_, k in sorted(u)[:per_row]]}


@pytest.mark.parametrize("repair_skill", [-3.0, 1.0])
def test_pick_examples_matches_the_patient_by_patient_definition(settings, repair_skill):
    """The vectorised picks equal the plain per-patient definition, for the figure's 3 and for 25 per row."""
    run = engine.simulate_teach(dataclasses.replace(settings, repair_skill=repair_skill, replications=2))
    s = run.tables["sessions"]
    p = run.tables["patients"]
    s, p = s[s["scenario"] == engine.YOURS], p[p["scenario"] == engine.YOURS]
    for per_row in (3, 25):
        got = {k: [tuple(int(x) for x in key) for key in v] for k, v in pick_examples(s, p, per_row).items()}
        want = _reference_picks(s, p, per_row)
        assert got == want
        assert sum(map(len, want.values())) > 3  # the run has examples to pick from
