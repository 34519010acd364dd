"""A change of clinician that can help or harm (issue 13): transition risks by cause, handover,
re-matching with the failed dyad's ratings, the sensitivity analysis and patient preference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.move_sensitivity import break_even, conclusion
from analysis.stats import paired_diff_ci
from simulation.api import load_config, run
from simulation.errors import ConfigError
from simulation.experiment import load_experiment
from simulation.policies import revealed_fit

NO_RISK = ["dropout.transition_policy=0", "dropout.transition_patient_request=0", "dropout.transition_turnover=0"]
# Reference B at 30% turnover, short: enough moves for paired comparisons of dropout.
B_MOVES = ["experiment=null", "reference=community_team", "run.replications=8", "run.horizon_days=730",
           "run.warmup_days=365", "turnover.annual_rate=0.3", "output.sessions=false", "run.progress=false"]


def test_old_transition_key_names_the_three_new_ones():
    """The single `dropout.transition` stops with one line naming the per-cause keys."""
    with pytest.raises(ConfigError) as err:
        load_config(["dropout.transition=0.1"])
    text = str(err.value)
    assert "dropout.transition_policy" in text and "dropout.transition_turnover" in text
    assert "dropout.transition_patient_request" in text and "one transition risk per cause" in text


def test_new_keys_are_checked():
    """Out-of-range risks and unknown re-matching rules stop with the key named."""
    with pytest.raises(ConfigError) as err:
        load_config(["policy.handover_risk_ratio=1.5"])
    assert err.value.key == "policy.handover_risk_ratio"
    with pytest.raises(ConfigError) as err:
        load_config(["policy.reassignment_allocation=best"])
    assert err.value.key == "policy.reassignment_allocation"


def test_revealed_fit_points_away_from_the_failed_style():
    """After a low rating with one clinician, a colleague of opposite style is expected to fit better,
    one of the same style worse; a rating at the average reveals nothing."""
    old = (1.0, 0.5)
    assert revealed_fit(old, -2.0, (-1.0, -0.5)) > 0 > revealed_fit(old, -2.0, (1.0, 0.5))
    assert revealed_fit(old, 0.0, (-1.0, 0.3)) == 0.0
    assert revealed_fit(old, 2.0, (1.0, 0.5)) > 0  # a good fit predicts a good fit with a similar style


def test_break_even_is_where_the_line_crosses_zero():
    """The break-even of a linear effect is its root, flagged inside or extrapolated."""
    xs = [0.0, 0.1, 0.3]
    table = pd.DataFrame({"scenario": "p", "parameter": "dropout.transition_policy", "value": xs,
                          "kpi": "dropout_rate", "diff": [0.5 * (x - 0.04) for x in xs],
                          "diff_ci_low": np.nan, "diff_ci_high": np.nan})
    be = break_even(table)
    assert be["break_even"].iloc[0] == pytest.approx(0.04)
    assert bool(be["inside"].iloc[0])
    moved = table.assign(diff=[0.5 * (x - 0.5) for x in xs])
    assert not bool(break_even(moved)["inside"].iloc[0])


def test_conclusion_names_where_a_policy_helps_and_harms():
    """The plain-words conclusion lists the values whose interval excludes zero, on the right side."""
    table = pd.DataFrame({"scenario": "p", "parameter": "k", "value": [0.0, 0.1, 0.3], "kpi": "dropout_rate",
                          "diff": [-0.03, 0.0, 0.04], "diff_ci_low": [-0.05, -0.02, 0.01],
                          "diff_ci_high": [-0.01, 0.02, 0.07]})
    (text,) = conclusion(table)
    assert "lowers dropout (helps) at k = 0." in text and "raises dropout (harms) at k = 0.3." in text


def test_sensitivity_expansion_reuses_central_and_unaffected_scenarios():
    """Every policy x parameter x value is a point; central values and policies a key cannot
    change reuse the reference scenario, so only the needed scenarios run."""
    exp = load_experiment("reassignment_policies")
    spec = exp.extra["sensitivity"]
    pts = pd.DataFrame(exp.extra["sensitivity_points"])
    n_policies = len(spec["scenarios"]) - 1
    assert len(pts) == n_policies * sum(len(p["values"]) for p in spec["parameters"])
    for p in spec["parameters"]:
        central = pts[(pts["parameter"] == p["key"]) & (pts["value"] == p["central"])]
        assert set(central["scenario"]) <= set(spec["scenarios"].values())
    tp = pts[pts["parameter"] == "dropout.transition_policy"]
    assert set(tp["reference"]) == {"continuity_high_turnover"}  # continuity makes no policy moves
    assert set(tp[tp["policy"] == "patient_request"]["scenario"]) == {"patient_request_high_turnover"}
    made = [s for s in exp.scenarios if s.startswith("sens_")]
    assert set(made) == set(pts["scenario"]) - set(spec["scenarios"].values()) | (
        set(pts["reference"]) - set(spec["scenarios"].values()))
    for name in made:
        assert any(o.startswith(("dropout.", "alliance.")) for o in exp.scenarios[name])


def _paired(a: pd.DataFrame, b: pd.DataFrame, kpi: str):
    return paired_diff_ci(b[kpi].to_numpy(), a[kpi].to_numpy())


@pytest.fixture(scope="module")
def threshold_runs():
    """Continuity and alliance_threshold on reference B with a wide spread of fit, at no transition
    risk and at the top of the policy-move risk's range (same seed: common random numbers)."""
    out = {}
    for name, extra in {"free": NO_RISK + ["alliance.fit_sd=1.2", "run.replications=16"],
                        "top": ["dropout.transition_policy=0.3", "alliance.fit_sd=0.8"]}.items():
        cont = run(B_MOVES + extra + ["policy=continuity"]).tables
        thr = run(B_MOVES + extra + ["policy=alliance_threshold"]).tables
        out[name] = (cont, thr)
    return out


