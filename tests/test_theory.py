"""Verification against queueing theory, Little's law, and extreme values.

**Degenerate configurations** (why they are textbook queues: see
:mod:`analysis.queueing_check`): with ruptures off, attendance certain, no recovery
discharge, no reneging and a constant dropout probability after every session, a stay in
a caseload slot is ``S = d + (N - 1) tau`` with ``N`` a truncated geometric number of
sessions, i.i.d. and independent of the Poisson referrals. One clinician with a cap of 1
is then an M/G/1 queue (Pollaczek-Khinchine mean wait and list length); a cap far above
demand is M/G/inf (nobody waits; the number in care is Poisson with mean lambda E[S]).
The simulated means must contain the theoretical values inside their own 95% t-interval
over replications (fixed seed; long replications, so each replication's mean is close to
normal).

**Little's law** for the waiting list: the time-average list length equals the referral
rate times the mean time a referral spends on the list. The time average is computed
*exactly* from the patients table (each patient is on the list from referral until
allocation, reneging or the end of the run), not from the weekly ``timeseries`` samples;
the samples are checked to equal the exact count at their own instants (so the service's
live counter and the patient records agree), and ``L = lambda W`` is checked within the
replications' 95% interval, with ``lambda`` the *configured* rate.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.queueing_check import (K, compare, count_at, exact_time_average, list_intervals, mg1_estimates,
                                     mg1_overrides, mginf_estimates, mginf_overrides)
from simulation.summary import mean_ci
from simulation.api import run


def assert_inside(table) -> None:
    for row in table.itertuples():
        assert row.inside, (f"{row.system} {row.quantity}: theory {row.theory:.4f}, simulated {row.simulated:.4f} "
                            f"[{row.ci_low:.4f}, {row.ci_high:.4f}]")


# --------------------------------------------------------------------------- M/G/1
WARMUP, HORIZON = 500, 15000


@pytest.fixture(scope="module")
def mg1():
    over, theory = mg1_overrides()
    res = run(over + ["run.replications=8", f"run.horizon_days={HORIZON}", f"run.warmup_days={WARMUP}"])
    return res, theory, compare(theory, mg1_estimates(res, WARMUP), "M/G/1")


def test_mg1_mean_wait_matches_pollaczek_khinchine(mg1):
    assert_inside(mg1[2][mg1[2]["quantity"] == "mean_wait_days"])


def test_mg1_mean_queue_length_matches_theory(mg1):
    assert_inside(mg1[2][mg1[2]["quantity"] == "mean_waiting"])


def test_mg1_stays_are_the_degenerate_ones(mg1):
    """The reduction itself: no DNAs, no reneging, no recovery; sessions ~ truncated geometric."""
    res, _, table = mg1
    p = res.patients
    assert p["dnas"].sum() == 0
    assert set(p["exit_reason"].astype(str)) <= {"dropout", "completed", "censored"}
    assert (res.clinicians["max_caseload"] <= 1).all()
    ended = p[p["measured"] & (p["exit_reason"] != "censored")]
    assert (ended.loc[ended["exit_reason"] == "completed", "sessions_attended"] == K).all()
    assert_inside(table[table["quantity"] == "mean_sessions"])


# --------------------------------------------------------------------------- M/G/inf
def test_mginf_number_in_care_is_poisson():
    over, theory = mginf_overrides()
    res = run(over + ["run.replications=5", "run.horizon_days=1500", "run.warmup_days=100"])
    p = res.patients
    assert (p["queue_days"].dropna() == 0).all(), "infinite capacity: nobody waits"
    assert (res.timeseries.loc[res.timeseries["day"] >= 100, "waiting"] == 0).all()
    # Mean = lambda E[S]; index of dispersion 1 (weekly samples are almost independent: E[S] < 7 days).
    assert_inside(compare(theory, mginf_estimates(res, 100), "M/G/inf"))


# --------------------------------------------------------------------------- Little's law
# Capacity is cut so that every case has a real waiting list (the reference service rarely queues).
TEAM = ["service.disciplines=[{name:therapist,count:2},{name:psychiatrist,count:1,caseload_cap:12,"
        "comfortable_caseload:10,session_interval_days:28}]", "service.care_model=[therapist,psychiatrist]",
        "service.care_weights=[0.7,0.3]", "service.clinicians=null", "service.referrals_per_week=7",
        "service.renege_per_week=0.1"]
LITTLE_CASES = {
    "short_staffed": ["service.clinicians=3", "service.renege_per_week=0.05"],
    "overloaded_with_reneging": ["service.clinicians=2", "service.referrals_per_week=12", "service.renege_per_week=0.5"],
    "team_model": TEAM,
}


@pytest.mark.parametrize("case", list(LITTLE_CASES))
def test_littles_law_for_the_waiting_list(case):
    warmup, horizon, margin = 150.0, 900.0, 250.0
    res = run(LITTLE_CASES[case] + ["run.replications=5", f"run.horizon_days={horizon}",
                                    f"run.warmup_days={warmup}", "output.sessions=false", "run.progress=false"])
    cfg = res.scenarios[0].config
    lam = cfg.service.referrals_per_week / 7.0
    end = warmup + horizon
    diffs, lengths = [], []
    for rep, p in res.patients.groupby("replication"):
        start, stop = list_intervals(p, end)
        # The live counter sampled by the time series equals the count from the patient records.
        ts = res.timeseries[res.timeseries["replication"] == rep]
        np.testing.assert_array_equal(ts["waiting"].to_numpy(), count_at(start, stop, ts["day"].to_numpy()))
        big_l = exact_time_average(start, stop, warmup, end)
        # Mean time on the list of referrals early enough that all of them have left it.
        early = (start >= warmup) & (start < end - margin)
        assert (stop[early] < end).all(), "margin too short: some early referrals still waiting"
        w = float((stop[early] - start[early]).mean())
        diffs.append(big_l - lam * w)
        lengths.append(big_l)
    assert np.mean(lengths) >= 1.0, "the case must have a real waiting list"
    mean, lo, hi = mean_ci(np.array(diffs))
    assert lo <= 0 <= hi, f"{case}: L - lambda W = {mean:.3f} [{lo:.3f}, {hi:.3f}]"


# --------------------------------------------------------------------------- extreme values
EXTREME = ["run.replications=2", "run.horizon_days=200", "run.warmup_days=50", "run.progress=false"]


def test_no_referrals_means_an_empty_service():
    res = run(EXTREME + ["service.referrals_per_week=0"])
    assert len(res.patients) == 0 and len(res.sessions) == 0
    assert (res.timeseries[["waiting", "in_treatment"]] == 0).all().all()
    assert (res.timeseries["mean_caseload"] == 0).all()
    assert len(res.kpis) == 2, "one KPI row per replication, even with nobody referred"
    assert (res.kpis["referred"] == 0).all() and res.kpis["dropout_rate"].isna().all()


def test_infinite_capacity_means_no_waiting():
    res = run(EXTREME + ["service.referrals_per_week=25", "service.disciplines.0.caseload_cap=100000",
                         "service.disciplines.0.comfortable_caseload=100000", "service.renege_per_week=5"])
    p = res.patients
    assert len(p) > 300
    assert (p["queue_days"] == 0).all()
    assert np.allclose(p["wait_days"].dropna(), 7.0)  # the first-appointment delay, nothing more
    assert not (p["exit_reason"] == "left_waiting_list").any()
    assert (res.timeseries["waiting"] == 0).all()


def test_certain_dropout_at_the_first_session():
    res = run(EXTREME + ["dropout.intercept=60"])
    p = res.patients
    contacted = p[p["sessions_attended"] + p["dnas"] > 0]
    assert len(contacted) > 100
    assert ((contacted["sessions_attended"] + contacted["dnas"]) == 1).all()
    assert (contacted["exit_reason"] == "dropout").all()
    s = res.sessions
    assert (s["session_index"] == 0).all()


def test_zero_dropout():
    res = run(EXTREME + ["dropout.intercept=-60", "dropout.early_boost=0", "dropout.transition_policy=0", "dropout.transition_patient_request=0", "dropout.transition_turnover=0"])
    p = res.patients
    assert not (p["exit_reason"] == "dropout").any()
    assert (p["exit_reason"].isin(["recovered", "completed", "dna_discharge", "censored", "left_waiting_list"])).all()


def test_certain_dna_discharges_everyone_after_the_rule():
    res = run(EXTREME + ["attendance.dna_intercept=60", "dropout.intercept=-60", "dropout.early_boost=0"])
    p = res.patients
    contacted = p[p["dnas"] > 0]
    assert (p["sessions_attended"] == 0).all()
    ended = contacted[contacted["exit_reason"] != "censored"]
    assert len(ended) > 100
    assert (ended["exit_reason"] == "dna_discharge").all() and (ended["dnas"] == 2).all()


def test_zero_turnover_keeps_every_clinician():
    res = run(EXTREME + ["turnover=none"])
    c = res.clinicians
    cfg = res.scenarios[0].config
    assert c["leave_day"].isna().all(), "no clinician may leave"
    assert (c["start_day"] == 0).all()
    assert (c.groupby("replication").size() == cfg.service.clinicians).all()
    assert (res.timeseries["vacancies"] == 0).all()
