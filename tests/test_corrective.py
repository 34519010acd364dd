"""Repair as a corrective experience (issue 16, item 5): rupture.corrective_propensity and
rupture.corrective_bond, on constructed dyads and in small runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from analysis.corrective import per_replication, repaired_vs_unruptured
from simulation import rng
from simulation.api import load_config, run
from simulation.entities import Clinician, Dyad, Patient
from simulation.errors import ConfigError
from simulation.rupture import NONE, REPAIRED, StandardRuptures
from tests.conftest import SMALL, make_dyad

ROOT = Path(__file__).resolve().parents[1]
ONE = SMALL + ["run.replications=1"]
CORRECTIVE = ["rupture.corrective_propensity=0.7", "rupture.corrective_bond=0.1"]


def _dyad(level: float = 0.6) -> tuple[Dyad, Clinician, Patient]:
    """The shared hand-built dyad (tests.conftest.make_dyad) with every component at ``level``."""
    d, c, p = make_dyad(level, level, level)
    d.alliance = level
    return d, c, p


def _uniforms(rupture: bool, repaired: bool = True) -> list[float]:
    """One session's uniforms: a rupture or not; if one, noticed and repaired (or noticed and not)."""
    u = [1.0] * rng.N_UNIFORM  # no rupture, no report, no late repair
    if rupture:
        u[rng.U_RUPTURE], u[rng.U_DETECT] = 0.0, 0.0
        u[rng.U_REPAIR] = 0.0 if repaired else 1.0
        u[rng.U_TYPE] = 1.0  # a confrontation: it hits the bond
    return u


def _model(propensity: float = 0.0, bond: float = 0.0) -> StandardRuptures:
    cfg = load_config([f"rupture.corrective_propensity={propensity}", f"rupture.corrective_bond={bond}"]).rupture
    return StandardRuptures(cfg, reference=0.6)


def _course(model: StandardRuptures, rupture_at: int, sessions: int = 40, seed: int = 3) -> Dyad:
    """A dyad's course: each session the components close ``growth`` of their gap to the potential
    plus noise (the session step's law; the same noise in every call), then the rupture model runs.
    A rupture (noticed and repaired) happens at session ``rupture_at`` only (-1: never)."""
    growth, noise = 0.3, 0.02
    z = np.random.default_rng(seed).normal(size=(sessions, 3))
    d, c, p = _dyad(level=0.5)
    for i in range(sessions):
        for k, name in enumerate(("goals", "tasks", "bond")):
            v = getattr(d, name)
            pot = min(1.0, getattr(d, f"potential_{name}"))
            setattr(d, name, min(1.0, max(0.0, v + growth * (pot - v) + noise * z[i, k])))
        d.alliance = (d.goals + d.tasks + d.bond) / 3
        kind, repair, _ = model.at_session(d, c, p, _uniforms(i == rupture_at), 0, False)
        assert (kind != NONE and repair == REPAIRED) if i == rupture_at else kind == NONE
        d.alliance = (d.goals + d.tasks + d.bond) / 3
    return d


def test_corrective_repair_ends_above_the_no_rupture_counterfactual():
    """The same dyad and noise with and without a repaired rupture at session 5: with the corrective
    bond on, the repaired course ends with a higher bond (by about corrective_bond, the potential's
    lift); with it off, repair only restores, and the gap closes (ends within growth's decay of 0)."""
    on, off = _model(bond=0.1), _model()
    never = _course(off, rupture_at=-1)
    assert _course(on, rupture_at=-1).bond == never.bond  # no repair: the setting changes nothing
    repaired_on = _course(on, rupture_at=5)
    repaired_off = _course(off, rupture_at=5)
    assert repaired_on.repairs == 1 and repaired_on.potential_bond == pytest.approx(0.9)
    assert repaired_on.bond - never.bond == pytest.approx(0.1, abs=0.01)
    assert abs(repaired_off.bond - never.bond) < 1e-4
    assert repaired_on.bond > repaired_off.bond


def test_only_the_first_repair_is_corrective_and_a_failed_repair_is_not():
    model = _model(propensity=0.5, bond=0.1)
    d, c, p = _dyad()
    model.at_session(d, c, p, _uniforms(True, repaired=False), 0, False)
    assert d.unresolved and d.repairs == 0 and d.potential_bond == 0.8
    model.at_session(d, c, p, _uniforms(False), 0, False)
    d2, c2, p2 = _dyad()
    model.at_session(d2, c2, p2, _uniforms(True), 0, False)
    assert d2.repairs == 1 and d2.potential_bond == pytest.approx(0.9)
    model.at_session(d2, c2, p2, _uniforms(True), 0, False)
    assert d2.repairs == 2 and d2.potential_bond == pytest.approx(0.9)  # the second repair only restores


