"""Hard bounds and plausible ranges (simulation/bounds.py) and the pre-run memory estimate (simulation/resources.py).

Every numeric key has a hard range the model can compute in and a plausible range; values
at the corners of the hard ranges run without an arithmetic error; implausible values
warn; a run too big for the machine is refused before it starts.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from simulation import api
from simulation.bounds import BOUNDS, ImplausibleValue, bound_for, implausible, numeric_fields
from simulation.config import Config
from simulation.errors import ConfigError
from simulation.resources import estimate
from simulation.validate import FIELD_RULES

def key_of(field: str) -> list[str]:
    """The dotted keys of a field name (so these tests follow keys that move between sections)."""
    return [k.replace("[].", ".0.") for k, _, name in numeric_fields(Config) if name == field]


TINY = ["experiment=null", "run.replications=1", "run.horizon_days=60", "run.warmup_days=0", "run.progress=false"]


def test_every_numeric_key_has_one_bound_and_no_entry_is_orphaned():
    fields = list(numeric_fields(Config))
    missing = [key for key, cls, name in fields if bound_for(cls, name) is None]
    assert not missing, f"numeric keys without an entry in simulation.bounds.BOUNDS: {missing}"
    used = set()
    for _, cls, name in fields:
        used.add(f"{cls.__name__}.{name}" if f"{cls.__name__}.{name}" in BOUNDS else name)
    assert not set(BOUNDS) - used, f"BOUNDS entries that match no field: {sorted(set(BOUNDS) - used)}"


@pytest.mark.parametrize("key,cls,name", list(numeric_fields(Config)), ids=lambda x: x if isinstance(x, str) else "")
def test_hard_range_is_allowed_by_the_field_rule_and_holds_the_plausible_range(key, cls, name):
    b = bound_for(cls, name)
    lo, hi = b.plausible
    assert b.lo <= lo <= hi <= b.hi
    rule = FIELD_RULES.get(key)
    if rule is None:
        return
    sample = b.hi if not isinstance(b.hi, float) or math.isfinite(b.hi) else None
    item = (key.endswith(("weights", "impact")) or key == "service.care_weights")
    for v in ([b.lo] if not b.lo_open else []) + [sample]:
        try:
            rule(key, [v, v, v] if item else v)
        except ConfigError as err:
            pytest.fail(f"{key}: BOUNDS admits {v} but the field rule refuses it ({err})")


@pytest.mark.parametrize("override,key", [
    ("service.disciplines.0.caseload_cap=100000000000000000000", "service.disciplines[0].caseload_cap"),
    ("population.max_sessions_high=100000000000000000000", "population.max_sessions_high"),
    ("attendance.consecutive_dna_discharge=100000000000000000000", "attendance.consecutive_dna_discharge"),
    (f"{key_of('monitoring_every')[0]}=100000000000000000000", key_of("monitoring_every")[0]),
    ("outcome.min_sessions_recovery_discharge=100000000000000000000", "outcome.min_sessions_recovery_discharge"),
    ("alliance.potential_intercept=-1000", "alliance.potential_intercept"),
    ("clinicians.alliance_skill_sd=1e308", "clinicians.alliance_skill_sd"),
    ("alliance.fit_sd=1e308", "alliance.fit_sd"),
    ("outcome.response_sd=1e308", "outcome.response_sd"),
    ("outcome.noise_sd=1e308", "outcome.noise_sd"),
    ("alliance.scale_min=-1e308", "alliance.scale_min"),
    ("run.horizon_days=1e308", "run.horizon_days"),
    ("output.timeseries_interval_days=1e-300", "output.timeseries_interval_days"),
    ("service.referrals_per_week=1e308", "service.referrals_per_week"),
    ("service.clinicians=100000000000000000000", "service.clinicians"),
    ("run.replications=100000000000000000000", "run.replications"),
])
def test_numbers_without_an_upper_bound_in_issue_18_are_refused(override, key):
    with pytest.raises(ConfigError) as info:
        api.build_scenarios(TINY + [override])
    assert info.value.key == key
    assert "\n" not in str(info.value)


def _finite_run(overrides):
    res = api.run(TINY + overrides)
    s = res.tables["sessions"]
    for col in ("alliance_latent", "alliance_patient", "alliance_clinician", "severity"):
        vals = s[col].to_numpy(dtype=float)
        assert not np.isinf(vals).any(), col
    assert len(res.tables["patients"]) > 0
    return res


@pytest.mark.parametrize("sign", [-1, 1])
def test_logit_terms_at_the_corners_of_their_hard_ranges_stay_finite(sign):
    # Every term of the alliance potential at its bound, both signs: exp() must not overflow.
    _finite_run([f"alliance.potential_intercept={sign * 20}", "alliance.potential_capacity=10",
                 f"population.capacity_logit_mean={sign * 10}", "population.capacity_logit_sd=3",
                 "alliance.fit_sd=3", "alliance.component_sd=3", "clinicians.alliance_skill_sd=3",
                 "clinicians.outcome_skill_sd=3", "outcome.response_sd=5", f"outcome.alliance_effect={sign * 50}",
                 f"service.disciplines.0.alliance_shift={sign * 20}", "clinicians.style_dims=4",
                 f"dropout.intercept={sign * 20}", f"attendance.dna_intercept={-sign * 20}",
                 "population.low_intensity_severity=20"])


def test_scale_and_noise_at_their_hard_bounds_give_finite_ratings():
    _finite_run(["alliance.scale_min=-1000000", "alliance.scale_max=1000000", "outcome.noise_sd=1000000",
                 "population.measurement_sd=1000000"] + [f"{k}=0" for k in key_of("threshold")])


def test_implausible_value_warns_with_the_likely_intent_and_still_runs():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = api.load_config(["turnover.annual_rate=10"])
    assert cfg.turnover.annual_rate == 10
    msgs = [str(w.message) for w in caught if issubclass(w.category, ImplausibleValue)]
    assert any("turnover.annual_rate=10" in m and "did you mean 0.10" in m for m in msgs), msgs


def test_shipped_configurations_are_plausible():
    for overrides in (["experiment=null"], ["experiment=null", "reference=community_team"],
                      ["experiment=reassignment_policies"], ["experiment=interventions"]):
        _, scenarios = api.build_scenarios(overrides)
        for s in scenarios:
            assert implausible(s.config) == [], (overrides, s.name)


def test_memory_estimate_refuses_a_run_too_big_and_the_limit_key_admits_it():
    big = ["experiment=null", "service.referrals_per_week=100000", "run.horizon_days=100000", "run.replications=100"]
    with pytest.raises(ConfigError) as info:
        api.build_scenarios(big)
    assert info.value.key == "run.max_memory_gb" and "GB" in info.value.allowed
    api.build_scenarios(big + ["run.max_memory_gb=1000000"])  # the documented limit key lets it through


def test_estimate_matches_patients_and_bounds_session_rows():
    over = TINY + ["run.horizon_days=200", "run.replications=2"]
    _, scenarios = api.build_scenarios(over)
    est = estimate([s.config for s in scenarios], 2)
    res = api.run(over)
    n = len(res.tables["patients"])
    # referrals are Poisson: the count is within 5 SD of its mean
    assert abs(n - est.patients) < 5 * math.sqrt(est.patients)
    assert len(res.tables["sessions"]) <= est.session_rows


def test_readme_table_is_generated_from_the_bounds_table():
    from pathlib import Path

    from simulation.bounds import readme_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert readme_table() in readme, "regenerate the README table with: python -m simulation.bounds"
