"""The event engine's shortcuts give the answers of the naive versions they replace.

The free-clinician index, lazy reneging, event chains instead of processes and the GC
pause exist for speed only; these tests check each against a direct computation.
"""

from __future__ import annotations

import gc
import math

import pytest

from simulation.api import load_config
from simulation.policies import REASSIGNMENT, Continuity, ReassignmentPolicy
from simulation.service import Service, paused_gc

# A small community team with turnover, absence and cover: caseloads move up and down,
# clinicians leave and arrive, so the free-clinician index is exercised on every path.
BUSY_TEAM = ["reference=community_team", "turnover=community_team", "turnover.annual_rate=0.4",
             "turnover.absence_cover=true", "run.warmup_days=200", "run.horizon_days=600",
             "service.referrals_per_week=5", "output.sessions=false"]
# An overloaded talking-therapy service whose patients give up waiting often.
LONG_WAITS = ["service=talking_therapy", "service.referrals_per_week=40", "service.renege_per_week=0.5",
              "run.warmup_days=100", "run.horizon_days=500", "output.sessions=false"]


def _free_by_scan(svc: Service, key) -> list:
    return [c for c in svc.by_team_discipline[key] if c.active and c.caseload < c.caseload_cap]


@pytest.mark.parametrize("policy", ["reassign", "hold"])
def test_free_clinician_index_matches_a_scan_throughout_a_run(policy):
    svc = Service(load_config(BUSY_TEAM + [f"policy.on_leave={policy}"]), 0)
    checks = {"n": 0, "bad": 0, "empty": 0, "nonempty": 0}

    def monitor():
        while True:
            yield svc.env.timeout(3.0)
            for key in svc.free:
                checks["n"] += 1
                index = svc.free[key]
                direct = _free_by_scan(svc, key)
                if index.in_order != direct:
                    checks["bad"] += 1
                least = min(direct, key=lambda c: (c.caseload / c.caseload_cap, c.id)) if direct else None
                if index.least_loaded() is not least:
                    checks["bad"] += 1
                checks["empty" if not direct else "nonempty"] += 1

    svc.env.process(monitor())
    svc.run()
    assert checks["bad"] == 0
    assert checks["n"] > 500
    assert checks["empty"] > 0 and checks["nonempty"] > 0  # both states were seen
    assert svc.vacancies >= 0 and any(not c.active for c in svc.clinicians)  # turnover happened


def test_lazy_reneging_is_exact():
    svc = Service(load_config(LONG_WAITS), 0)
    svc.run()
    pts = svc.patients
    reneged = [p for p in pts if p.exit_reason == "left_waiting_list"]
    assert len(reneged) > 100
    for p in reneged:
        assert p.exit_day == p.renege_day  # on their renege day, not when someone looked
        assert not p.started
    for p in pts:
        if p.started:
            assert p.referral_day + p.queue_days <= p.renege_day  # allocated before giving up
        elif p.renege_day < svc.end_day:
            assert p.exit_reason == "left_waiting_list"
        else:
            assert p.exit_reason in ("", "censored") and not p.exited
    # The sampled waiting list equals a count from the patients' own days.
    starts = [p.referral_day + p.queue_days if p.started else math.inf for p in pts]
    exits = [p.exit_day if p.exited else math.inf for p in pts]
    for day, waiting, *_ in svc.timeseries[1:]:
        direct = sum(1 for p, s, e in zip(pts, starts, exits) if p.referral_day <= day < s and e > day)
        assert waiting == direct
    # The heap holds only waiting patients' days (plus stale ones, at most about as many).
    assert len(svc._reneges.items) <= 2 * svc.n_waiting + 64


def test_gc_is_restored_after_a_run_and_pauses_nest():
    assert gc.isenabled()
    svc = Service(load_config(["run.horizon_days=60", "run.warmup_days=0"]), 0)
    svc.run()
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a collector the caller had switched off stays off
    finally:
        gc.enable()


def test_only_the_no_op_reassignment_policy_is_skipped():
    cfg = load_config([])
    svc = Service(cfg, 0)
    assert Continuity(cfg.policy, svc).never_moves
    movers = [name for name, cls in REASSIGNMENT.items()
              if cls.after_session is not ReassignmentPolicy.after_session]
    assert movers  # e.g. alliance_threshold, unresolved_rupture, patient_request
    for name in movers:
        assert not REASSIGNMENT[name](cfg.policy, svc).never_moves


_CALLS = """
import cProfile, pstats, sys
from simulation.api import load_config
from simulation.service import Service
scale = int(sys.argv[1])
cfg = load_config(["service=talking_therapy", "run.warmup_days=0", "run.horizon_days=240",
                   f"service.referrals_per_week={26 * scale}", f"service.clinicians={10 * scale}",
                   "output.sessions=false"])
svc = Service(cfg, 0)
prof = cProfile.Profile()
prof.enable()
svc.simulate()
prof.disable()
print(pstats.Stats(prof).total_calls / sum(p.sessions_attended + p.dnas for p in svc.patients))
"""


