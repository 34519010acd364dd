"""The anxiety measure (GAD-7) and IAPT recovery on both measures (issue 14, item 1)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from simulation import anxiety, rng
from simulation.api import load_config, run
from simulation.errors import ConfigError
from simulation.kpis import iapt_recovery
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


def test_stream_and_memory_give_the_same_anxiety_scores(tmp_path):
    args = ["run.replications=1", "run.horizon_days=120", "run.warmup_days=0", "run.progress=false"]
    mem = run(args).sessions
    parts = anxiety.SessionScorer(load_config(args).population, load_config(args).run.seed, 0)
    cut = len(mem) // 3
    raw = mem.drop(columns=["scenario", "replication", "anxiety_observed"])
    streamed = np.concatenate([parts(raw.iloc[:cut]), parts(raw.iloc[cut:])])
    assert np.array_equal(streamed, mem["anxiety_observed"].to_numpy(), equal_nan=True)


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
