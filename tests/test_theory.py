"""Verification against queueing theory, Little's law, and extreme values.

**Degenerate configuration.** With ruptures off, attendance certain, no recovery
discharge, no reneging, and a dropout hazard that is the same after every contact, a
patient's stay in a caseload slot is fixed by two numbers: the number of sessions ``N``
is geometric (dropout probability ``q`` after each session) truncated at the course
length ``K`` (then the patient completes), and the slot is held from allocation until
the last session, ``S = d + (N - 1) * tau`` days (``d`` the first-appointment delay,
``tau`` the session interval). Nothing else depends on the alliance, so arrivals are
Poisson, stays are i.i.d. and independent of arrivals. Then

* one clinician with a caseload cap of 1 is an **M/G/1** queue, and the mean time on the
  waiting list is Pollaczek–Khinchine's ``Wq = lambda E[S^2] / (2 (1 - rho))``, with the
  mean list length ``Lq = lambda Wq``;
* a cap far above demand is an **M/G/inf** system: nobody waits and the number in care
  is Poisson with mean ``lambda E[S]`` (variance equal to the mean).

``S`` is discrete, so ``E[S]`` and ``E[S^2]`` are exact finite sums. The simulated
means must contain the theoretical values inside their own 95% t-interval over
replications (fixed seed). Replications are long, so each one's mean is close to normal.

**Little's law** for the waiting list: the time-average list length equals the referral
rate times the mean time a referral spends on the list. The time average is computed
*exactly* from the patients table (each patient is on the list from referral until
allocation, reneging or the end of the run), not from the weekly ``timeseries`` samples;
the samples are checked to equal the exact count at their own instants (so the service's
live counter and the patient records agree), and ``L = lambda W`` is checked within the
replications' 95% interval, with ``lambda`` the *configured* rate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulation.api import run

Q, K, DELAY, TAU = 0.25, 12, 1.0, 1.0


def degenerate(q: float = Q, k: int = K) -> list[str]:
    """Overrides that reduce the service to Poisson arrivals and i.i.d. stays (see module doc)."""
    return [
        "rupture=none", "service.renege_per_week=0", f"service.first_appointment_delay_days={DELAY}",
        f"service.disciplines.0.session_interval_days={TAU}",
        "attendance.dna_intercept=-30", "attendance.dna_engagement=0", "attendance.dna_alliance=0",
        "attendance.dna_unresolved=0", "attendance.dna_wait_per_week=0",
        f"dropout.intercept={math.log(q / (1 - q))}", "dropout.early_boost=0", "dropout.alliance=0",
        "dropout.unresolved=0", "dropout.after_dna=0", "dropout.wait_per_week=0", "dropout.engagement=0",
        "dropout.transition=0", "outcome.min_sessions_recovery_discharge=1000",
        f"population.max_sessions_low={k}", f"population.max_sessions_high={k}",
        "output.sessions=false", "run.progress=false",
    ]


def stay_moments(q: float = Q, k: int = K) -> tuple[float, float, float]:
    """E[N], E[S], E[S^2] for N ~ geometric(q) truncated at k, S = d + (N-1) tau."""
    n = np.arange(1, k + 1)
    pn = (1 - q) ** (n - 1) * q
    pn[-1] = (1 - q) ** (k - 1)
    s = DELAY + (n - 1) * TAU
    return float((pn * n).sum()), float((pn * s).sum()), float((pn * s * s).sum())


def interval(values) -> tuple[float, float]:
    """Mean and half-width of the 95% t-interval over replications."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))


def assert_in_interval(values, theory: float, what: str) -> None:
    mean, half = interval(values)
    assert abs(mean - theory) <= half, f"{what}: theory {theory:.4f}, simulated {mean:.4f} +- {half:.4f}"


# --------------------------------------------------------------------------- M/G/1
RHO = 0.6
WARMUP, HORIZON = 500, 15000


@pytest.fixture(scope="module")
def mg1():
    en, es, es2 = stay_moments()
    lam = RHO / es  # per day
    res = run(degenerate() + [
        "service.clinicians=1", "service.disciplines.0.caseload_cap=1", "service.disciplines.0.comfortable_caseload=1",
        f"service.referrals_per_week={lam * 7}", "run.replications=8", f"run.horizon_days={HORIZON}",
        f"run.warmup_days={WARMUP}"])
    return res, lam, en, es, es2


