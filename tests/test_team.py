"""Issue 16 items 2 and 3: involuntary care (legal status, CTO renewals, effects) and the relationship with the team."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation.api import load_config, run
from simulation.involuntary import LEGAL_STATUSES
from simulation.service import Service

# Reference B without its 3-year warm-up: two years of referrals, one replication.
B_SHORT = ["experiment=null", "reference=community_team", "run.replications=1", "run.warmup_days=0",
           "run.horizon_days=730", "run.progress=false", "output.sessions=false"]


@pytest.fixture(scope="module")
def b_half_involuntary():
    """B with half the referrals under a CTO and renewal at 0.3 (far from the 0.5 default)."""
    return run(B_SHORT + ["involuntary.share=0.5", "involuntary.renewal_prob=0.3",
                          "involuntary.potential_shift=-0.8"]).tables["patients"]


def test_legal_status_values_and_share_within_sampling_error(b_half_involuntary):
    pts = b_half_involuntary
    assert set(pts["legal_status"].astype(str)) <= set(LEGAL_STATUSES)
    n = len(pts)
    share = (pts["legal_status"] == "involuntary").mean()
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / n), (share, n)


def test_reference_a_is_all_voluntary_with_no_compulsion_end():
    pts = run(["experiment=null", "run.replications=1", "run.horizon_days=120", "run.warmup_days=0",
               "run.progress=false", "output.sessions=false"]).tables["patients"]
    assert (pts["legal_status"] == "voluntary").all()
    assert pts["compulsion_end_day"].isna().all()


def test_cto_ends_only_at_expiries_and_at_the_configured_renewal_rate(b_half_involuntary):
    pts = b_half_involuntary
    inv = pts[pts["legal_status"] == "involuntary"]
    ended = inv.dropna(subset=["compulsion_end_day"])
    assert (pts.loc[pts["legal_status"] == "voluntary", "compulsion_end_day"].isna()).all()
    # An order ends only at an expiry: 182.5 days after referral, then 365, then yearly.
    length = ended["compulsion_end_day"] - ended["referral_day"]
    expiries = np.array([182.5, 365.0, 730.0])
    assert np.isclose(length.to_numpy()[:, None], expiries[None, :]).any(axis=1).all()
    # First expiry: patients still with the team on that day (and before the end) meet it;
    # the share not renewed is 1 - renewal_prob (0.7), within sampling error.
    first = inv["referral_day"] + 182.5
    at_risk = inv[(first < 730.0) & (inv["exit_day"] > first)]
    not_renewed = np.isclose(at_risk["compulsion_end_day"] - at_risk["referral_day"], 182.5).mean()
    n = len(at_risk)
    assert n > 50
    assert abs(not_renewed - 0.7) < 4 * math.sqrt(0.21 / n), (not_renewed, n)


def test_compulsion_lowers_the_early_relationship(b_half_involuntary):
    pts = b_half_involuntary.dropna(subset=["alliance_patient_s3"])
    inv = pts.loc[pts["legal_status"] == "involuntary", "alliance_patient_s3"]
    vol = pts.loc[pts["legal_status"] == "voluntary", "alliance_patient_s3"]
    se = math.sqrt(inv.var() / len(inv) + vol.var() / len(vol))
    assert vol.mean() - inv.mean() > 2 * se, (vol.mean(), inv.mean(), se)


def test_mechanisms_off_by_default_leave_results_alone():
    """With team_weight 0 and share 0 the other new keys change nothing (reference A stays bit-identical)."""
    base = ["experiment=null", "run.replications=1", "run.horizon_days=120", "run.warmup_days=0",
            "run.progress=false"]
    a = run(base).tables
    b = run(base + ["alliance.team_rate=0.3", "involuntary.potential_shift=-0.8",
                    "involuntary.dropout_shift=-2", "involuntary.renewal_prob=0.9"]).tables
    for name in ("patients", "sessions"):
        assert a[name].drop(columns=["team_relationship"] if name == "patients" else []).equals(
            b[name].drop(columns=["team_relationship"] if name == "patients" else [])), name


def _one_patient_service(extra=()):
    """Reference B's team with one referral on day 0, allocated at once; no DNA, dropout, recovery or turnover."""
    cfg = load_config(["reference=community_team", "service.referrals_per_week=0", "run.warmup_days=0",
                       "run.horizon_days=2000", "alliance.team_weight=0.5", "alliance.team_rate=0.1",
                       "dropout.transition_patient_request=0", "dropout.intercept=-60", "dropout.early_boost=0",
                       "attendance.dna_intercept=-60", "outcome.response_rate=0", "outcome.noise_sd=0",
                       "outcome.sudden_gain_prob=0", "turnover.annual_rate=0", "turnover.absence_per_year=0",
                       *extra])
    svc = Service(cfg, 0)
    svc._refer(0)  # every caseload is empty: both dyads open on day 0
    return svc, svc.patients[0]


def _next_attended_session(svc, p) -> None:
    """Run the event loop until exactly one more of the patient's sessions has been attended."""
    def attended():
        return p.sessions_attended
    n = attended()
    while attended() == n:
        svc.env.step()
    assert attended() == n + 1


def test_team_relationship_follows_the_dyads_at_team_rate():
    svc, p = _one_patient_service(["alliance.team_rate=0.25"])
    assert len(p.dyads) == 2 and p.team_relationship == p.dyads[0].alliance  # set when the first dyad opened
    for _ in range(8):
        before = p.team_relationship
        _next_attended_session(svc, p)
        assert p.team_relationship == pytest.approx(before + 0.25 * (p.team_alliance - before), abs=1e-12)


def test_team_relationship_survives_a_change_of_clinician():
    svc, p = _one_patient_service()
    for _ in range(12):
        _next_attended_session(svc, p)
    cc = next(dy for dy in p.dyads if dy.discipline == 0)
    tr, composite = p.team_relationship, p.team_alliance
    assert tr != composite  # it lags the dyads' composite
    old_clinician = cc.clinician
    assert svc.reassign(cc, "patient_request")  # never back to the clinician left
    new = next(dy for dy in p.dyads if dy.discipline == 0)
    assert new is not cc and new.clinician is not old_clinician and new.attended == 0
    assert new.patient is p and new.patient.team_relationship == tr  # the move does not reset it
    assert p.team_alliance != composite  # while the dyads' composite changed with the new dyad
    _next_attended_session(svc, p)
    assert p.team_relationship == pytest.approx(tr + 0.1 * (p.team_alliance - tr), abs=1e-12)