def _calls_per_session(scale: int) -> float:
    """Python calls per session of the whole model run as Python (ALLIANCE_SIM_PURE=1:
    compiled code makes calls cProfile cannot see)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = subprocess.run([sys.executable, "-c", _CALLS, str(scale)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1], env={**os.environ, "ALLIANCE_SIM_PURE": "1"})
    return float(out.stdout.strip().splitlines()[-1])


def test_work_per_session_does_not_grow_with_the_service():
    """Linear cost, counted in Python calls (deterministic, unlike timings).

    With 16 times the referrals and staff, a per-allocation scan of the team would add
    calls per session (the previous engine went from 50 to 73); the index keeps it flat.
    """
    small, large = _calls_per_session(1), _calls_per_session(16)
    assert 30 < small < 60
    assert abs(large / small - 1.0) < 0.03


def test_lazy_heap_drops_stale_entries_and_duplicates():
    from simulation.lazyheap import LazyHeap

    alive = {1, 2}
    heap = LazyHeap(lambda e: e[1] in alive)
    for _ in range(500):  # the same live entries pushed again and again (a caseload going up and down)
        heap.push((5, 1), expected_live=2)
        heap.push((3, 2), expected_live=2)
    assert len(heap.items) <= 2 * 2 + 64
    assert sorted(set(heap.items)) == [(3, 2), (5, 1)]
    alive.discard(2)
    assert heap.first() == (5, 1)  # the stale smaller entry is skipped and dropped
    assert heap.pop() == (5, 1)
    alive.clear()
    assert heap.first() is None and heap.items == []


def _simpy_program(env, log):
    """Processes, timeouts at equal times, an interrupt and a defused failure."""
    import simpy

    def worker(name, gaps):
        for g in gaps:
            try:
                yield env.timeout(g)
                log.append((env.now, name))
            except simpy.Interrupt as why:
                log.append((env.now, name, "interrupted", why.cause))

    def failing():
        yield env.timeout(1.5)
        ev = env.event()
        ev.fail(ValueError("handled"))
        ev.defused = True
        log.append((env.now, "failed and defused"))

    a = env.process(worker("a", [1.0, 1.0, 0.5, 2.0]))
    env.process(worker("b", [2.0, 0.5, 0.5]))
    env.process(failing())

    def interrupter():
        yield env.timeout(2.25)
        a.interrupt("stop")

    env.process(interrupter())


def test_run_until_processes_events_exactly_as_simpy_run():
    import simpy

    from simulation.events import run_until

    logs = []
    for runner in ("simpy", "ours"):
        env, log = simpy.Environment(), []
        _simpy_program(env, log)
        if runner == "simpy":
            env.run(until=4.0)
        else:
            run_until(env, 4.0)
        logs.append((log, env.now, len(env._queue)))
    assert logs[0] == logs[1]
    assert len(logs[0][0]) >= 6 and logs[0][1] == 4.0


def test_run_until_raises_an_undefused_failure_and_rejects_a_past_until():
    import simpy

    from simulation.events import run_until

    env = simpy.Environment()

    def broken():
        yield env.timeout(1.0)
        raise KeyError("boom")

    env.process(broken())
    with pytest.raises(KeyError):
        run_until(env, 5.0)
    with pytest.raises(ValueError, match="must be greater"):
        run_until(env, 0.5)


class _ScheduledLink:
    """The reference for :class:`simulation.events.Wake`: a chain link booked with simpy's own
    ``Environment.schedule``."""

    def __init__(self, env, callback):
        self.env, self.again, self.callbacks, self._ok, self._value = env, [callback], None, True, None

    def book(self, delay):
        from simpy.events import NORMAL

        self.callbacks = self.again
        self.env.schedule(self, NORMAL, delay)

    def book_at(self, at):
        self.book(at - self.env.now)  # exact here: every day in these chains is a binary fraction


def _chains(env, log, make):
    """Three self-booking chains (by delay and by day) and a simpy process, with ties in time."""

    def link(name, gaps, by_day):
        todo = iter(gaps)

        def fire(w):
            log.append((env.now, name, getattr(w, "at", env.now) == env.now))
            g = next(todo, None)
            if g is not None:
                if by_day:
                    w.book_at(env.now + g)
                else:
                    w.book(g)

        return fire

    make(env, link("a", [1.0, 0.5, 0.5, 0.0], True)).book(0.5)
    make(env, link("b", [0.5, 1.0, 0.0], False)).book(1)
    make(env, link("c", [0.25, 0.25, 1.5], True)).book(1.0)

    def process():
        for g in (1.0, 0.5, 0.5, 0.25):
            yield env.timeout(g)
            log.append((env.now, "timeout", True))

    env.process(process())


@pytest.mark.parametrize("loop", ["simpy", "run_until"])
def test_wake_books_the_entries_env_schedule_would(loop):
    """Wake.book/book_at write simpy's queue directly (the session step's booking): the
    same heap entries and the same order of events as ``Environment.schedule``."""
    import simpy

    from simulation.events import Wake, run_until

    out = []
    for make in (_ScheduledLink, Wake):
        env, log = simpy.Environment(), []
        _chains(env, log, make)
        entries = sorted((t, prio, eid) for t, prio, eid, _ in env._queue)
        if loop == "simpy":
            env.run(until=10.0)
        else:
            run_until(env, 10.0)
        out.append((entries, log, env.now))
    assert out[0] == out[1]
    log = out[1][1]
    assert len(log) == 17 and all(ok for *_, ok in log)  # a Wake's ``at`` is the day it fires
    days = [day for day, *_ in log]
    assert max(days.count(d) for d in days) >= 3  # ties in time, ordered by booking as simpy does
