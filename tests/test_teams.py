"""Multidisciplinary teams: dyads per discipline, team weights, carried-over trust, team split."""

from __future__ import annotations

import pandas as pd
import pytest

from simulation.api import load_config, run
from simulation.service import Service
from simulation.session import update_team_alliance

B_SMALL = ["reference=community_team", "run.replications=1", "run.warmup_days=400", "run.horizon_days=400",
           "run.progress=false", "turnover.annual_rate=0", "turnover.absence_per_year=0"]


def _service(overrides):
    cfg = load_config(["service.referrals_per_week=0", "service.clinicians=3", "dropout.transition_policy=0", "dropout.transition_patient_request=0", "dropout.transition_turnover=0",
                       "policy=alliance_threshold"] + overrides)
    return Service(cfg, 0)


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_transfer_share_sets_the_starting_alliance(share):
    svc = _service([f"alliance.transfer_share={share}"])
    svc._refer(0)
    p = svc.patients[0]
    (old,) = p.dyads
    old.goals, old.tasks, old.bond = 0.2, 0.3, 0.4
    old.alliance = sum(w * x for w, x in zip(svc.cfg.alliance.weights, (0.2, 0.3, 0.4)))
    update_team_alliance(p)
    trust = p.team_alliance
    assert svc.reassign(old, "policy")
    (new,) = p.dyads
    assert new.clinician is not old.clinician
    init = svc.cfg.alliance.initial_share
    for comp, pot in (("goals", new.potential_goals), ("tasks", new.potential_tasks), ("bond", new.potential_bond)):
        assert getattr(new, comp) == pytest.approx(share * trust + (1 - share) * init * pot)
    if share == 1.0:
        assert new.alliance == pytest.approx(trust)


def test_a_fresh_dyad_starts_at_the_initial_share_of_its_potential():
    svc = _service(["alliance.transfer_share=1"])
    svc._refer(0)
    (dy,) = svc.patients[0].dyads
    init = svc.cfg.alliance.initial_share
    assert dy.goals == pytest.approx(init * dy.potential_goals)
    assert dy.bond == pytest.approx(init * dy.potential_bond)


def test_every_patient_holds_one_dyad_per_discipline_of_the_care_model():
    cfg = load_config(B_SMALL)
    svc = Service(cfg, 0)
    svc.start_referrals()
    svc.env.run(until=200)  # demand still below both disciplines' capacity: nobody waits
    in_care = [p for p in svc.patients if p.in_care and not p.exited]
    assert len(in_care) > 50
    for p in in_care:
        assert sorted(dy.discipline for dy in p.dyads) == [0, 1]
        assert p.team_alliance == pytest.approx(0.7 * p.dyads[0].alliance + 0.3 * p.dyads[1].alliance
                                                if p.dyads[0].discipline == 0 else
                                                0.7 * p.dyads[1].alliance + 0.3 * p.dyads[0].alliance)
        assert all(dy.clinician.team == p.team for dy in p.dyads)


def _exits(res) -> pd.DataFrame:
    return res.patients[["patient_id", "exit_reason", "exit_day", "sessions_attended", "dnas"]]


def test_zero_weight_dyad_is_irrelevant_to_dropout():
    weights = "service.care_weights=[1.0,0.0]"
    good = run(B_SMALL + [weights, "service.disciplines.1.alliance_shift=2.0"])
    bad = run(B_SMALL + [weights, "service.disciplines.1.alliance_shift=-2.0"])
    # The second dyad really changed ...
    s_good, s_bad = good.sessions, bad.sessions
    psych = set(good.clinicians.loc[good.clinicians["discipline"] == "psychiatrist", "clinician_id"])
    a_good = s_good[s_good["clinician_id"].isin(psych)]["alliance_latent"].mean()
    a_bad = s_bad[s_bad["clinician_id"].isin(psych)]["alliance_latent"].mean()
    assert a_good - a_bad > 0.2
    # ... and nobody's attendance, dropout or exit moved.
    pd.testing.assert_frame_equal(_exits(good), _exits(bad))
    # With weight on the second dyad the same change does matter (the test can fail).
    w_good = run(B_SMALL + ["service.disciplines.1.alliance_shift=2.0"])
    w_bad = run(B_SMALL + ["service.disciplines.1.alliance_shift=-2.0"])
    assert not _exits(w_good).equals(_exits(w_bad))
    assert (w_bad.patients["exit_reason"] == "dropout").sum() > (w_good.patients["exit_reason"] == "dropout").sum()


def test_teams_split_clinicians_evenly_and_keep_patients_in_their_team():
    res = run(B_SMALL)
    c = res.clinicians
    assert c.groupby(["team_id", "discipline"]).size().to_dict() == {
        (0, "care_coordinator"): 6, (0, "psychiatrist"): 1, (1, "care_coordinator"): 6, (1, "psychiatrist"): 1}
    team_of = c.set_index("clinician_id")["team_id"]
    s = res.sessions.merge(res.patients[["patient_id", "team_id"]], on="patient_id")
    assert (s["clinician_id"].map(team_of) == s["team_id"]).all()
    assert set(res.patients["team_id"]) == {0, 1}


def test_reference_b_composes_and_default_stays_reference_a():
    a = load_config([])
    assert a.service.name == "talking_therapy" and a.population.severity_scale == "PHQ-9"
    assert a.turnover.annual_rate == 0
    b = load_config(["reference=community_team"])
    assert b.service.care_model == ["care_coordinator", "psychiatrist"]
    assert b.population.severity_scale == "HoNOS"
    assert b.turnover.annual_rate == pytest.approx(0.3)
    intervals = {d.name: (d.session_interval_days, d.session_interval_max_days) for d in b.service.disciplines}
    assert intervals == {"care_coordinator": (14, None), "psychiatrist": (56, 84)}


def test_psychiatric_reviews_every_8_to_12_weeks():
    res = run(B_SMALL)
    s = res.sessions
    psych = set(res.clinicians.loc[res.clinicians["discipline"] == "psychiatrist", "clinician_id"])
    gaps = s[s["clinician_id"].isin(psych)].sort_values("day").groupby("dyad_id")["day"].diff().dropna()
    assert len(gaps) > 100
    assert gaps.min() >= 56 - 1e-9 and gaps.max() <= 84 + 1e-9
    cc = s[~s["clinician_id"].isin(psych)].sort_values("day").groupby("dyad_id")["day"].diff().dropna()
    assert (cc - 14).abs().max() < 1e-9