@pytest.mark.parametrize("propensity", [0.0, 0.5])
def test_later_rupture_odds_fall_by_the_configured_odds_ratio(propensity):
    """Rupture frequency at a fixed alliance, in dyads before and after one repair (the repair made by
    the model itself), with seeded uniforms: the log odds ratio is -corrective_propensity within 4 SE
    (SE from the 2x2 table's counts)."""
    model = _model(propensity=propensity)
    n = 20_000
    draws = np.random.default_rng(11).random((2, n))
    counts = []
    for group in (0, 1):
        hits = 0
        for x in draws[group]:
            d, c, p = _dyad()
            if group:
                model.at_session(d, c, p, _uniforms(True), 0, False)  # a repaired rupture first
                assert d.repairs == 1
                d.goals = d.tasks = d.bond = d.alliance = 0.6  # back to the same alliance as group 0
            u = _uniforms(False)
            u[rng.U_RUPTURE] = float(x)
            u[rng.U_DETECT] = 1.0  # unnoticed: nothing else moves
            kind, _, _ = model.at_session(d, c, p, u, 0, False)
            hits += kind != NONE
        counts.append(hits)
    (k0, k1) = counts
    assert 0.05 * n < k0 < 0.95 * n, k0  # the base rate is informative
    log_or = math.log(k1 / (n - k1)) - math.log(k0 / (n - k0))
    se = math.sqrt(1 / k1 + 1 / (n - k1) + 1 / k0 + 1 / (n - k0))
    assert abs(log_or + propensity) < 4 * se, (log_or, propensity, se)


def test_corrective_settings_are_irrelevant_without_ruptures():
    a, b = run(ONE + ["rupture=none"]), run(ONE + ["rupture=none"] + CORRECTIVE)
    for name in ("patients", "sessions"):
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True, obj=name)


@pytest.mark.parametrize("key,value", [("rupture.corrective_propensity", "-0.5"),
                                       ("rupture.corrective_bond", "1.5")])
def test_bad_corrective_values_are_config_errors(key, value):
    with pytest.raises(ConfigError):
        load_config([f"{key}={value}"])


@pytest.mark.filterwarnings("ignore:.*outside the plausible range")
def test_corrective_repair_lifts_repaired_courses_against_unruptured_ones():
    """Same patients and sessions (common random numbers), very strong corrective repair: repaired courses end
    higher against same-length courses without rupture, and with a higher mean final alliance; paired
    t-intervals of the per-replication differences (99%) exclude zero."""
    over = ["run.replications=6", "run.horizon_days=240", "run.warmup_days=60", "run.progress=false",
            "clinicians.repair_logit_mean=1"]
    strong = ["rupture.corrective_propensity=2", "rupture.corrective_bond=0.3"]  # beyond plausible: a clear signal
    off = per_replication(*(lambda r: (r.patients, r.sessions))(run(over)))
    on = per_replication(*(lambda r: (r.patients, r.sessions))(run(over + strong)))
    assert (off["repaired_courses"] > 20).all() and (off["unruptured_courses"] > 20).all()
    for col in ("share_above_unruptured", "final_alliance_repaired"):
        d = on[col].to_numpy() - off[col].to_numpy()
        half = stats.t.ppf(0.995, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        assert d.mean() - half > 0, (col, d)
    table = repaired_vs_unruptured(*(lambda r: (r.patients, r.sessions))(run(over + strong)))
    assert table["share_above_unruptured"].iloc[0] == pytest.approx(on["share_above_unruptured"].mean())


def test_teaching_experiment_has_the_corrective_scenario():
    exp = yaml.safe_load((ROOT / "experiments" / "repair_and_dropout.yaml").read_text())
    sc = exp["scenarios"]
    assert "rupture.corrective_propensity" not in " ".join(sc["repair_training"])
    assert set(sc["repair_training"]) < set(sc["repair_training_corrective"])
    assert any(o.startswith("rupture.corrective_") for o in sc["repair_training_corrective"])


def test_same_length_share_counts_wins_and_half_ties():
    from analysis.corrective import pair_wins
    assert pair_wins(np.array([0.5, 0.7]), np.array([0.6, 0.5])) == 2.5  # 0.5: tie + loss; 0.7: two wins
    assert pair_wins(np.array([0.1]), np.array([0.2, 0.3])) == 0.0
