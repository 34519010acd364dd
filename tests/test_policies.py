"""Reassignment policies: each moves patients exactly when its rule says, and says why."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation.api import load_config, run
from simulation.entities import REASSIGNMENT_CAUSES
from simulation.errors import ConfigError

# Reference A, small, with enough therapists that an alternative clinician always exists.
A_SMALL = ["run.replications=1", "run.horizon_days=300", "run.warmup_days=60", "run.progress=false"]


def _last_moves(res, cause):
    """(patient_id, from_clinician_id, day) of reassignments with ``cause``."""
    r = res.reassignments
    return r[r["cause"] == cause]


def _dyad_of_move(sessions, move):
    s = sessions[(sessions["patient_id"] == move.patient_id) & (sessions["clinician_id"] == move.from_clinician_id)
                 & (sessions["day"] <= move.day)]
    return s["dyad_id"].iloc[-1]


def _first_run_end(ratings: np.ndarray, low: float, k: int, every: int):
    """Attended-session index (0-based) at which k consecutive measurements fall below ``low``."""
    run_len = 0
    for i, r in enumerate(ratings):
        if (i + 1) % every:
            continue
        run_len = run_len + 1 if r < low else 0
        if run_len >= k:
            return i
    return None


def test_continuity_never_reassigns_voluntarily():
    res = run(A_SMALL + ["policy=continuity", "run.replications=2"])
    assert len(res.reassignments) == 0
    assert res.patients["reassignments"].sum() == 0
    b = run(["reference=community_team", "run.replications=1", "run.warmup_days=400", "run.horizon_days=400",
             "run.progress=false", "policy=continuity"])
    assert len(b.reassignments) > 0
    assert set(b.reassignments["cause"]) == {"turnover"}


@pytest.mark.parametrize("k,every", [(3, 1), (2, 2)])
def test_alliance_threshold_moves_only_after_k_consecutive_low_measurements(k, every):
    low = 3.9
    res = run(A_SMALL + ["policy=alliance_threshold", f"policy.alliance_threshold.threshold={low}",
                         f"policy.alliance_threshold.consecutive={k}", f"policy.alliance_threshold.measure_every={every}"])
    s = res.sessions
    moves = _last_moves(res, "policy")
    assert len(moves) > 20
    moved = {}
    for m in moves.itertuples():
        moved[_dyad_of_move(s, m)] = m.day
    p = res.patients.set_index("patient_id")
    n_therapists = len(res.clinicians)
    att = s[s["attended"]]
    n_runs = 0
    for dyad_id, d in att.groupby("dyad_id"):
        i = _first_run_end(d["alliance_patient"].to_numpy(), low, k, every)
        all_days = s.loc[s["dyad_id"] == dyad_id, "day"]
        if i is None:
            assert dyad_id not in moved  # never without k consecutive low measurements
            continue
        n_runs += 1
        day = d["day"].iloc[i]
        if dyad_id in moved:
            assert moved[dyad_id] == day  # at the k-th low measurement, not later
            assert all_days.max() == day  # and the dyad ends there
        else:
            # Not moved only when the patient left care at that very session, or had
            # already been moved away from every other therapist (no alternative left).
            pid = d["patient_id"].iloc[0]
            left_before = set(moves.loc[(moves["patient_id"] == pid) & (moves["day"] < day), "from_clinician_id"])
            exhausted = len(left_before) >= n_therapists - 1
            assert exhausted or (p.loc[pid, "exit_day"] == day and p.loc[pid, "exit_reason"] != "censored")
    assert n_runs >= len(moved)


def test_unresolved_rupture_moves_after_n_unresolved_sessions():
    n = 2
    res = run(A_SMALL + ["policy=unresolved_rupture", f"policy.unresolved_rupture.unresolved_sessions={n}"])
    s = res.sessions
    moves = _last_moves(res, "policy")
    assert len(moves) > 10
    for m in moves.itertuples():
        d = s[(s["dyad_id"] == _dyad_of_move(s, m)) & s["attended"]]
        # The rupture session and n further attended sessions, all unresolved.
        assert d["unresolved"].iloc[-(n + 1):].all()
        assert len(d) >= n + 1


def test_patient_requests_follow_the_logistic_rule():
    b0, b1, thr = -3.0, 2.0, 3.5
    res = run(A_SMALL + ["policy=patient_request", f"policy.patient_request.request_intercept={b0}",
                         f"policy.patient_request.request_slope={b1}", f"policy.patient_request.threshold={thr}",
                         "run.replications=2"])
    s = res.sessions[res.sessions["attended"]]
    p = res.patients.set_index(["replication", "patient_id"])
    # Sessions where the policy was consulted: attended and not the patient's exit session.
    exit_day = p.loc[list(zip(s["replication"], s["patient_id"])), "exit_day"].to_numpy()
    exit_reason = p.loc[list(zip(s["replication"], s["patient_id"])), "exit_reason"].astype(str).to_numpy()
    consulted = ~((s["day"].to_numpy() == exit_day) & (exit_reason != "censored"))
    x = b0 + b1 * (thr - s["alliance_patient"].to_numpy()[consulted])
    prob = 1 / (1 + np.exp(-x))
    expected, var = prob.sum(), (prob * (1 - prob)).sum()
    observed = (res.reassignments["cause"] == "patient_request").sum()
    assert set(res.reassignments["cause"]) == {"patient_request"}
    assert observed > 30
    assert abs(observed - expected) < 3 * math.sqrt(var)
    # Rising as the rating falls: requests come from lower-rated sessions than the average.
    req = res.reassignments.merge(s, left_on=["replication", "patient_id", "day", "from_clinician_id"],
                                  right_on=["replication", "patient_id", "day", "clinician_id"])
    assert len(req) == observed
    assert req["alliance_patient"].mean() < s["alliance_patient"].mean() - 0.2


def test_every_reassignment_is_recorded_with_its_cause():
    res = run(["reference=community_team", "run.replications=1", "run.warmup_days=400", "run.horizon_days=400",
               "run.progress=false", "policy=patient_request", "policy.patient_request.request_intercept=-3"])
    r = res.reassignments
    assert set(r["cause"]) == {"turnover", "patient_request"}
    assert set(r["cause"]) <= set(REASSIGNMENT_CAUSES)
    assert res.patients["reassignments"].sum() == len(r)
    per_patient = r.groupby("patient_id").size()
    counts = res.patients.set_index("patient_id")["reassignments"]
    assert (counts.loc[per_patient.index] == per_patient).all()


def test_voluntary_move_never_returns_to_the_same_clinician():
    res = run(A_SMALL + ["policy=alliance_threshold", "policy.alliance_threshold.threshold=3.9",
                         "policy.alliance_threshold.consecutive=2"])
    s = res.sessions
    for m in res.reassignments.itertuples():
        later = s[(s["patient_id"] == m.patient_id) & (s["day"] > m.day)]
        assert (later["clinician_id"] != m.from_clinician_id).all()


@pytest.mark.parametrize("override", ["policy.reassignment=sometimes", "policy.on_leave=fire",
                                      "policy.alliance_threshold.consecutive=0", "policy.alliance_threshold.threshold=7",
                                      "policy.patient_request.threshold=7", "policy.alliance_threshold.measure_every=0",
                                      "policy.unresolved_rupture.unresolved_sessions=0",
                                      "policy.patient_request.request_slope=-1", "turnover.annual_rate=-1"])
def test_bad_policy_values_are_rejected(override):
    with pytest.raises(ConfigError) as err:
        load_config([override])
    assert err.value.key == override.split("=")[0]


def test_policy_group_options_compose():
    for name in ("continuity", "alliance_threshold", "unresolved_rupture", "patient_request"):
        assert load_config([f"policy={name}"]).policy.reassignment == name