def test_mg1_mean_wait_matches_pollaczek_khinchine(mg1):
    res, lam, _, _, es2 = mg1
    wq = lam * es2 / (2 * (1 - RHO))
    p = res.patients
    started = p[p["measured"] & p["queue_days"].notna()]
    assert_in_interval(started.groupby("replication")["queue_days"].mean(), wq, "M/G/1 mean wait (days)")


def test_mg1_mean_queue_length_matches_theory(mg1):
    res, lam, _, _, es2 = mg1
    lq = lam * lam * es2 / (2 * (1 - RHO))
    ts = res.timeseries
    ts = ts[ts["day"] >= WARMUP]
    assert_in_interval(ts.groupby("replication")["waiting"].mean(), lq, "M/G/1 mean waiting-list length")


def test_mg1_stays_are_the_degenerate_ones(mg1):
    """The reduction itself: no DNAs, no reneging, no recovery; sessions ~ truncated geometric."""
    res, _, en, _, _ = mg1
    p = res.patients
    assert p["dnas"].sum() == 0
    assert set(p["exit_reason"].astype(str)) <= {"dropout", "completed", "censored"}
    assert (res.clinicians["max_caseload"] <= 1).all()
    ended = p[p["measured"] & (p["exit_reason"] != "censored")]
    assert (ended.loc[ended["exit_reason"] == "completed", "sessions_attended"] == K).all()
    assert_in_interval(ended.groupby("replication")["sessions_attended"].mean(), en, "mean sessions E[N]")


# --------------------------------------------------------------------------- M/G/inf
def test_mginf_number_in_care_is_poisson():
    _, es, _ = stay_moments()
    lam = 1.0  # per day
    res = run(degenerate() + [
        "service.clinicians=1", "service.disciplines.0.caseload_cap=100000",
        "service.disciplines.0.comfortable_caseload=100000", f"service.referrals_per_week={lam * 7}",
        "run.replications=5", "run.horizon_days=1500", "run.warmup_days=100"])
    p = res.patients
    started = p[p["queue_days"].notna()]
    assert (started["queue_days"] == 0).all(), "infinite capacity: nobody waits"
    ts = res.timeseries
    ts = ts[ts["day"] >= 100]
    assert (ts["waiting"] == 0).all()
    by_rep = ts.groupby("replication")["in_treatment"]
    assert_in_interval(by_rep.mean(), lam * es, "M/G/inf mean number in care")
    # Poisson: variance equals the mean (weekly samples are almost independent: E[S] < 7 days).
    assert_in_interval(by_rep.var() / by_rep.mean(), 1.0, "M/G/inf index of dispersion")


# --------------------------------------------------------------------------- Little's law
def list_intervals(p: pd.DataFrame, end: float) -> tuple[np.ndarray, np.ndarray]:
    """When each patient joined and left the waiting list (referral to allocation, reneging or the end)."""
    start = p["referral_day"].to_numpy()
    stop = np.where(p["queue_days"].notna(), start + p["queue_days"].fillna(0).to_numpy(),
                    np.where(p["exit_reason"] == "left_waiting_list", p["exit_day"].to_numpy(), end))
    return start, stop


def exact_time_average(start: np.ndarray, stop: np.ndarray, a: float, b: float) -> float:
    """Time-average number of open intervals over [a, b], computed exactly."""
    overlap = np.clip(np.minimum(stop, b) - np.maximum(start, a), 0, None)
    return float(overlap.sum() / (b - a))


def count_at(start: np.ndarray, stop: np.ndarray, days: np.ndarray) -> np.ndarray:
    return ((start[None, :] <= days[:, None]) & (stop[None, :] > days[:, None])).sum(axis=1)


TEAM = ["service.disciplines=[{name:therapist,count:6},{name:psychiatrist,count:2,caseload_cap:60,"
        "comfortable_caseload:50,session_interval_days:28}]", "service.care_model=[therapist,psychiatrist]",
        "service.care_weights=[0.7,0.3]", "service.clinicians=null", "service.referrals_per_week=7"]
LITTLE_CASES = {
    "talking_therapy": [],
    "busy_with_reneging": ["service.referrals_per_week=14", "service.renege_per_week=0.3"],
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
    diffs = []
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
    mean, half = interval(diffs)
    assert abs(mean) <= half, f"{case}: L - lambda W = {mean:.3f} +- {half:.3f}"


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
    res = run(EXTREME + ["dropout.intercept=-60", "dropout.early_boost=0", "dropout.transition=0"])
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