def test_threshold_policy_lowers_dropout_when_moves_are_free(threshold_runs):
    """With no transition risk and a wide spread of fit, moving failing relationships lowers dropout."""
    cont, thr = threshold_runs["free"]
    d, lo, hi = _paired(cont["kpis"], thr["kpis"], "dropout_rate")
    assert hi < 0, (d, lo, hi)


def test_threshold_policy_raises_dropout_at_the_top_of_the_risk_range(threshold_runs):
    """At a 30% one-off dropout risk per policy move the same policy raises dropout."""
    cont, thr = threshold_runs["top"]
    d, lo, hi = _paired(cont["kpis"], thr["kpis"], "dropout_rate")
    assert lo > 0, (d, lo, hi)


def _transition_dropout_share(tables) -> tuple[int, int]:
    """(moves that ended in dropout on the day of the move, moves) among policy moves."""
    moves = tables["reassignments"]
    moves = moves[moves["cause"] == "policy"]
    p = tables["patients"].set_index(["scenario", "replication", "patient_id"])
    idx = list(zip(moves["scenario"], moves["replication"], moves["patient_id"]))
    exits = p.loc[idx]
    dropped = (exits["exit_reason"].to_numpy() == "dropout") & (exits["exit_day"].to_numpy() == moves["day"].to_numpy())
    return int(dropped.sum()), len(moves)


def test_handover_lowers_transition_dropout():
    """A handover session halves the one-off risk: fewer moves end in dropout, and every move is
    recorded as having one (for costing). Two proportions, compared with their sampling error."""
    base = ["experiment=null", "run.replications=2", "run.horizon_days=365", "run.warmup_days=60",
            "policy=alliance_threshold", "dropout.transition_policy=0.3", "output.sessions=false",
            "run.progress=false"]
    without = run(base).tables
    with_h = run(base + ["policy.handover=true"]).tables
    assert not without["reassignments"]["handover"].any() and with_h["reassignments"]["handover"].all()
    k0, n0 = _transition_dropout_share(without)
    k1, n1 = _transition_dropout_share(with_h)
    p0, p1 = k0 / n0, k1 / n1
    se = np.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    assert n0 > 100 and n1 > 100
    assert p0 == pytest.approx(0.3, abs=3 * np.sqrt(0.21 / n0))
    assert p1 < p0 - 2 * se, (p0, p1, se)


def test_rematching_with_the_failed_dyads_ratings_beats_least_loaded():
    """Moved patients' new dyads reach a higher latent alliance when the new clinician is chosen
    with the failed dyad's ratings than by least load (same patients, same seed)."""
    base = ["experiment=null", "run.replications=3", "run.horizon_days=365", "run.warmup_days=60",
            "policy=alliance_threshold", "alliance.fit_sd=1.0", "policy.matching_accuracy=0", "run.progress=false",
            "service.clinicians=14"] + NO_RISK

    def new_dyads(extra):
        t = run(base + extra).tables
        s = t["sessions"]
        s = s[s["attended"]]
        first = s.groupby(["replication", "patient_id"])["dyad_id"].transform("min")
        later = s[s["dyad_id"] != first]
        return later.groupby(["replication", "dyad_id"])["alliance_latent"].mean()

    ll = new_dyads(["policy.reassignment_allocation=least_loaded"])
    mt = new_dyads(["policy.reassignment_allocation=matched"])
    assert len(ll) > 100 and len(mt) > 100
    se = np.sqrt(ll.var() / len(ll) + mt.var() / len(mt))
    assert mt.mean() - ll.mean() > 2 * se, (mt.mean(), ll.mean(), se)


def test_preference_accommodation_lowers_dropout():
    """Accommodating patients' approach preferences lowers dropout (Swift et al. 2018's direction):
    paired over replications, and the emulated comparison's odds ratio is below 1."""
    from analysis.targets_preference import dropout_odds_ratio

    # Reference A with slack (22 referrals a week, not its calibrated 31): an allocation rule can only
    # honour a preference among clinicians with a free slot, and at full caseloads there is rarely a choice.
    base = ["experiment=null", "run.replications=6", "run.horizon_days=365", "run.warmup_days=90",
            "service.referrals_per_week=22", "population.preference_share=0.6", "output.sessions=false",
            "run.progress=false"]
    blind = run(base + ["policy.preference_accuracy=0"]).tables
    kept = run(base + ["policy.preference_accuracy=1"]).tables
    met = lambda t: (t["patients"]["preference_met"] == 1).sum() / (t["patients"]["preference_met"] >= 0).sum()
    assert met(kept) > met(blind) + 0.2  # accommodation changes who gets their preferred approach
    d, lo, hi = _paired(blind["kpis"], kept["kpis"], "dropout_rate")
    assert hi < 0, (d, lo, hi)
    assert dropout_odds_ratio(blind) < 1.0


def test_preferences_off_draw_nothing():
    """With no preferences every patient's preference_met is -1 and the preference shift is inert."""
    base = ["experiment=null", "run.replications=1", "run.horizon_days=120", "run.warmup_days=30",
            "output.sessions=false", "run.progress=false"]
    a = run(base).tables
    b = run(base + ["alliance.preference_shift=3.0", "policy.preference_accuracy=1"]).tables
    assert (a["patients"]["preference_met"] == -1).all()
    pd.testing.assert_frame_equal(a["kpis"], b["kpis"])
