"""The anxiety measure (GAD-7), scored in the session step, and IAPT recovery on both measures (issue 14)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from simulation import anxiety, rng
from simulation.api import load_config, run
from simulation.entities import Patient
from simulation.errors import ConfigError
from simulation.kpis import iapt_recovery
from simulation.service import Service
from tests.test_bad_input import TINY, assert_one_line_refusal, cli_check

# Reference A over a year: a few thousand referrals, enough for a tight Fisher-z check.
A_YEAR = ["run.replications=1", "run.horizon_days=365", "run.warmup_days=0", "run.progress=false"]


@pytest.fixture(scope="module")
def year():
    return run(A_YEAR)


def test_referral_correlation_matches_the_configured_one_within_sampling_error(year):
    a = load_config(A_YEAR).population.anxiety
    p = year.patients
    n = len(p)
    r = np.corrcoef(p["baseline_severity"], p["gad7_referral"])[0, 1]
    se = 1.0 / math.sqrt(n - 3)  # Fisher z
    assert n > 1000
    assert abs(math.atanh(r) - math.atanh(a.correlation)) < 3.0 * se, (r, n)
    # and its referral mean is the configured one (3 SEs of a mean; clipping at 21 lowers it by < 0.1)
    assert abs(p["gad7_referral"].mean() - a.mean) < 3.0 * a.sd / math.sqrt(n)


def test_last_score_is_the_last_attended_sessions_score(year):
    p, s = year.patients, year.sessions
    att = s[s["attended"]]
    assert att["anxiety_observed"].notna().all() and s.loc[~s["attended"], "anxiety_observed"].isna().all()
    last = att.groupby("patient_id").tail(1).set_index("patient_id")
    treated = p[p["sessions_attended"] > 0].set_index("patient_id")
    assert (last.loc[treated.index, "severity"] == treated["final_severity"]).all()
    assert (last.loc[treated.index, "anxiety_observed"] == treated["gad7_last"]).all()
    untreated = p[p["sessions_attended"] == 0]
    assert (untreated["gad7_last"] == untreated["gad7_referral"]).all()
    assert p["gad7_referral"].between(0, 21).all() and (p["gad7_referral"] % 1 == 0).all()
    # the anxiety score falls with the depression score over treatment
    fin = treated[treated["sessions_attended"] >= 2]
    assert (fin["gad7_referral"] - fin["gad7_last"]).mean() > 1.0


def test_scores_are_common_random_numbers_keyed_by_patient_and_measurement():
    pop = load_config(A_YEAR).population
    st = rng.Streams(7, 3)
    ids = np.array([5, 300, 5, 300, 9000])
    k = np.array([0, 0, 40, 40, 2])
    sev = np.full(5, 14.0)
    full = anxiety.scores(pop, st, ids, k, sev)
    one = [anxiety.scores(pop, rng.Streams(7, 3), ids[i:i + 1], k[i:i + 1], sev[i:i + 1])[0] for i in range(5)]
    assert np.array_equal(full, one)  # a patient's score does not depend on who else is scored
    other = anxiety.scores(pop, rng.Streams(7, 4), ids, k, sev)
    assert not np.array_equal(full, other)  # another replication, other numbers


def _finisher(pid, phq0, phq1, gad0, gad1):
    return {"patient_id": pid, "measured": True, "sessions_attended": 4, "exit_reason": "completed",
            "baseline_severity": phq0, "final_severity": phq1, "gad7_referral": gad0, "gad7_last": gad1}


def test_iapt_recovery_needs_both_measures_below_caseness():
    p = pd.DataFrame([
        _finisher(0, 15, 6, 12, 10),  # PHQ-9 below caseness, GAD-7 still a case: not recovered
        _finisher(1, 15, 6, 12, 5),  # both below: recovered
        _finisher(2, 8, 6, 14, 6),  # a case on GAD-7 only at referral, both below at the end: recovered
        _finisher(3, 7, 12, 5, 3),  # a case on neither at referral: not counted
    ])
    assert iapt_recovery(p, 10.0, 8.0) == pytest.approx(2 / 3)
    assert iapt_recovery(p, 10.0) == pytest.approx(1.0)  # depression alone: patients 0 and 1


def test_the_formula_gives_hand_computed_scores():
    # anxiety.score is the one definition (the session step calls it in C): clip(round(G*), 0, max)
    # with G* = mean + slope (P - m_P) + offset + error_sd * error, worked out by hand here.
    f = anxiety.score
    assert f(12.0, 1.5, 0.5, 8.0, 0.5, 14.0, 2.0, 21.0) == 10.0  # 8 - 1 + 1.5 + 1 = 9.5: half to even
    assert f(12.0, 0.5, 0.5, 8.0, 0.5, 14.0, 2.0, 21.0) == 8.0  # 8 - 1 + 0.5 + 1 = 8.5: half to even, down
    assert f(20.0, -0.7, -0.25, 8.0, 0.6, 14.0, 2.0, 21.0) == 10.0  # 8 + 3.6 - 0.7 - 0.5 = 10.4
    assert f(27.0, 6.0, 2.0, 8.0, 0.8, 14.0, 2.0, 21.0) == 21.0  # 8 + 10.4 + 6 + 4 = 28.4: the top
    assert f(0.0, -4.0, -1.0, 3.0, 0.5, 14.0, 2.0, 21.0) == 0.0  # -10: the scale's floor


def test_recorded_scores_are_the_model_applied_to_each_attended_sessions_severity(year):
    # The session step scores GAD-7 in C from errors pre-drawn in blocks at referral; anxiety.scores
    # draws each (patient, measurement) key afresh over the finished table. Equal tables mean the step
    # read the right error, offset and severity: the k-th attended row of a patient is measurement k.
    cfg = load_config(A_YEAR)
    s = year.sessions
    att = s[s["attended"]]
    k = att.groupby("patient_id").cumcount().to_numpy() + 1
    expected = anxiety.scores(cfg.population, rng.Streams(cfg.run.seed, 0), att["patient_id"].to_numpy(), k,
                              att["severity"].to_numpy())
    assert np.array_equal(att["anxiety_observed"].to_numpy(), expected)
    p = year.patients
    referral = anxiety.scores(cfg.population, rng.Streams(cfg.run.seed, 0), p["patient_id"].to_numpy(),
                              np.zeros(len(p), dtype=np.int64), p["baseline_severity"].to_numpy())
    assert np.array_equal(p["gad7_referral"].to_numpy(), referral)


def test_planned_ending_needs_both_scores_below_caseness(year):
    # Replay the session step's recovery rule from the recorded columns: the first attended session
    # at which it holds must be the patient's last, with exit `recovered`, and every `recovered`
    # exit must have one. The rule needs PHQ-9 < 10 AND GAD-7 < 8 (IAPT caseness), with reliable
    # change on PHQ-9 or a run of `caseness_discharge_after` sessions with both below caseness.
    cfg = load_config(A_YEAR)
    pop, oc = cfg.population, cfg.outcome
    s, p = year.sessions, year.patients.set_index("patient_id")
    att = s[s["attended"]].copy()
    both = (att["severity"] < pop.caseness) & (att["anxiety_observed"] < pop.anxiety.caseness)
    run_id = (~both).groupby(att["patient_id"]).cumsum()  # consecutive sessions below caseness on both
    att["run"] = both.groupby([att["patient_id"], run_id]).cumsum()
    att["n"] = att.groupby("patient_id").cumcount() + 1
    base = p.loc[att["patient_id"], "baseline_severity"].to_numpy()
    rule = (both & (att["n"] >= oc.min_sessions_recovery_discharge)
            & ((base - att["severity"] >= pop.reliable_change) | (att["run"] >= oc.caseness_discharge_after)))
    fired = att[rule].groupby("patient_id").head(1)
    last = s.groupby("patient_id").tail(1).set_index("patient_id")
    assert len(fired) > 100
    assert (last.loc[fired["patient_id"], "day"].to_numpy() == fired["day"].to_numpy()).all()
    assert (p.loc[fired["patient_id"], "exit_reason"] == "recovered").all()
    assert set(p.index[p["exit_reason"] == "recovered"]) == set(fired["patient_id"])
    # and the gate matters: some patients scored PHQ-9 below caseness twice running but went on (GAD-7 >= 8)
    phq = att["severity"] < pop.caseness
    phq_run = phq.groupby([att["patient_id"], (~phq).groupby(att["patient_id"]).cumsum()]).cumsum()
    held = att[(phq_run >= oc.caseness_discharge_after) & ~both]
    assert held["patient_id"].nunique() > 50


def test_patients_measured_beyond_the_first_draw_get_the_same_scores():
    # A patient whose measurements outlive the errors drawn at referral gets more, keyed as before.
    cfg = load_config(A_YEAR)
    st = rng.Streams(cfg.run.seed, 2)
    q = anxiety.Questionnaire(cfg.population, st)
    p = Patient(id=300, referral_day=0.0, group="cmd", baseline_severity=15.0, baseline_observed=15.0,
                severity=15.0, capacity_z=0.0, sensitivity_z=0.0, engagement_z=0.0, response_rate=0.1,
                rating_bias=0.0, style=(0.0,), max_sessions=10, measured=True, renege_day=1e9)
    q.at_referral(p)
    q.extend(p)
    q.extend(p)
    k = np.arange(len(p.anxiety_errors))
    assert len(k) == 3 * q.width
    sev = np.full(len(k), 12.0)
    got = np.array([q.score(p.anxiety_offset, 12.0, e) for e in p.anxiety_errors])
    assert np.array_equal(got, anxiety.scores(cfg.population, st, np.full(len(k), 300), k, sev))
    assert p.anxiety_referral == anxiety.scores(cfg.population, st, [300], [0], [15.0])[0]


def test_exited_patients_release_their_pre_drawn_errors():
    # The errors are read only at attended sessions: an exit (discharge or leaving the waiting list) frees them.
    svc = Service(load_config(["run.horizon_days=200", "run.warmup_days=0", "run.progress=false"]), 0, "release")
    svc.run()
    exited = [p for p in svc.patients if p.exited]
    waiting_or_in_care = [p for p in svc.patients if not p.exited]
    assert len(exited) > 100 and len(waiting_or_in_care) > 10
    assert all(p.anxiety_errors is None for p in exited)
    assert all(len(p.anxiety_errors) >= 8 for p in waiting_or_in_care)


def test_serial_and_parallel_give_the_same_anxiety_tables():
    args = ["run.replications=2", "run.horizon_days=120", "run.warmup_days=0", "run.progress=false"]
    serial = run(args + ["run.workers=1"])
    parallel = run(args + ["run.workers=2"])
    for name in ("patients", "sessions", "kpis"):
        pd.testing.assert_frame_equal(serial.tables[name], parallel.tables[name], check_exact=True)
    assert serial.sessions["anxiety_observed"].notna().any()


def test_without_an_anxiety_measure_iapt_recovery_is_depression_only():
    b = run(["reference=community_team", "run.replications=1", "run.horizon_days=120", "run.warmup_days=0",
             "run.progress=false"])
    assert b.patients["gad7_referral"].isna().all()
    assert b.kpis["iapt_recovery_rate"].notna().all()


@pytest.mark.parametrize("arg,words", [
    ("population.anxiety.correlation=1.5", "population.anxiety.correlation"),
    ("population.anxiety.measurement_sd=4", "population.anxiety.measurement_sd"),
    ("population.anxiety.caseness=30", "population.anxiety.caseness"),
    ("population.anxiety.scale=HADS", "GAD-7"),
    ("population.anxiety.reliable_change=0", "population.anxiety.reliable_change"),
])
def test_bad_anxiety_values_are_refused_in_one_line(arg, words, capsys):
    code, err = cli_check(TINY + [arg], capsys)
    assert_one_line_refusal(code, err)
    assert words in err


def test_implausible_correlation_warns():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        load_config(["population.anxiety.correlation=0.2"])
    assert any("population.anxiety.correlation" in str(x.message) or "correlation" in str(x.message) for x in w)
