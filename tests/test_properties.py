"""Property-based tests: random valid configurations keep the model's invariants;
random invalid ones raise ConfigError and nothing else.

Valid configurations draw many keys at once from sensible ranges (service size and
load, caps, disciplines and team models, DNA, dropout, rupture, outcome, allocation
policy) on tiny horizons, so each example simulates in well under a second; the number
of examples is limited so the file runs in well under a minute.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation.api import load_config
from simulation.config import Config, DisciplineConfig
from simulation.entities import EXIT_REASONS
from simulation.errors import ConfigError
from simulation.policies import ALLOCATION, REALLOCATION
from simulation.runner import run_chunk
from simulation.validate import FIELD_RULES, validate

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
MORE = settings(FAST, max_examples=50)
FEWER = settings(FAST, max_examples=15)  # each example composes with Hydra (~0.3 s)
prob = st.floats(0.0, 1.0)
logit = st.floats(-4.0, 4.0)


def _replace(obj, **changes):
    return dataclasses.replace(obj, **changes)


@st.composite
def valid_configs(draw) -> Config:
    cfg = Config()
    horizon = draw(st.floats(20.0, 150.0))
    run = _replace(cfg.run, seed=draw(st.integers(0, 2**32 - 1)), horizon_days=horizon,
                   warmup_days=draw(st.floats(0.0, horizon * 0.9)), replications=1, progress=False)
    output = _replace(cfg.output, timeseries_interval_days=draw(st.floats(0.5, 14.0)))
    team = draw(st.booleans())
    cap = draw(st.integers(1, 25))
    therapist = DisciplineConfig(name="therapist", count=draw(st.integers(1, 8)), caseload_cap=cap,
                                 comfortable_caseload=draw(st.integers(1, cap)),
                                 session_interval_days=draw(st.floats(1.0, 14.0)),
                                 treatment_effect=draw(st.floats(0.0, 2.0)))
    if draw(st.booleans()):
        therapist = _replace(therapist, session_interval_max_days=therapist.session_interval_days
                             + draw(st.floats(0.0, 7.0)))
    disciplines, care, weights = [therapist], ["therapist"], [1.0]
    if team:
        pcap = draw(st.integers(1, 60))
        disciplines.append(DisciplineConfig(name="psychiatrist", count=draw(st.integers(1, 3)), caseload_cap=pcap,
                                            comfortable_caseload=draw(st.integers(1, pcap)),
                                            session_interval_days=draw(st.floats(7.0, 84.0)),
                                            treatment_effect=draw(st.floats(0.0, 1.0))))
        w = draw(st.floats(0.05, 0.95))
        care, weights = ["therapist", "psychiatrist"], [w, 1.0 - w]
    teams = draw(st.integers(1, min(d.count for d in disciplines)))
    service = _replace(cfg.service, clinicians=None, disciplines=disciplines, care_model=care, care_weights=weights,
                       teams=teams, referrals_per_week=draw(st.floats(0.0, 30.0)),
                       first_appointment_delay_days=draw(st.floats(0.0, 14.0)),
                       renege_per_week=draw(st.floats(0.0, 1.0)),
                       max_days_in_care=draw(st.none() | st.floats(10.0, 200.0)))
    low, high = sorted(draw(st.tuples(st.integers(1, 30), st.integers(1, 30))))
    population = _replace(cfg.population, low_intensity_share=draw(prob), max_sessions_low=low, max_sessions_high=high,
                          severity_mean=draw(st.floats(10.0, 27.0)), severity_sd=draw(st.floats(0.0, 8.0)),
                          capacity_logit_sd=draw(st.floats(0.0, 2.0)), engagement_logit_mean=draw(logit))
    w3 = np.array(draw(st.tuples(*[st.floats(0.05, 1.0)] * 3)))
    alliance = _replace(cfg.alliance, weights=list(w3 / w3.sum()), growth_rate=draw(prob),
                        initial_share=draw(prob), noise_sd=draw(st.floats(0.0, 0.3)),
                        potential_intercept=draw(logit), transfer_share=draw(prob))
    attendance = _replace(cfg.attendance, dna_intercept=draw(st.floats(-6.0, 3.0)),
                          consecutive_dna_discharge=draw(st.integers(1, 4)))
    dropout = _replace(cfg.dropout, intercept=draw(st.floats(-8.0, 2.0)), early_boost=draw(st.floats(0.0, 4.0)),
                       alliance=draw(st.floats(0.0, 8.0)), transition_policy=draw(prob),
                       transition_patient_request=draw(prob), transition_turnover=draw(prob))
    outcome = _replace(cfg.outcome, response_rate=draw(st.floats(0.0, 0.5)), sudden_gain_prob=draw(prob),
                       noise_sd=draw(st.floats(0.0, 3.0)), min_sessions_recovery_discharge=draw(st.integers(0, 5)))
    smin = draw(st.floats(0.0, 0.5))
    rupture = _replace(cfg.rupture, model=draw(st.sampled_from(["standard", "none"])), intercept=draw(logit),
                       withdrawal_share=draw(prob), severity_min=smin, severity_max=draw(st.floats(smin, 1.0)),
                       erosion=draw(st.floats(0.0, 0.2)), repair_gain=draw(st.floats(0.0, 0.2)))
    intervention = _replace(cfg.intervention, training_share=draw(prob), monitoring_every=draw(st.integers(0, 4)))
    policy = _replace(cfg.policy, allocation=draw(st.sampled_from(sorted(ALLOCATION))),
                      matching_accuracy=draw(prob), handover=draw(st.booleans()),
                      handover_risk_ratio=draw(prob), handover_transfer_share=draw(prob),
                      reassignment_allocation=draw(st.sampled_from(sorted(REALLOCATION))))
    return Config(run=run, output=output, service=service, population=population, clinicians=cfg.clinicians,
                  alliance=alliance, attendance=attendance, dropout=dropout, outcome=outcome, rupture=rupture,
                  intervention=intervention, policy=policy, turnover=cfg.turnover)


def _list_intervals(p, end):
    start = p["referral_day"].to_numpy()
    stop = np.where(p["queue_days"].notna(), start + p["queue_days"].fillna(0).to_numpy(),
                    np.where(p["exit_reason"] == "left_waiting_list", p["exit_day"].to_numpy(), end))
    return start, stop


@MORE
@given(valid_configs())
def test_random_valid_configs_keep_the_invariants(cfg):
    validate(cfg)  # the generator draws only valid configurations
    t = run_chunk(cfg, "prop", 0)
    end = cfg.run.warmup_days + cfg.run.horizon_days
    p, s, c, ts = t["patients"], t["sessions"], t["clinicians"], t["timeseries"]

    # Conservation: every referred patient once, with exactly one exit reason (or censored).
    assert p["patient_id"].is_unique and (p["patient_id"].to_numpy() == np.arange(len(p))).all()
    assert p["exit_reason"].notna().all() and set(p["exit_reason"].astype(str)) <= set(EXIT_REASONS)
    censored = p["exit_reason"] == "censored"
    assert (p.loc[censored, "exit_day"] == end).all()
    assert (p.loc[~censored, "exit_day"] <= end).all() and (p["exit_day"] >= p["referral_day"]).all()
    started = p["first_session_day"].notna()
    assert (p.loc[started, "first_session_day"] >= p.loc[started, "referral_day"]).all()
    assert (p["queue_days"].dropna() >= 0).all()
    assert (p.loc[p["exit_reason"] == "left_waiting_list", "first_session_day"].isna()).all()

    # Alliance and ratings stay on their scales.
    for col in ("goals", "tasks", "bond", "alliance_latent"):
        assert s[col].between(0.0, 1.0).all(), col
    att = s[s["attended"]]
    lo, hi = cfg.alliance.scale_min, cfg.alliance.scale_max
    assert att["alliance_patient"].between(lo, hi).all() and att["alliance_clinician"].between(lo, hi).all()

    # Caseloads never exceed caps.
    assert (c["max_caseload"] <= c["caseload_cap"]).all()

    # Times are monotone: the log is in simulation order; each dyad's sessions strictly later.
    assert (np.diff(s["day"].to_numpy()) >= 0).all()
    assert s["day"].between(0, end).all()
    for _, g in s.groupby("dyad_id"):
        assert (np.diff(g["day"].to_numpy()) > 0).all()
        assert (g["session_index"].to_numpy() == np.arange(len(g))).all()

    # Sessions attended <= the course length (per primary-discipline dyad), and counts match the log.
    primary = set(c.loc[c["discipline"] == cfg.service.care_model[0], "clinician_id"])
    per_dyad = att[att["clinician_id"].isin(primary)].groupby(["patient_id", "dyad_id"]).size()
    if len(per_dyad):
        cap = p.set_index("patient_id")["max_sessions"].reindex(per_dyad.index.get_level_values(0)).to_numpy()
        assert (per_dyad.to_numpy() <= cap).all()
    idx = p.set_index("patient_id")
    assert (idx["sessions_attended"] == att.groupby("patient_id").size().reindex(idx.index, fill_value=0)).all()
    assert (idx["dnas"] == s[~s["attended"]].groupby("patient_id").size().reindex(idx.index, fill_value=0)).all()

    # The live waiting-list counter equals the patient records at every sample (Little's law bookkeeping).
    start, stop = _list_intervals(p, end)
    days = ts["day"].to_numpy()
    counted = ((start[None, :] <= days[:, None]) & (stop[None, :] > days[:, None])).sum(axis=1)
    np.testing.assert_array_equal(ts["waiting"].to_numpy(), counted)
    assert (ts["in_treatment"] >= 0).all()

    k = t["kpis"]
    assert len(k) == 1, "one KPI row per scenario x replication"
    from simulation.kpis import is_kpi, kpi_info

    for col in [c for c in k.columns if is_kpi(c)]:  # every share (per-discipline utilisation too) in [0, 1]
        v = float(k[col].iloc[0])
        if kpi_info(col).is_proportion:
            assert math.isnan(v) or 0.0 <= v <= 1.0, col
        else:
            assert math.isnan(v) or v >= 0.0, col
    for d, cap in c.groupby("discipline")["caseload_cap"].max().items():  # per-discipline caseload within its cap
        v = float(k[f"mean_caseload_{d}"].iloc[0])
        assert math.isnan(v) or v <= cap, d


# --------------------------------------------------------------------------- invalid input
def _junk_for(hint) -> list:
    """Values no field of this annotation may hold (wrong type, non-finite, missing)."""
    import typing

    optional = typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint)
    base = next((a for a in typing.get_args(hint) if a is not type(None)), hint) if optional else hint
    junk = [] if optional else [None]
    if base is float:
        junk += [math.nan, math.inf, -math.inf, "x", True, [1.0]]
    elif base is int:
        junk += [1.5, math.nan, "x", True, [1]]
    elif base is bool:
        junk += ["x", 1, 0.5]
    elif base is str:
        junk += [3, True, [1.0], ""] if not optional else [3, True, [1.0]]
    elif typing.get_origin(base) is list:
        junk += ["x", 3, [math.nan], [None]]
    return junk


@st.composite
def invalid_configs(draw):
    """A default config with one field replaced by a value of the wrong type or a non-finite number."""
    import typing

    cfg = Config()
    group = draw(st.sampled_from([f.name for f in dataclasses.fields(Config) if f.name != "experiment"]))
    sub = getattr(cfg, group)
    hints = typing.get_type_hints(type(sub))
    field = draw(st.sampled_from([f.name for f in dataclasses.fields(sub)]))
    junk = [v for v in _junk_for(hints[field]) if not (v == "" and field in ("address", "dir"))]
    value = draw(st.sampled_from(junk))
    return _replace(cfg, **{group: _replace(sub, **{field: value})}), f"{group}.{field}", value


@FAST
@given(invalid_configs())
def test_random_invalid_values_raise_config_error_only(case):
    cfg, key, value = case
    try:
        validate(cfg)
    except ConfigError as err:
        assert err.key.split("[")[0] == key, (err.key, key)
        return
    raise AssertionError(f"accepted {key}={value!r}")


OVERRIDE_VALUES = st.sampled_from(["abc", "-1", "-0.5", "1e400", "nan", "inf", "[1,2]", "{a:1}", "", "null", "true",
                                   "0", "1.5", "2", "'x y'", "${nope}", "a,b", "[", "7days"])
KEYS = [k for k in FIELD_RULES if "[]" not in k]


@FEWER
@given(st.lists(st.tuples(st.sampled_from(KEYS + ["nokey", "service.nokey", "servic", "run"]), OVERRIDE_VALUES),
                min_size=1, max_size=3))
def test_random_overrides_give_a_config_or_config_error(pairs):
    """Whatever a user types, composing either yields a valid config or raises ConfigError."""
    overrides = [f"{k}={v}" for k, v in pairs]
    try:
        cfg = load_config(overrides)
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    validate(cfg)
