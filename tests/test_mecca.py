"""MECCA's published effects as target ranges, and DIALOG's direct route to treatment satisfaction (issue 16, item 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import mecca
from simulation import api, assessment

# Reference B, short: a one-year warm-up fills the caseloads, then the 12-month trial (as tests/test_dialog.py).
B_SHORT = ["experiment=null", "reference=community_team", "run.warmup_days=365", "run.horizon_days=365",
           "run.progress=false"]
TRIAL = B_SHORT + ["intervention=dialog", "intervention.dialog_share=0.5"]


def test_targets_take_mecca_published_intervals_and_keep_their_roles():
    """MECCA-a (fitted) and MECCA-b (validation) accept MECCA's published 95% CIs, each holding its point estimate."""
    from analysis.calibration import TARGETS

    for name, outcome, role in (("MECCA-a", "mansa", "fitted"), ("MECCA-b", "treatment_satisfaction", "validation")):
        t = TARGETS[name]
        est, lo, hi = mecca.PUBLISHED_D[outcome]
        assert (t.low, t.high) == (lo, hi) and lo < est < hi and t.role == role


def test_direct_route_adds_the_gain_per_dialog_session():
    """Satisfaction = level + gain x sessions when noise and the alliance term are zero, clipped at the scale's top."""
    cfg = api.prepare(B_SHORT + ["intervention=dialog", "intervention.dialog_satisfaction_gain=0.1"])
    n = 25
    sessions = np.arange(n)
    noise = np.zeros((n, 2))
    alliance = np.full(n, cfg.alliance.reference)
    severity = np.full(n, cfg.population.severity_mean)
    _, sat = assessment.assess(severity, alliance, sessions, noise, cfg)
    want = np.minimum(cfg.intervention.satisfaction_mean + 0.1 * sessions, 7.0)
    np.testing.assert_allclose(sat, want, rtol=0, atol=1e-12)
    assert sat[-1] == 7.0 and sat[0] == cfg.intervention.satisfaction_mean


@pytest.fixture(scope="module")
def gain_pair():
    """The reduced emulated trial (4 trials) without and with a direct route of 0.1 points per session."""
    off = api.run_config(api.prepare(TRIAL + ["intervention.dialog_satisfaction_gain=0"]), replications=4,
                         scenario="mecca_trial")
    on = api.run_config(api.prepare(TRIAL + ["intervention.dialog_satisfaction_gain=0.1"]), replications=4,
                        scenario="mecca_trial")
    return off, on


def test_direct_route_changes_treatment_satisfaction_only_and_by_gain_times_sessions(gain_pair):
    """Common random numbers: the gain moves nothing but satisfaction, by 0.1 x DIALOG sessions where unclipped."""
    off, on = gain_pair
    for name in ("clinicians", "timeseries"):
        pd.testing.assert_frame_equal(off[name], on[name])
    a, b = off["patients"], on["patients"]
    pd.testing.assert_frame_equal(a.drop(columns="treatment_satisfaction"), b.drop(columns="treatment_satisfaction"))
    rated = a["treatment_satisfaction"].notna()  # NaN: never seen, so no alliance to rate (either way)
    assert rated.equals(b["treatment_satisfaction"].notna())
    a, b = a[rated], b[rated]
    shift = b["treatment_satisfaction"] - a["treatment_satisfaction"]
    inside = (b["treatment_satisfaction"] < 7.0) & (a["treatment_satisfaction"] > 1.0)
    assert a["dialog_sessions"].sum() > 100 and inside.mean() > 0.8
    np.testing.assert_allclose(shift[inside], 0.1 * a.loc[inside, "dialog_sessions"], rtol=0, atol=1e-9)
    assert (shift[~inside] >= -1e-12).all() and (shift <= 0.1 * a["dialog_sessions"] + 1e-9).all()


def test_direct_route_raises_the_trial_difference_by_the_sessions_dialog_adds(gain_pair):
    """Per trial, the satisfaction difference grows by 0.1 x the DIALOG clusters' mean sessions (clipping aside)."""
    off, on = gain_pair
    t0, t1 = mecca.trials(off), mecca.trials(on)
    sat0 = t0[t0["outcome"] == "treatment_satisfaction"].set_index("replication")
    sat1 = t1[t1["outcome"] == "treatment_satisfaction"].set_index("replication")
    for rep, p in off["patients"].groupby("replication"):
        d = mecca.cohort(p, off["clinicians"][off["clinicians"]["replication"] == rep])
        c = d.groupby("clinician_id").agg(s=("dialog_sessions", "mean"), arm=("trained", "first"))
        arm = c["arm"].astype(bool)
        s_dialog, s_usual = c.loc[arm, "s"].mean(), c.loc[~arm, "s"].mean()
        got = sat1.loc[rep, "estimate"] - sat0.loc[rep, "estimate"]
        assert s_dialog > 2 and s_usual < 0.5  # DIALOG clusters held sessions (about 4 a patient); usual care few
        # Each patient's shift is 0.1 x sessions, or less where clipping at 7 bites (under 1 in 5 near the top).
        assert 0.8 * 0.1 * s_dialog - 0.1 * s_usual <= got <= 0.1 * s_dialog + 1e-9


def test_emulated_trial_raises_treatment_satisfaction_in_mecca_direction():
    """12 trials at the defaults: mean d of satisfaction > 0 by 3 SEs (MECCA-b's direction; its size is validation)."""
    tables = api.run_config(api.prepare(TRIAL), replications=12, scenario="mecca_trial")
    t = mecca.trials(tables)
    d = t.loc[t["outcome"] == "treatment_satisfaction", "d"].to_numpy(float)
    assert np.isfinite(d).all() and len(d) == 12
    assert d.mean() > 3 * d.std(ddof=1) / np.sqrt(len(d))
