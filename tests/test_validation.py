"""Bad input stops a run before simulating: one ConfigError naming key, value and what is allowed.

From Python the error is a :class:`ConfigError`; from the command line it is one line on
stderr, exit status 2 and no traceback, in run mode and in multirun (``-m``) mode.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.api import build_scenarios, load_config
from simulation.config import Config, DisciplineConfig
from simulation.errors import ConfigError
from simulation.validate import FIELD_RULES, schema_keys, validate

EXE = str(Path(sys.executable).parent / "alliance-sim")
SHORT = ["run.horizon_days=20", "run.warmup_days=0", "run.replications=1", "run.progress=false"]

# (overrides, key the error must name, words the "allowed" part must contain)
BAD = [
    # wrong types (caught by the schema at composition)
    (["run.replications=abc"], "run.replications", "an integer"),
    (["run.replications="], "run.replications", "an integer"),
    (["run.progress=maybe"], "run.progress", "true or false"),
    (["service.care_model=x"], "service.care_model", "a list of strings"),
    (["run.horizon_days=nan"], "run.horizon_days", "a finite number"),
    (["run.horizon_days=inf"], "run.horizon_days", "a finite number"),
    # unknown keys and typo'd group options
    (["service.no_such_key=3"], "service.no_such_key", "not a config key"),
    (["+service.no_such_key=3"], "service.no_such_key", "not a config key"),
    (["servic=talking_therapy"], "servic", "did you mean service"),
    (["service=nonexistent"], "service", "talking_therapy"),
    (["rupture=sometimes"], "rupture", "none, standard"),
    (["foo"], "foo", "key=value"),
    # ranges
    (["run.replications=0"], "run.replications", ">= 1"),
    (["run.seed=-1"], "run.seed", ">= 0"),
    (["run.horizon_days=0"], "run.horizon_days", "> 0"),
    (["run.workers=0"], "run.workers", ">= 1"),
    (["run.name=a/b"], "run.name", "no spaces or '/'"),
    (["service.referrals_per_week=-1"], "service.referrals_per_week", ">= 0"),
    (["service.clinicians=0"], "service.clinicians", ">= 1"),
    (["service.disciplines.0.caseload_cap=0"], "service.disciplines[0].caseload_cap", ">= 1"),
    (["population.low_intensity_share=1.5"], "population.low_intensity_share", "[0, 1]"),
    (["dropout.transition_policy=-0.1"], "dropout.transition_policy", "[0, 1]"),
    (["outcome.sudden_gain_prob=2"], "outcome.sudden_gain_prob", "[0, 1]"),
    (["rupture.report_prob=1.01"], "rupture.report_prob", "[0, 1]"),
    (["clinicians.style_dims=0"], "clinicians.style_dims", "[1, 4]"),
    (["turnover.annual_rate=-0.1"], "turnover.annual_rate", ">= 0"),
    (["turnover.absence_mean_days=0"], "turnover.absence_mean_days", "> 0"),
    (["output.format=xlsx"], "output.format", "csv, parquet"),
    (["run.backend=spark"], "run.backend", "dask, local"),
    (["policy.allocation=lottery"], "policy.allocation", "least_loaded"),
    (["policy.reassignment=sometimes"], "policy.reassignment", "continuity"),
    (["policy.alliance_threshold.consecutive=0"], "policy.alliance_threshold.consecutive", ">= 1"),
    (["policy.patient_request.threshold=0.5"], "policy.patient_request.threshold", "WAI-SR scale [1.0, 5.0]"),
    (["intervention.training_share=1.5"], "intervention.training_share", "[0, 1]"),
    (["intervention.monitoring_every=-1"], "intervention.monitoring_every", ">= 0"),
    (["policy.matching_accuracy=1.2"], "policy.matching_accuracy", "[0, 1]"),
    (["attendance.consecutive_dna_discharge=0"], "attendance.consecutive_dna_discharge", ">= 1"),
    # cross-field consistency
    (["run.warmup_days=800", "run.horizon_days=700"], "run.warmup_days", "no longer than the measured horizon"),
    (["alliance.weights=[0.5,0.5,0.5]"], "alliance.weights", "summing to 1"),
    (["alliance.weights=[0.5,0.5]"], "alliance.weights", "a list of 3"),
    (["service.care_weights=[0.4]"], "service.care_weights", "summing to 1"),
    (["service.care_model=[therapist,psychiatrist]", "service.care_weights=[0.5,0.5]"], "service.care_model",
     "present in service.disciplines"),
    (["service.disciplines.0.comfortable_caseload=25"], "service.disciplines[0].comfortable_caseload",
     "<= caseload_cap (20)"),
    (["service.teams=20"], "service.clinicians", "at least one therapist per team"),
    (["population.severity_min=30"], "population.severity_min", "severity_max"),
    (["population.max_sessions_low=30"], "population.max_sessions_low", "<= max_sessions_high"),
    (["rupture.severity_min=0.3", "rupture.severity_max=0.2"], "rupture.severity_max", ">= rupture.severity_min"),
    (["alliance.scale_max=1"], "alliance.scale_max", "greater than alliance.scale_min"),
    # experiments
    (["experiment=nonexistent"], "experiment", "one of calibration, default, "),
]


@pytest.mark.parametrize("overrides,key,allowed", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_input_raises_config_error_naming_the_key(overrides, key, allowed):
    with pytest.raises(ConfigError) as info:
        build_scenarios(overrides)
    err = info.value
    assert err.key == key
    assert allowed in err.allowed
    assert "\n" not in str(err)


def test_error_names_the_value_given():
    with pytest.raises(ConfigError) as info:
        load_config(["run.replications=abc"])
    assert info.value.value == "abc"
    assert str(info.value) == "invalid config: run.replications='abc': an integer"


def test_every_schema_key_has_a_rule():
    """A new config key must get a line in validate.FIELD_RULES (``free`` for any finite value)."""
    missing = [k for k in schema_keys() if k not in FIELD_RULES]
    assert not missing, f"add rules to simulation/validate.py FIELD_RULES for: {', '.join(missing)}"
    stale = [k for k in FIELD_RULES if k not in schema_keys()]
    assert not stale, f"rules for keys the schema no longer has: {', '.join(stale)}"


def test_typed_config_from_python_is_checked_too():
    """Configs built in Python (no Hydra) get the same type and range checks."""
    cfg = Config()
    validate(cfg)
    bad = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, replications=True))
    with pytest.raises(ConfigError, match="run.replications"):
        validate(bad)
    bad = dataclasses.replace(cfg, service=dataclasses.replace(
        cfg.service, disciplines=[DisciplineConfig(), DisciplineConfig()]))
    with pytest.raises(ConfigError, match="distinct names"):
        validate(bad)
    bad = dataclasses.replace(cfg, alliance=dataclasses.replace(cfg.alliance, noise_sd="0.1"))
    with pytest.raises(ConfigError, match="alliance.noise_sd"):
        validate(bad)


def _write_experiment(tmp_path: Path, scenarios: str, extra: str = "") -> str:
    path = tmp_path / "exp.yaml"
    path.write_text(f"description: test\nbaseline: a\n{extra}scenarios:\n{scenarios}")
    return f"experiment={path}"


def test_experiment_scenario_with_unknown_key(tmp_path):
    exp = _write_experiment(tmp_path, "  a: []\n  b: [service.clinicans=3]\n")
    with pytest.raises(ConfigError) as info:
        build_scenarios([exp])
    assert "scenario b" in info.value.key and "service.clinicans" in info.value.key
    assert "did you mean clinicians" in info.value.allowed


def test_experiment_with_unknown_field_or_baseline(tmp_path):
    exp = _write_experiment(tmp_path, "  a: []\n", extra="scenarioz: {}\n")
    with pytest.raises(ConfigError, match="scenarioz"):
        build_scenarios([exp])
    path = tmp_path / "exp2.yaml"
    path.write_text("baseline: nobody\nscenarios:\n  a: []\n")
    with pytest.raises(ConfigError, match="baseline"):
        build_scenarios([f"experiment={path}"])


def test_experiment_with_unknown_kpi_or_malformed_scenario(tmp_path):
    exp = _write_experiment(tmp_path, "  a: []\n", extra="kpis: [dropout_rate, happiness]\n")
    with pytest.raises(ConfigError) as info:
        build_scenarios([exp])
    assert info.value.value == "happiness" and "dropout_rate" in info.value.allowed
    exp = _write_experiment(tmp_path, "  a: service.clinicians=3\n")
    with pytest.raises(ConfigError, match="a list of overrides"):
        build_scenarios([exp])


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args, f"hydra.run.dir={tmp_path / 'h'}", f"hydra.sweep.dir={tmp_path / 'm'}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


CLI_CASES = [
    (["run.replications=abc"], "alliance-sim: invalid config: run.replications='abc': an integer"),
    (["service=nonexistent"], "alliance-sim: invalid config: service='nonexistent': one of community_team, "
                              "talking_therapy, template (files in configs/service/)"),
    (["service.no_such_key=3"], "alliance-sim: invalid config: service.no_such_key='3': not a config key"),
    (["run.warmup_days=900"], "alliance-sim: invalid config: run.warmup_days=900.0: a warm-up no longer than"),
    (["experiment=nonexistent"], "alliance-sim: invalid config: experiment='nonexistent': one of calibration, default"),
    (["foo"], "alliance-sim: invalid config: foo: an override of the form key=value"),
    # multirun: every job of the sweep is checked before the first one starts
    (["-m", "service.clinicians=3,0"], "alliance-sim: invalid config: service.clinicians=0: an integer >= 1"),
    (["--multirun", "run.replications=1,abc"], "alliance-sim: invalid config: run.replications='abc': an integer"),
    (["-m", "service=talking_therapy,nonexistent"], "alliance-sim: invalid config: service='nonexistent'"),
]


@pytest.mark.parametrize("args,line", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_cli_prints_one_line_and_exits_2(args, line, tmp_path):
    flags = [a for a in args if a.startswith("-")]
    proc = _cli([*flags, *SHORT, *[a for a in args if a not in flags]], tmp_path)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert err.startswith(line), err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in proc.stderr and "HYDRA_FULL_ERROR" not in proc.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "h").exists(), "nothing may run before the check"
