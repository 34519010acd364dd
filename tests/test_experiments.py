"""Shipped experiments compose; a Hydra multirun sweep runs end to end and is collected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.api import build_scenarios
from simulation.experiment import available, load_experiment, override_key

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["default", "repair_and_dropout", "reassignment_policies", "trial_emulation"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_experiment_loads_and_its_scenarios_compose(name):
    assert name in available()
    exp, scenarios = build_scenarios([f"experiment={name}"])
    assert exp.name == name and exp.baseline in exp.scenarios
    assert [s.name for s in scenarios] == list(exp.scenarios)
    assert all(s.config.run.replications == scenarios[0].config.run.replications for s in scenarios)
    for s in scenarios:  # each scenario's own overrides reached its config
        for o in exp.scenarios[s.name]:
            key, _, value = o.partition("=")
            if "." not in key:  # a config-group option: policy files name their reassignment policy
                if key == "policy":
                    assert s.config.policy.reassignment == value, (s.name, o)
                continue
            group, attr = key.split(".", 1)
            got = getattr(getattr(s.config, group), attr)
            assert str(got) in (value, value.capitalize()) or float(got) == pytest.approx(float(value)), (s.name, o)
    import analysis.report  # noqa: F401  (imports every module that registers figures)
    from analysis.figures import FIGURES

    unknown = [f for f in exp.figures if f not in FIGURES]
    assert not unknown


def test_reassignment_experiment_uses_the_agreed_keys():
    exp = load_experiment("reassignment_policies")
    main = {k: v for k, v in exp.scenarios.items() if not k.startswith("sens_")}
    keys = {override_key(o) for v in main.values() for o in v}
    assert keys == {"policy", "turnover.annual_rate", "policy.handover", "policy.reassignment_allocation"}
    varied = {p["key"] for p in exp.extra["sensitivity"]["parameters"]}
    assert varied == {"dropout.transition_policy", "dropout.transition_patient_request",
                      "dropout.transition_turnover", "alliance.transfer_share", "alliance.fit_sd"}
    sens = {override_key(o) for k, v in exp.scenarios.items() if k.startswith("sens_") for o in v}
    assert sens == {"policy", "turnover.annual_rate"} | varied
    policies = {o.split("=")[1] for v in exp.scenarios.values() for o in v if o.startswith("policy=")}
    assert policies == {"continuity", "alliance_threshold", "unresolved_rupture", "patient_request"}
    rates = {float(o.split("=")[1]) for v in exp.scenarios.values() for o in v if o.startswith("turnover.")}
    assert rates == {0.1, 0.3}


def test_multirun_sweep_end_to_end_and_collect(tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [str(Path(sys.executable).parent / "alliance-sim"), "-m", "service.clinicians=8,12", "experiment=null",
           "run.replications=2", "run.horizon_days=90", "run.warmup_days=20", "run.progress=false",
           "output.sessions=false", f"hydra.sweep.dir={sweep}"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    for job in ("0", "1"):
        assert (sweep / job / "manifest.json").exists()
        assert (sweep / job / "report.html").exists()
    r = subprocess.run([sys.executable, "-m", "analysis", "collect", str(sweep), "--kpi", "mean_wait_weeks"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    import pandas as pd

    table = pd.read_csv(sweep / "collected.csv")
    assert len(table) == 2
    assert sorted(table["service.clinicians"]) == [8, 12]
    assert {"dropout_rate", "dropout_rate_ci_low", "dropout_rate_ci_high", "mean_wait_weeks"} <= set(table.columns)
    # fewer clinicians, same referrals: the wait cannot be shorter
    by = table.set_index("service.clinicians")["mean_wait_weeks"]
    assert by.loc[8] >= by.loc[12]
    assert (sweep / "collected_mean_wait_weeks.png").stat().st_size > 10_000


def test_collect_rejects_unknown_kpi_and_param(tmp_path):
    from analysis.collect import collect

    with pytest.raises(FileNotFoundError):
        collect(tmp_path / "nothing")
    with pytest.raises(ValueError):
        collect(tmp_path, kpi="not_a_kpi")
