"""Issue 14's validation audit: the estimators changed to their sources' definitions, on tables
built by hand, and the therapist-dropout mechanism (off: identical tables; on: dropout clusters
by clinician, with a fixed seed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.targets_community import post_vacancy_rate
from analysis.targets_validation import (reliable_recovery, sessions_to_response, sessions_to_response_high,
                                         sessions_to_response_low, sudden_gain_share, sudden_gain_share_all_courses,
                                         therapist_dropout_icc, therapist_unplanned_ending_icc)
from simulation import rng
from simulation.api import load_config, run
from simulation.kpis import attenders_ended
from simulation.therapist_dropout import therapist_dropout_shift


# ---------------------------------------------------------------------------- 11a
def test_post_vacancy_rate_counts_one_disciplines_vacant_post_days():
    """Window [100, 300], two care-coordinator posts and one psychiatrist post, computed by hand.

    Post 1: clinician 0 leaves at day 150, the replacement (3) starts at day 240: 90 vacant days.
    Post 2: clinician 1 in post throughout. So 90 / (2 x 200) = 0.225 of care-coordinator
    post-days are vacant. The psychiatrist (2) leaves at day 120 and is not replaced: 180 vacant
    days of 200, counted only for the psychiatrist discipline (0.9).
    """
    clin = pd.DataFrame({
        "scenario": "x", "replication": 0, "clinician_id": [0, 1, 2, 3],
        "discipline": ["care_coordinator", "care_coordinator", "psychiatrist", "care_coordinator"],
        "start_day": [0.0, 0.0, 0.0, 240.0], "leave_day": [150.0, np.nan, 120.0, np.nan]})
    tables = {"clinicians": clin}
    cc = post_vacancy_rate(tables, warmup_day=100.0, end_day=300.0)
    assert float(cc.iloc[0]) == pytest.approx(0.225)
    psy = post_vacancy_rate(tables, discipline="psychiatrist", warmup_day=100.0, end_day=300.0)
    assert float(psy.iloc[0]) == pytest.approx(0.9)


# ---------------------------------------------------------------------------- V3
def _courses(courses: dict[int, tuple[int, list[float]]]) -> dict[str, pd.DataFrame]:
    """patients + sessions from {id: (course length, [referral score, session scores...])}."""
    prow, srow = [], []
    for pid, (length, scores) in courses.items():
        prow.append({"patient_id": pid, "measured": True, "sessions_attended": len(scores) - 1,
                     "exit_reason": "completed", "baseline_severity": scores[0], "max_sessions": length,
                     "replication": 0, "scenario": "x"})
        for k, s in enumerate(scores[1:]):
            srow.append({"patient_id": pid, "attended": True, "day": 7.0 * k, "severity": s, "replication": 0,
                         "scenario": "x"})
    p = pd.DataFrame(prow)
    p["exit_reason"] = pd.Categorical(p["exit_reason"])
    return {"patients": p, "sessions": pd.DataFrame(srow)}


def test_sudden_gain_share_counts_high_intensity_courses_only():
    """V3 over the longest courses (16 sessions): 1 gain in 2; V3b over every course: 2 in 4."""
    gain, flat = [20, 19, 20, 12, 11, 12], [20, 19, 20, 19, 20, 19]
    t = _courses({1: (16, gain), 2: (16, flat), 3: (6, gain), 4: (6, flat),
                  5: (16, [20, 12, 11])})  # two sessions: too short for V3's denominator
    assert sudden_gain_share(t) == pytest.approx(0.5)
    assert sudden_gain_share_all_courses(t) == pytest.approx(0.5)
    t = _courses({1: (16, gain), 2: (16, flat), 3: (6, gain), 4: (6, gain)})
    assert sudden_gain_share(t) == pytest.approx(0.5)
    assert sudden_gain_share_all_courses(t) == pytest.approx(0.75)


# ---------------------------------------------------------------------------- V1b
def test_v1b_counts_discharges_after_missed_sessions_as_unplanned_endings():
    """Clinician-clustered DNA discharges, unclustered dropout: V1 near 0, V1b clearly above it.

    The DNA-discharge log-odds carry a clinician effect of SD 0.8 (latent ICC .163 for that
    event alone); dropout (15% of the others) none. The union's ICC lies between 0 and .163
    (diluted by the unclustered dropouts; about .06 here). The ICC's SE at 300 clinicians of
    40 is about .013 (Donner), so V1 < .03 and V1b > .04 each hold by > 1.5 SEs.
    """
    gen = np.random.default_rng(11)
    clin = np.repeat(np.arange(300), 40)
    u = gen.normal(0.0, 0.8, 300)[clin]
    dna = gen.random(clin.size) < 1 / (1 + np.exp(-(-1.5 + u)))
    drop = ~dna & (gen.random(clin.size) < 0.15)
    exit_reason = np.where(dna, "dna_discharge", np.where(drop, "dropout", "completed"))
    p = pd.DataFrame({"patient_id": np.arange(clin.size), "measured": True, "sessions_attended": 3,
                      "exit_reason": pd.Categorical(exit_reason), "baseline_severity": gen.normal(15, 4, clin.size),
                      "first_clinician_id": clin, "replication": 0})
    t = {"patients": p}
    assert therapist_dropout_icc(t) < 0.03
    assert therapist_unplanned_ending_icc(t) > 0.04


# ---------------------------------------------------------------------------- the mechanism
SMALL = ["run.replications=1", "run.horizon_days=400", "run.warmup_days=60", "run.progress=false",
         "output.sessions=false", "service.clinicians=20", "service.disciplines.0.count=20",
         "service.referrals_per_week=60"]


def test_therapist_dropout_off_leaves_every_table_identical():
    """A vanishing shift (1e-300) takes the 'on' path (a draw per clinician, the hazard term) yet
    changes no table: the draw uses its own stream and the term adds nothing when zero."""
    base = run(SMALL + ["therapist_dropout.logit_sd=0"])  # reference A uses 0.45
    tiny = run(SMALL + ["therapist_dropout.logit_sd=1e-300"])
    for name in ("patients", "clinicians", "timeseries"):
        pd.testing.assert_frame_equal(base.tables[name], tiny.tables[name])


def test_therapist_dropout_on_clusters_dropout_by_clinician():
    """With SD 1.0 clinicians with a higher shift lose more patients, and V1's ICC rises (fixed seed).

    The direct part alone gives a latent ICC near 1.1^2 / (1.1^2 + pi^2/3) = .27 against ~.02 off;
    with 20 clinicians of ~40 ended courses the ICC's SE is about .06, so a rise of .1 is > 1.5 SEs
    below the expected rise of ~.25.
    """
    off = run(SMALL)
    on = run(SMALL + ["therapist_dropout.logit_sd=1.0"])
    icc_off = therapist_dropout_icc(off.tables)
    icc_on = therapist_dropout_icc(on.tables)
    assert icc_on > icc_off + 0.1
    # the shift is each clinician's own draw: dropout rate by first clinician rises with it
    a = attenders_ended(on.tables["patients"])
    rate = a.groupby("first_clinician_id")["exit_reason"].apply(lambda e: float((e == "dropout").mean()))
    streams = rng.Streams(load_config(SMALL).run.seed, int(a["replication"].iloc[0]))
    shift = np.array([therapist_dropout_shift(streams, int(c), 1.0) for c in rate.index])
    assert np.corrcoef(shift, rate.to_numpy())[0, 1] > 0.3


# ---------------------------------------------------------------------------- V5
def _scored(courses: dict[int, tuple[int, list[tuple[float, float]]]]) -> dict[str, pd.DataFrame]:
    """patients + sessions from {id: (course length, [(PHQ-9, GAD-7) at referral, then each session])}."""
    prow, srow = [], []
    for pid, (length, scores) in courses.items():
        (phq0, gad0), (phq1, gad1) = scores[0], scores[-1]
        prow.append({"patient_id": pid, "measured": True, "sessions_attended": len(scores) - 1,
                     "exit_reason": "completed", "baseline_severity": phq0, "final_severity": phq1,
                     "gad7_referral": gad0, "gad7_last": gad1, "max_sessions": length,
                     "replication": 0, "scenario": "x"})
        for k, (phq, gad) in enumerate(scores[1:]):
            srow.append({"patient_id": pid, "attended": True, "day": 7.0 * k, "severity": phq,
                         "anxiety_observed": gad, "replication": 0, "scenario": "x"})
    p = pd.DataFrame(prow)
    p["exit_reason"] = pd.Categorical(p["exit_reason"])
    return {"patients": p, "sessions": pd.DataFrame(srow)}


def test_reliable_recovery_follows_iapts_rules():
    """Caseness on either at referral, below both now, reliable improvement on one, deterioration on neither."""
    phq0, gad0 = np.array([15, 15, 8, 15, 12]), np.array([10, 10, 6, 10, 7])
    phq, gad = np.array([8, 9, 3, 8, 5]), np.array([5, 8, 2, 5, 2])
    # 1 and 4 recover; 2 ends with GAD-7 at caseness (8); 3 was no case at referral; 5 was a case on
    # PHQ-9 only and recovers.
    got = reliable_recovery(phq0, gad0, phq, gad)
    assert got.tolist() == [True, False, False, True, True]
    assert not reliable_recovery([15], [3], [8], [7])[0]  # GAD-7 3 -> 7: reliable deterioration


def test_sessions_to_response_is_the_95th_percentile_of_first_recovery_among_responders():
    """Twenty high-intensity responders first recover at sessions 1..20 -> 95% by session 19; others ignored."""
    courses = {}
    for i in range(1, 21):  # responder i first meets the criteria at attended session i and stays there
        courses[i] = (16, [(16.0, 12.0)] + [(14.0, 11.0)] * (i - 1) + [(5.0, 3.0)] * 2)
    courses[100] = (16, [(16.0, 12.0), (5.0, 3.0), (12.0, 3.0)])  # recovered at 1, relapsed: not a responder
    courses[101] = (6, [(16.0, 12.0)] + [(14.0, 11.0)] * 4 + [(5.0, 3.0)])  # low intensity: first at 5
    courses[102] = (6, [(16.0, 12.0), (5.0, 3.0), (4.0, 2.0)])  # low intensity: first at 1
    t = _scored(courses)
    assert sessions_to_response_high(t) == 19.0
    assert sessions_to_response(t, high=True, share=0.5) == 10.0
    assert sessions_to_response_low(t) == 5.0
    t["patients"]["gad7_referral"] = np.nan  # no anxiety measure: undefined, not guessed
    assert np.isnan(sessions_to_response_high(t))
