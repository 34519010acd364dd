"""The emulated trial's estimand: the estimator is unbiased for it, and the design grid is settable."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis.trial import (TRAINING_SHARE_KEY, design_overrides, emulate, estimand_replications, main,
                            trial_settings)
from simulation.api import run

# A third of the trial_emulation service: 20 therapists, 18 referrals a week, one measured year.
SMALL_TRIAL = ["experiment=null", "service.clinicians=20", "service.referrals_per_week=18", "run.horizon_days=365",
               "run.warmup_days=90", "output.sessions=false", "run.progress=false", "run.workers=2",
               f"{TRAINING_SHARE_KEY}=0.5"]
SETTINGS = trial_settings({"trial": {"scenario": "default", "clinicians": [10], "patients_per_clinician": [10],
                                     "design": {"clinicians": 10, "patients_per_clinician": 10},
                                     "outcomes": ["dropout", "improvement"], "truth": ["none", "none"]}})


@pytest.fixture(scope="module")
def trial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("trial") / "run"
    return run(SMALL_TRIAL + ["run.replications=30"], out_dir=out), out


def test_cluster_estimator_is_unbiased_for_the_estimand(trial_run):
    """Mean over 30 trials of (estimate - estimand of the same replication) is 0 within sampling error.

    The estimand uses every clinician of the replication (each with its first m finished
    patients); a trial samples 10 of the 20. The paired differences are independent across
    replications, so their mean has SE = sd / sqrt(n); the check is a two-sided t-test at
    alpha = 0.001 (false alarm 1 in 1000 if the estimator is unbiased).
    """
    res, _ = trial_run
    trials = emulate(res.patients, res.clinicians, SETTINGS)
    est = estimand_replications(res.patients, res.clinicians, SETTINGS)
    for o in SETTINGS["outcomes"]:
        t = trials[trials["outcome"] == o].set_index("replication")["estimate"]
        e = est[est["outcome"] == o].set_index("replication")["design"]
        d = (t - e.reindex(t.index)).dropna().to_numpy()
        assert len(d) >= 25, o
        se = d.std(ddof=1) / math.sqrt(len(d))
        assert se > 0, o
        assert abs(d.mean()) <= stats.t.ppf(1 - 0.0005, len(d) - 1) * se, (o, d.mean(), se)
        # the all-clinician estimand is itself a random quantity across replications, not a constant
        assert e.std() > 0


def test_design_grid_from_the_command_line(trial_run, capsys):
    _, out = trial_run
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest.get("experiment") is None  # a plain run: the whole trial design comes from the arguments
    code = main([str(out), "scenario=default", "clinicians=[6,10]", "patients_per_clinician=[5,10]",
                 "design.clinicians=10", "design.patients_per_clinician=10", "outcomes=[dropout]",
                 "extra.trial.alpha=0.1"])
    assert code == 0
    text = capsys.readouterr().out
    assert "Power [95% Wilson interval]" in text and "m = 5" in text and "m = 10" in text
    import pandas as pd

    power = pd.read_csv(out / "analysis" / "trial_power.csv")
    assert sorted(power["clinicians"].unique()) == [6, 10]
    assert (power["power_ci_low"] <= power["power"]).all() and (power["power"] <= power["power_ci_high"]).all()
    estimand = pd.read_csv(out / "analysis" / "trial_estimand.csv")
    assert list(estimand["outcome"]) == ["dropout"] and np.isfinite(estimand["estimand"]).all()


def test_design_overrides_reject_unknown_keys():
    s = design_overrides(SETTINGS, ["clinicians=12", "trial.patients_per_clinician=[4,8]"])
    assert s["clinicians"] == [12] and s["patients_per_clinician"] == [4, 8]
    with pytest.raises(ValueError, match="clinicians"):
        design_overrides(SETTINGS, ["clinician=[4]"])
    with pytest.raises(ValueError, match="key=value"):
        design_overrides(SETTINGS, ["clinicians"])
