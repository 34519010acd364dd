"""Staff turnover, vacancies, the on-leave policies and sickness absence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.targets_community import patients_clinician_left_12m, turnover_rate
from simulation.api import run

# Reference B made small: 2 teams of 6 care coordinators + 1 psychiatrist, 2 years warm-up, 1 measured.
B_SMALL = ["reference=community_team", "run.replications=1", "run.warmup_days=540", "run.horizon_days=540",
           "run.progress=false"]
# Staff only (no referrals): fast, and every clinician-year counts toward the rate.
STAFF_ONLY = ["service.referrals_per_week=0", "service.clinicians=200", "run.replications=1",
              "run.warmup_days=0", "run.horizon_days=1826", "run.progress=false", "output.sessions=false"]


def _discipline_of(res) -> pd.Series:
    return res.clinicians.set_index("clinician_id")["discipline"]


def test_no_turnover_no_departures():
    res = run(B_SMALL + ["turnover.annual_rate=0"])
    assert res.clinicians["leave_day"].isna().all()
    assert (res.reassignments["cause"] != "turnover").all()
    assert (res.timeseries["vacancies"] == 0).all()
    assert len(res.clinicians) == 14


def test_departures_at_the_configured_rate():
    rate = 0.3
    res = run(STAFF_ONLY + [f"turnover.annual_rate={rate}", "turnover.recruitment_delay_days=60"])
    c = res.clinicians
    end = 1826.0
    stop = c["leave_day"].fillna(end).clip(upper=end)
    years = float((stop - c["start_day"]).sum()) / 365.25
    leavers = int(c["leave_day"].notna().sum())
    # Leavers given exposure are Poisson(rate * years): 3 SD of the count, on the rate scale.
    assert leavers > 200
    assert abs(leavers / years - rate) < 3 * math.sqrt(rate * years) / years
    est = turnover_rate(res.tables, warmup_day=0.0, end_day=end).iloc[0]
    assert est == pytest.approx(leavers / years, rel=1e-9)


def test_vacancy_lasts_the_recruitment_delay_and_the_post_is_refilled():
    delay = 45.0
    res = run(STAFF_ONLY + ["turnover.annual_rate=0.5", f"turnover.recruitment_delay_days={delay}",
                            "service.clinicians=30"])
    c = res.clinicians
    left = c[c["leave_day"].notna() & (c["leave_day"] + delay < 1826.0)].sort_values("leave_day")
    newcomers = c[c["start_day"] > 0].sort_values("start_day")
    assert len(left) == len(newcomers) > 10
    np.testing.assert_allclose(newcomers["start_day"].to_numpy(), left["leave_day"].to_numpy() + delay)
    # Same team and discipline as the post they fill.
    assert (newcomers["team_id"].to_numpy() == left["team_id"].to_numpy()).all()
    assert (newcomers["discipline"].to_numpy() == left["discipline"].to_numpy()).all()
    # Vacancies in the time series never exceed leavers so far minus refills so far.
    ts = res.timeseries
    for day, vac in zip(ts["day"], ts["vacancies"]):
        expected = int(((c["leave_day"] <= day) & (c["leave_day"] + delay > day)).sum())
        assert vac == expected


def test_same_departures_across_policies_and_rate_rescales_the_draws():
    a = run(B_SMALL + ["policy=continuity"]).clinicians
    b = run(B_SMALL + ["policy=alliance_threshold", "policy.on_leave=hold"]).clinicians
    cols = ["clinician_id", "team_id", "discipline", "start_day", "leave_day", "alliance_skill"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    # Doubling the rate halves every first-generation tenure (same uniforms).
    fast = run(B_SMALL + ["turnover.annual_rate=0.6"]).clinicians
    first_a = a[a["start_day"] == 0].set_index("clinician_id")["leave_day"]
    first_f = fast[fast["start_day"] == 0].set_index("clinician_id")["leave_day"]
    both = first_a.notna() & first_f.notna()
    assert both.sum() >= 5
    np.testing.assert_allclose(first_f[both], first_a[both] / 2)


@pytest.mark.parametrize("on_leave", ["reassign", "hold"])
def test_caps_hold_during_reassignment_waves(on_leave):
    # Very high turnover and a short vacancy: frequent waves of displaced patients.
    res = run(B_SMALL + ["turnover.annual_rate=2.0", "turnover.recruitment_delay_days=20",
                         f"policy.on_leave={on_leave}", "service.referrals_per_week=10"])
    c = res.clinicians
    assert (c["max_caseload"] <= c["caseload_cap"]).all()
    assert (c["max_caseload"] == c["caseload_cap"]).any()
    r = res.reassignments
    assert (r["cause"] == "turnover").sum() > 100
    # Every departing clinician's reassignments happen on their leaving day.
    leave = c.set_index("clinician_id")["leave_day"]
    tr = r[r["cause"] == "turnover"]
    np.testing.assert_allclose(tr["day"].to_numpy(), leave.loc[tr["from_clinician_id"]].to_numpy())


def test_hold_restarts_with_the_replacement():
    delay = 30.0
    res = run(B_SMALL + ["policy.on_leave=hold", f"turnover.recruitment_delay_days={delay}",
                         "dropout.transition_policy=0", "dropout.transition_patient_request=0", "dropout.transition_turnover=0"])
    c = res.clinicians.set_index("clinician_id")
    s = res.sessions
    r = res.reassignments[res.reassignments["cause"] == "turnover"]
    assert len(r) > 20
    checked = 0
    for row in r.itertuples():
        old = c.loc[row.from_clinician_id]
        if row.day + delay >= 1080:
            continue
        later = s[(s["patient_id"] == row.patient_id) & (s["day"] > row.day)]
        later = later[later["clinician_id"].map(c["discipline"]) == old["discipline"]]
        if later.empty:
            continue  # left care (other dyad) before the replacement came
        new = c.loc[later["clinician_id"].iloc[0]]
        assert new["start_day"] == pytest.approx(row.day + delay)
        assert new["team_id"] == old["team_id"]
        assert later["day"].iloc[0] >= row.day + delay
        checked += 1
    assert checked > 10


def test_a_patient_never_holds_two_dyads_of_one_discipline():
    res = run(B_SMALL + ["turnover.annual_rate=1.0", "policy=alliance_threshold"])
    s = res.sessions.assign(discipline=res.sessions["clinician_id"].map(_discipline_of(res)))
    covered = s["alliance_patient"].isna() & s["attended"]
    assert not covered.any()  # no cover in reference B: every attended session is the dyad's own
    spans = s.groupby(["patient_id", "discipline", "dyad_id"])["day"].agg(["min", "max"]).reset_index()
    spans = spans.sort_values(["patient_id", "discipline", "min"])
    nxt = spans.groupby(["patient_id", "discipline"])["min"].shift(-1)
    overlap = spans["max"] >= nxt
    assert spans["dyad_id"].duplicated().sum() == 0
    assert (spans.groupby(["patient_id", "discipline"]).size() > 1).sum() > 50
    assert not overlap.any()


def test_patients_clinician_left_estimator_counts_primary_departures():
    res = run(B_SMALL)
    share = patients_clinician_left_12m(res.tables).iloc[0]
    # By hand: measured patients starting >= 365 days before the end, care-coordinator departure within 365 days.
    p, r, c = res.patients, res.reassignments, res.clinicians
    end = res.timeseries["day"].max()
    cohort = p[p["measured"] & p["first_session_day"].notna() & (p["first_session_day"] <= end - 365)]
    cc = set(c.loc[c["discipline"] == "care_coordinator", "clinician_id"])
    r = r[(r["cause"] == "turnover") & r["from_clinician_id"].isin(cc)].merge(cohort[["patient_id", "first_session_day"]])
    hits = r[r["day"] <= r["first_session_day"] + 365]["patient_id"].nunique()
    assert share == pytest.approx(hits / len(cohort))
    assert 0 < share < 1


def test_absence_episodes_at_the_configured_rate_and_sessions_cancelled():
    per_year = 4.0
    res = run(STAFF_ONLY + ["turnover.annual_rate=0", f"turnover.absence_per_year={per_year}",
                            "turnover.absence_mean_days=5", "service.clinicians=60"])
    c = res.clinicians
    years = 60 * 1826 / 365.25
    episodes = int(c["absence_episodes"].sum())
    # Episodes start at per_year per year *not absent*: expected per_year*(years - absent years), Poisson.
    present_years = years - c["absence_days"].sum() / 365.25
    expected = per_year * present_years
    assert abs(episodes - expected) < 3 * math.sqrt(expected)
    assert c["absence_days"].sum() / episodes == pytest.approx(5.0, rel=3 / math.sqrt(episodes))


@pytest.mark.parametrize("cover", [False, True])
def test_sessions_in_absence_are_cancelled_or_covered(cover):
    res = run(B_SMALL + ["turnover.annual_rate=0", "turnover.absence_per_year=6", "turnover.absence_mean_days=10",
                         f"turnover.absence_cover={str(cover).lower()}"])
    c = res.clinicians
    s = res.sessions
    # The dyad's own clinician: the clinician of the dyad's rated (own) sessions.
    own = s[s["alliance_patient"].notna()].groupby("dyad_id")["clinician_id"].first()
    foreign = s["clinician_id"].to_numpy() != s["dyad_id"].map(own).fillna(s["clinician_id"]).to_numpy()
    if cover:
        assert c["sessions_covered"].sum() > 50
        assert foreign.sum() > 0
        fs = s[foreign]
        # A covering colleague shares team and discipline with the dyad's clinician, and rates nothing.
        team = c.set_index("clinician_id")["team_id"]
        disc = c.set_index("clinician_id")["discipline"]
        owner = fs["dyad_id"].map(own)
        assert (fs["clinician_id"].map(team).to_numpy() == owner.map(team).to_numpy()).all()
        assert (fs["clinician_id"].map(disc).to_numpy() == owner.map(disc).to_numpy()).all()
        assert fs["alliance_patient"].isna().all()
    else:
        assert c["sessions_covered"].sum() == 0
        assert c["sessions_cancelled"].sum() > 50
        assert foreign.sum() == 0
