"""The benchmark's bare-simpy floor has the model's event structure (quick, no timing asserts)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

_spec = importlib.util.spec_from_file_location("bench", Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_floor_yields_one_timeout_per_session_with_overlapping_patients():
    patients = pd.DataFrame({
        "referral_day": [0.0, 0.0, 0.0, 390.0],
        "queue_days": [3.0, 0.0, 1.0, 3.0],
        "first_session_day": [10.0, 0.0, 5.0, 400.0],
        "exit_day": [80.0, 70.0, 60.0, 420.0],
        "sessions_attended": [8, 0, 3, 1],
        "dnas": [2, 0, 1, 0],
    })
    starts, firsts, ns, ends = bench._floor_inputs(patients)
    # The never-started patient is left out; the others come in allocation order.
    assert starts == [1.0, 3.0, 393.0] and firsts == [5.0, 10.0, 400.0] and ns == [4, 10, 1]
    seconds, sessions, most = bench.bare_simpy_floor(starts, firsts, ns, ends)
    assert sessions == 15
    assert most == 2  # the first two overlap in time, the third starts after both ended
    assert seconds >= 0.0
