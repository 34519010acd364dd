"""DIALOG structured assessment (intervention=dialog) and the emulated MECCA cluster trial (issue 16, item 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import mecca
from simulation import api
from simulation.errors import ConfigError

# Reference B, short: a one-year warm-up fills the caseloads, then the 12-month trial.
B_SHORT = ["experiment=null", "reference=community_team", "run.warmup_days=365", "run.horizon_days=365",
           "run.progress=false"]


@pytest.fixture(scope="module")
def dialog_run():
    """B with every clinician using DIALOG every 60 days, the session table on (2 replications)."""
    cfg = api.prepare(B_SHORT + ["intervention=dialog", "output.sessions=true"])
    return cfg, api.run_config(cfg, replications=2)


def expected_dialog_sessions(tables: dict, every: float, start: float) -> pd.Series:
    """Each patient's DIALOG count re-derived from the session table (per dyad of a DIALOG user, ``every``-day gaps)."""
    s, c = tables["sessions"], tables["clinicians"]
    primary = c["discipline"].iloc[0]
    users = c.loc[c["dialog"].astype(bool) & (c["discipline"] == primary), ["replication", "clinician_id"]]
    rated = s[s["attended"].astype(bool) & s["alliance_patient"].notna() & (s["day"] >= start)]
    rated = rated.merge(users, on=["replication", "clinician_id"])
    counts: dict = {}
    for (rep, pid, _), g in rated.sort_values("day").groupby(["replication", "patient_id", "dyad_id"]):
        last, n = -np.inf, 0
        for day in g["day"].to_numpy():
            if day - last >= every:
                n, last = n + 1, day
        counts[(rep, pid)] = counts.get((rep, pid), 0) + n
    return pd.Series(counts, dtype="int64")


def test_dialog_sessions_happen_at_the_configured_interval(dialog_run):
    cfg, tables = dialog_run
    p = tables["patients"]
    got = p.set_index(["replication", "patient_id"])["dialog_sessions"]
    want = expected_dialog_sessions(tables, cfg.intervention.dialog_every_days, cfg.run.warmup_days)
    want = want.reindex(got.index, fill_value=0)
    assert int(got.sum()) > 100  # the run held DIALOG sessions at all
    pd.testing.assert_series_equal(got, want, check_names=False)
    # Nobody gets one before the trial starts or more often than every 60 days allows (365 days: at most 7).
    assert got.max() <= 7


def test_no_dialog_user_leaves_the_run_unchanged():
    """With DIALOG configured but no clinician using it, every shared table equals the run without it (CRN)."""
    base = api.run_config(api.prepare(B_SHORT), replications=1)
    off = api.run_config(api.prepare(B_SHORT + ["intervention=dialog", "intervention.dialog_share=0"]),
                         replications=1)
    assert "mansa" not in base["patients"] and "mansa" in off["patients"]
    assert not off["clinicians"]["dialog"].any()
    for name in ("patients", "clinicians", "timeseries", "reassignments"):
        pd.testing.assert_frame_equal(base[name], off[name][base[name].columns])


def test_assessments_are_on_their_scales_and_follow_severity_and_alliance(dialog_run):
    _, tables = dialog_run
    p = tables["patients"]
    assert p["mansa"].between(1, 7).all()
    s = p["treatment_satisfaction"].dropna()
    assert len(s) > 100 and s.between(1, 7).all()
    # MANSA falls with severity (slope -0.3 per SD): with hundreds of patients, r < 0 by far more than its SE.
    r = np.corrcoef(p["mansa"], p["latent_final_severity"])[0, 1]
    assert r < -3 / np.sqrt(len(p))


def test_emulated_mecca_trial_reproduces_direction_and_size():
    """12 trials: mean d of MANSA > 0 and in MECCA's range, within 3 SEs of the mean over trials."""
    cfg = api.prepare(B_SHORT + ["intervention=dialog", "intervention.dialog_share=0.5"])
    tables = api.run_config(cfg, replications=12, scenario="mecca_trial")
    t = mecca.trials(tables)
    d = t.loc[t["outcome"] == "mansa", "d"].to_numpy(float)
    assert np.isfinite(d).all() and (t["clusters_trained"] >= 2).all() and (t["clusters_control"] >= 2).all()
    se = d.std(ddof=1) / np.sqrt(len(d))
    assert d.mean() > 3 * se  # direction: DIALOG better
    lo, hi = mecca.accepted_range("mansa")
    assert lo - 3 * se <= d.mean() <= hi + 3 * se  # size: within MECCA's published 95% interval


@pytest.mark.parametrize("override,key", [
    ("intervention.dialog_share=1.5", "intervention.dialog_share"),
    ("intervention.dialog_every_days=-60", "intervention.dialog_every_days"),
    ("intervention.dialog_goals_gain=2", "intervention.dialog_goals_gain"),
    ("intervention.mansa_mean=9", "intervention.mansa_mean"),
])
def test_bad_dialog_keys_are_refused_naming_the_key(override, key):
    with pytest.raises(ConfigError) as info:
        api.load_config(["reference=community_team", "intervention=dialog", override])
    msg = str(info.value)
    assert key in msg and "\n" not in msg


def test_command_line_intervention_is_not_silently_replaced_by_the_default_experiment(capsys):
    """`alliance-sim reference=community_team intervention=dialog` runs DIALOG (one scenario), not usual care."""
    from simulation.cli import DEFAULT_EXPERIMENT, experiment_when_unnamed

    assert experiment_when_unnamed(["reference=community_team"]) == DEFAULT_EXPERIMENT
    assert experiment_when_unnamed(["intervention.training_share=0.3"]) == DEFAULT_EXPERIMENT
    assert experiment_when_unnamed(["reference=community_team", "intervention=dialog"]) == "null"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "intervention=dialog" in err[0] and "experiment=null" in err[0]
