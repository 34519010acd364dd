"""Calibration targets: roles, the printed table, and the estimators on data built by hand.

Each estimator is checked against a hand-computed value on small synthetic tables (so a
wrong definition fails), and the new ones are shown to read observed columns only: the
synthetic session tables carry no latent columns (``rupture``, ``unresolved``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.calibration import (COLUMNS, ROLES, TARGETS, format_table, rating_drop_patient_share,
                                  recovery_median_session, recovery_median_session_censored, register_target,
                                  reported_rupture_resolution)
from analysis.targets_community import vacancy_rate
from analysis.targets_validation import has_sudden_gain, random_intercept_logit_icc
from simulation.api import run


# ---------------------------------------------------------------------------- synthetic tables
def _tables(courses: dict[int, dict]) -> dict[str, pd.DataFrame]:
    """patients + sessions (observed columns only) from {id: {ratings, reported, scores, exit, baseline}}."""
    prow, srow = [], []
    for pid, c in courses.items():
        n = len(c["scores"])
        ratings = c.get("ratings", [3.0] * n)
        reported = c.get("reported", [False] * n)
        prow.append({"patient_id": pid, "measured": True, "sessions_attended": n, "exit_reason": c["exit"],
                     "ruptures_reported": int(sum(reported)), "baseline_severity": c["baseline"],
                     "final_severity": c["scores"][-1], "replication": 0, "scenario": "x"})
        for k in range(n):
            srow.append({"patient_id": pid, "attended": True, "day": 7.0 * k, "alliance_patient": ratings[k],
                         "rupture_reported": reported[k], "severity": c["scores"][k], "replication": 0,
                         "scenario": "x"})
    p = pd.DataFrame(prow)
    p["exit_reason"] = pd.Categorical(p["exit_reason"])
    return {"patients": p, "sessions": pd.DataFrame(srow)}


def test_resolution_compares_the_final_rating_with_the_pre_rupture_rating():
    """Target 5: resolved = last patient rating >= the rating before the first reported rupture."""
    t = _tables({
        1: {"ratings": [3.0, 3.5, 2.8, 3.6], "reported": [0, 0, 1, 0], "scores": [18, 15, 14, 8], "exit": "recovered",
            "baseline": 20},
        2: {"ratings": [3.0, 3.5, 2.5, 3.0], "reported": [0, 0, 1, 0], "scores": [18, 17, 17, 16], "exit": "dropout",
            "baseline": 20},
        3: {"ratings": [2.0, 3.5, 3.9], "reported": [1, 0, 0], "scores": [18, 12, 9], "exit": "recovered",
            "baseline": 20},  # rupture at the first session: no pre-rupture rating, excluded
        4: {"ratings": [3.0, 3.2, 2.0], "reported": [0, 0, 1], "scores": [18, 17, 17], "exit": "dropout",
            "baseline": 20},  # rupture at the last session: no rating after it, excluded
        5: {"ratings": [3.0, 3.2, 3.4], "scores": [18, 17, 16], "exit": "completed", "baseline": 20},  # no rupture
    })
    d = reported_rupture_resolution(t)
    assert list(d.index) == [1, 2]
    assert list(d["resolved"]) == [1.0, 0.0]


def test_rating_drop_is_relative_to_the_patients_previous_sessions():
    """Target 4b: a rating below the mean of the previous ones by > 1 SD of session-to-session changes."""
    t = _tables({
        1: {"ratings": [4.0, 4.1, 3.9, 4.0, 2.5], "scores": [15] * 5, "exit": "completed", "baseline": 20},
        2: {"ratings": [3.0, 3.1, 3.0, 3.1], "scores": [15] * 4, "exit": "completed", "baseline": 20},
        3: {"ratings": [3.5, 3.4, 3.5, 3.4], "scores": [15] * 4, "exit": "completed", "baseline": 20},
    })
    assert rating_drop_patient_share(t) == pytest.approx(1 / 3)


def test_strict_recovery_median_counts_planned_endings_as_recoveries():
    """Target 9 vs 9b on four patients (caseness 10, reliable change 6), computed by hand.

    Patient 1 recovers reliably at session 6; patients 2 and 3 end as planned at session 3
    below caseness without reliable change; patient 4 drops out after session 2.
    Strict KM: 2 events of 3 at risk at t = 3, F = 2/3, 50% interpolated from (0, 0): 2.25.
    Censored KM: only patient 1's event at t = 6 (1 at risk), F = 1: 3.0.
    """
    t = _tables({
        1: {"scores": [19, 17, 15, 13, 11, 9], "exit": "recovered", "baseline": 20},
        2: {"scores": [12, 9, 9], "exit": "recovered", "baseline": 14},
        3: {"scores": [12, 9, 9], "exit": "recovered", "baseline": 14},
        4: {"scores": [19, 18], "exit": "dropout", "baseline": 20},
    })
    assert recovery_median_session(t) == pytest.approx(2.25)
    assert recovery_median_session_censored(t) == pytest.approx(3.0)


@pytest.mark.parametrize("scores,expected", [
    ([20, 19, 20, 12, 11, 12], True),    # 8 points, > 25%, stable before and after
    ([20, 19, 20, 15, 14, 15], False),   # 5 points: below the absolute criterion
    ([20, 10, 20, 10, 20], False),       # large swings: the means before and after do not differ
    ([8, 8, 8, 2, 2, 2], True),          # 6 points = 75% of 8
    ([30, 30, 30, 24, 24], False),       # 6 points but only 20% of 30
])
def test_sudden_gain_criteria(scores, expected):
    assert has_sudden_gain(np.array(scores, float)) is expected


def test_random_intercept_logit_icc_recovers_a_known_value():
    """V1's estimator on simulated data: sigma = 0.8 gives ICC = .64 / (.64 + pi^2/3) = .163.

    Tolerance .05: about 4 large-sample SEs of an ICC with 300 groups of 40 (Donner: ~.013).
    """
    gen = np.random.default_rng(7)
    groups = np.repeat(np.arange(300), 40)
    x = gen.normal(size=groups.size)
    u = gen.normal(0.0, 0.8, 300)[groups]
    y = gen.random(groups.size) < 1 / (1 + np.exp(-(-1.2 + 0.3 * x + u)))
    truth = 0.64 / (0.64 + math.pi ** 2 / 3)
    assert random_intercept_logit_icc(y, x, groups) == pytest.approx(truth, abs=0.05)
    # no clustering: the estimate is near zero
    y0 = gen.random(groups.size) < 0.3
    assert random_intercept_logit_icc(y0, x, groups) < 0.03


def test_vacancy_rate_is_the_share_of_vacant_post_days():
    """11a against the vacant post-days implied by the clinicians table (leave day + delay).

    The time series is sampled weekly, so the two agree to sampling of the daily path
    (relative .05); and both sit near the renewal-theory value delay / (mean tenure + delay)
    within 4 Poisson SEs of the number of departures.
    """
    delay, rate, posts, end = 90.0, 0.3, 120, 1826.0
    res = run(["service.referrals_per_week=0", f"service.clinicians={posts}", "run.replications=1",
               "run.warmup_days=0", f"run.horizon_days={end}", "run.progress=false", "output.sessions=false",
               f"turnover.annual_rate={rate}", f"turnover.recruitment_delay_days={delay}"])
    est = float(vacancy_rate(res.tables, warmup_day=0.0, end_day=end).iloc[0])
    c = res.clinicians
    leave = c["leave_day"].dropna().to_numpy()
    vacant_days = np.clip(np.minimum(leave + delay, end) - leave, 0, None).sum()
    direct = vacant_days / (posts * end)
    assert est == pytest.approx(direct, rel=0.05)
    renewal = delay / (365.25 / rate + delay)
    assert abs(direct - renewal) < 4 * renewal / math.sqrt(len(leave))


# ---------------------------------------------------------------------------- roles and the table
def test_every_target_has_a_role_and_reference_a_has_four_validation_targets():
    assert all(t.role in ROLES for t in TARGETS.values())
    heads = [t for t in TARGETS.values() if not t.companion_of]
    assert all(t.has_range and t.definition and t.source for t in heads)
    validation_a = [t for t in heads if t.role == "validation" and t.reference == "talking_therapy"]
    assert len(validation_a) >= 4
    # companions point at a target that exists and share its role
    for t in TARGETS.values():
        if t.companion_of:
            assert TARGETS[t.companion_of].role == t.role
    with pytest.raises(ValueError, match="role"):
        register_target("97", "q", "s", 0, 1, "talking_therapy", lambda t: 0.5, role="tuned")


def test_format_table_prints_fitted_then_validation_and_counts_only_headline_rows():
    rows = [
        {"target": "1", "role": "fitted", "companion_of": "", "simulated": 0.5, "inside": True, "accepted_low": 0.4,
         "accepted_high": 0.6},
        {"target": "1b", "role": "fitted", "companion_of": "1", "simulated": 0.9, "inside": False,
         "accepted_low": 0.4, "accepted_high": 0.6},
        {"target": "1c", "role": "fitted", "companion_of": "1", "simulated": 0.2, "inside": None,
         "accepted_low": np.nan, "accepted_high": np.nan},
        {"target": "V1", "role": "validation", "companion_of": "", "simulated": 0.1, "inside": False,
         "accepted_low": 0.2, "accepted_high": 0.3},
    ]
    df = pd.DataFrame([{**{c: "" for c in COLUMNS}, "ci_low": r["simulated"], "ci_high": r["simulated"], **r}
                       for r in rows], columns=COLUMNS)
    text = format_table(df)
    assert text.index("FITTED") < text.index("VALIDATION")
    assert "1 of 1 fitted targets inside" in text
    assert "0 of 1 validation targets inside" in text
    assert "NO (companion)" in text
