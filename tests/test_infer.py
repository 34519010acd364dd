"""Calibration as inference: compose once and vary, a tiny ABC fit, posterior draws per replication, sensitivity."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from simulation.api import prepare, run, run_config, with_values
from simulation.errors import ConfigError

TINY = ["run.horizon_days=120", "run.warmup_days=30", "run.progress=false"]
VALUES = {"rupture.intercept": -1.1, "dropout.early_boost": 2.7, "clinicians.outcome_skill_sd": 0.3}


def _frames_equal(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name].reset_index(drop=True), b[name].reset_index(drop=True),
                                      check_exact=True)


def test_with_values_gives_the_tables_of_composing_the_same_overrides():
    base = prepare(TINY)
    varied = with_values(base, VALUES)
    assert base.rupture.intercept != -1.1  # the original is untouched
    composed = run([*TINY, "run.replications=2", *(f"{k}={v}" for k, v in VALUES.items())])
    fast = run_config(varied, 2)
    names = [n for n in composed.tables if n != "summary"]
    _frames_equal({n: composed.tables[n] for n in names}, {n: fast[n] for n in names})
    assert not fast["patients"].equals(run_config(base, 2)["patients"])  # the values did change something


def test_with_values_rejects_unknown_keys_and_invalid_values():
    base = prepare(TINY)
    with pytest.raises(ConfigError) as err:
        with_values(base, {"rupture.no_such_key": 1.0})
    assert err.value.key == "rupture.no_such_key"
    with pytest.raises(ConfigError) as err:
        with_values(base, {"rupture.report_prob": 1.5})  # the validation runs again
    assert err.value.key == "rupture.report_prob"
    assert with_values(base, {"service.disciplines.0.count": 7.0}).service.disciplines[0].count == 7


# --------------------------------------------------------------------------- posterior draws
@pytest.fixture(scope="module")
def posterior_file(tmp_path_factory):
    """Three distinct, far-apart draws of two parameters."""
    path = tmp_path_factory.mktemp("post") / "posterior.parquet"
    pd.DataFrame({"draw": [0, 1, 2], "dropout.intercept": [-6.8, -4.0, -5.5],
                  "rupture.intercept": [-2.0, -0.8, -1.5]}).to_parquet(path, index=False)
    return path


def test_posterior_replication_r_uses_draw_r_in_every_scenario(tmp_path, posterior_file):
    exp = tmp_path / "two.yaml"
    exp.write_text("description: two scenarios\nbaseline: usual\nscenarios:\n  usual: []\n"
                   "  trained: [intervention.training_share=1.0]\n")
    over = [*TINY, f"experiment={exp}", "run.replications=3", "run.parameters=posterior",
            f"run.posterior={posterior_file}"]
    res = run(over, out_dir=tmp_path / "run")
    draws = pd.read_parquet(posterior_file)
    for s in res.scenarios:
        point = dataclasses.replace(s.config, run=dataclasses.replace(s.config.run, parameters="point"))
        for r in range(3):
            values = {k: float(draws.loc[r, k]) for k in ("dropout.intercept", "rupture.intercept")}
            expected = run_config(point, [r], scenario=s.name, values=values)["patients"]
            got = res.patients[(res.patients["scenario"] == s.name) & (res.patients["replication"] == r)]
            pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    # The draws differ a lot, so replication 1 (dropout intercept -4) has far more dropout than 0 (-6.8).
    k = res.kpis[res.kpis["scenario"] == "usual"].set_index("replication")
    assert k.loc[1, "dropout_rate"] > k.loc[0, "dropout_rate"]
    params = res.manifest["parameters"]
    assert params["mode"] == "posterior" and len(params["sha256"]) == 64 and params["draws"] == 3
    from analysis.report import parameters_sentence

    assert "posterior draws" in parameters_sentence(params) and params["sha256"][:12] in parameters_sentence(params)


def test_posterior_with_workers_matches_serial(tmp_path, posterior_file):
    over = [*TINY, "run.replications=2", "run.parameters=posterior", f"run.posterior={posterior_file}"]
    serial = run(over)
    parallel = run([*over, "run.workers=2"])
    pd.testing.assert_frame_equal(serial.patients, parallel.patients)


def test_point_is_the_default_and_too_many_replications_is_one_clear_error(tmp_path, posterior_file):
    res = run([*TINY, "run.replications=1"], out_dir=tmp_path / "p")
    assert res.manifest["parameters"] == {"mode": "point"}
    from analysis.report import parameters_sentence

    assert "point values" in parameters_sentence(res.manifest["parameters"])
    with pytest.raises(ConfigError) as err:
        run([*TINY, "run.replications=4", "run.parameters=posterior", f"run.posterior={posterior_file}"])
    assert err.value.key == "run.replications"


# --------------------------------------------------------------------------- ABC and sensitivity
def _tiny_priors(tmp_path):
    path = tmp_path / "priors.yaml"
    path.write_text(
        "reference: talking_therapy\noverrides: [reference=talking_therapy]\n"
        "fit: {horizon_days: 90, warmup_days: 30, replications: 1}\n"
        "parameters:\n"
        "  rupture.intercept: {low: -2.0, high: -1.0, reason: test}\n"
        "  dropout.intercept: {low: -7.0, high: -5.5, reason: test}\n"
        "  outcome.response_rate: {low: 0.015, high: 0.025, reason: test}\n")
    return path


def test_tiny_abc_fit_writes_a_posterior_inside_the_prior_bounds(tmp_path):
    pytest.importorskip("pyabc")
    from analysis.infer import fit, load_priors

    priors_path = _tiny_priors(tmp_path)
    post_path = tmp_path / "posterior.parquet"
    # The logit proposal fits on an unbounded scale: the posterior must come back inside the prior box.
    meta = fit("talking_therapy", particles=10, generations=2, min_eps=0.0, workers=1, out_dir=tmp_path / "out",
               posterior_path=post_path, draws=12, priors_path=priors_path, predictive=2, quiet=True,
               only_targets=["3", "6", "7", "10a"], transition="logit", kernel_scaling=2.0)  # cheap targets
    post = pd.read_parquet(post_path)
    priors = load_priors("talking_therapy", priors_path)
    assert list(post.columns) == ["draw", *priors.names]
    assert len(post) == 12 and meta["generations_run"] == 2
    for p in priors.parameters:
        assert post[p.name].between(p.low, p.high).all(), p.name
    assert post[priors.names].min().min() < 0  # original scale: both intercepts are negative, logits of (0,1) are not all
    assert (tmp_path / "out" / "report.md").exists() and (tmp_path / "out" / "posterior_pairs.png").exists()
    saved = json.loads(post_path.with_suffix(".json").read_text())
    assert saved["transition"] == "logit" and "logit" in saved["transition_detail"] and saved["kernel_scaling"] == 2.0
    # Kish's ESS per generation: generation 0 has equal weights, so exactly the population size.
    assert len(saved["ess"]) == 2 and saved["ess"][0] == pytest.approx(10.0)
    assert 1.0 <= saved["ess"][1] <= 10.0 + 1e-9
    assert 1 <= saved["distinct_in_draws"] <= 10
    report = (tmp_path / "out" / "report.md").read_text()
    assert "--transition logit" in report and "Effective sample size per generation" in report
    assert (tmp_path / "out" / "transition.txt").read_text().split() == ["logit", "2.0"]
    # --finish reads the stored proposal (its history holds logit values), whatever --transition says now.
    again = tmp_path / "again.parquet"
    meta2 = fit("talking_therapy", workers=1, out_dir=tmp_path / "out", posterior_path=again, draws=12,
                priors_path=priors_path, quiet=True, only_targets=["3", "6", "7", "10a"], transition="mvn",
                finish_only=True, report=False)
    pd.testing.assert_frame_equal(pd.read_parquet(again), post)
    assert (meta2["transition"], meta2["kernel_scaling"]) == ("logit", 2.0)


def test_defensive_proposal_is_the_prior_mixed_with_the_kernel():
    """Its density is share/volume + (1 - share) x MVN kernel, so prior/proposal never exceeds 1/share."""
    pytest.importorskip("pyabc")
    import pyabc

    from analysis.infer import DEFENSIVE_PRIOR_SHARE, DefensiveTransition

    gen = np.random.default_rng(3)
    # Columns in another order than the bounds were given: pyabc sorts parameters by name.
    X = pd.DataFrame({"a": gen.uniform(0.4, 0.5, 30), "b": gen.uniform(2.0, 2.2, 30)})
    w = np.full(30, 1 / 30)
    low, high = {"b": 1.0, "a": 0.0}, {"b": 5.0, "a": 1.0}  # box volume 4
    d = DefensiveTransition(low=low, high=high, scaling=1.0)
    d.fit(X, w)
    k = pyabc.MultivariateNormalTransition()
    k.fit(X, w)
    pts = pd.DataFrame({"b": [2.1, 4.9, 1.1, 2.1], "a": [0.45, 0.99, 0.01, 1.5]})  # last one outside the box
    expected = DEFENSIVE_PRIOR_SHARE * np.array([0.25, 0.25, 0.25, 0.0]) + (1 - DEFENSIVE_PRIOR_SHARE) * k.pdf(pts)
    np.testing.assert_allclose(d.pdf(pts), expected, rtol=1e-12)
    assert d.pdf(pts.iloc[1]) == pytest.approx(expected[1])
    assert np.all((0.25 / d.pdf(pts.iloc[:3])) <= 1 / DEFENSIVE_PRIOR_SHARE + 1e-12)  # the weight bound
    # Draws: about `share` of them come from the box (the kernel's sit near a=0.45, b=2.1).
    np.random.seed(5)
    draws = d.rvs(2000)
    assert draws["a"].between(0, 1).all() and draws["b"].between(1, 5).all()  # each bound on its own column
    far = ((draws["a"] - 0.45).abs() > 0.25) | ((draws["b"] - 2.1).abs() > 0.6)  # the kernel's sd is < 0.04
    p_far = 1 - 0.5 * (1.2 / 4)  # a box draw lands far with probability 1 - P(a near) P(b near) = 0.85
    share_from_box = far.mean() / p_far
    p = DEFENSIVE_PRIOR_SHARE * p_far
    sd = np.sqrt(p * (1 - p) / 2000) / p_far
    assert abs(share_from_box - DEFENSIVE_PRIOR_SHARE) < 4 * sd


def test_a_bad_transition_is_one_clear_line_and_exit_2(capsys):
    from analysis.infer import TRANSITIONS, main

    code = main(["reference=talking_therapy", "--transition", "gaussian"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "--transition='gaussian'" in err and all(t in err for t in TRANSITIONS)
    code = main(["reference=talking_therapy", "--kernel-scaling", "-1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--kernel-scaling=-1.0" in err


def test_fit_distance_is_zero_at_range_centres_and_one_on_the_edges():
    from analysis.infer import fitted_targets, rms_distance, target_key

    targets = fitted_targets("talking_therapy")
    centre = {target_key(t): (t.low + t.high) / 2 for t in targets}
    edge = {target_key(t): t.high for t in targets}
    assert rms_distance(centre, targets) == pytest.approx(0.0)
    assert rms_distance(edge, targets) == pytest.approx(1.0)
    assert rms_distance({}, targets) == pytest.approx(3.0)


def test_sensitivity_command_writes_its_csv_and_figure(tmp_path):
    pytest.importorskip("SALib")
    from analysis.__main__ import main

    out = tmp_path / "sens"
    code = main(["sensitivity", "default", "kpi=dropout_rate", "--trajectories", "2", "--horizon-days", "60",
                 "--warmup-days", "30",
                 "--workers", "1", "--out", str(out)])
    assert code == 0
    df = pd.read_csv(out / "sensitivity_indices.csv")
    assert {"parameter", "kpi", "mu_star", "mu_star_conf", "sigma"} <= set(df.columns)
    assert df["kpi"].unique().tolist() == ["dropout_rate"]
    assert np.isfinite(df["mu_star"]).all() and (out / "sensitivity.png").stat().st_size > 0
    # Moving the dropout intercept over its prior range must move dropout more than a rating error does.
    mu = df.set_index("parameter")["mu_star"]
    assert mu["dropout.intercept"] > mu["alliance.patient_error_sd"]


@pytest.mark.parametrize("reference", ["talking_therapy", "community_team"])
def test_priors_name_real_keys_and_contain_the_configured_values(reference):
    from analysis.infer import load_priors, prepare_fit

    priors = load_priors(reference)
    cfg = prepare_fit(priors)
    for p in priors.parameters:
        value = cfg
        for part in p.name.split("."):  # a renamed or moved key fails here, naming the prior
            value = getattr(value, part)
        assert p.low <= value <= p.high, (p.name, value)
        assert p.reason, p.name
    with_values(cfg, {p.name: p.low for p in priors.parameters})  # every corner value is valid
    with_values(cfg, {p.name: p.high for p in priors.parameters})


def test_every_registered_target_pickles_for_the_process_pools():
    """The fit's posterior predictive and parallel calibration send targets to worker processes."""
    import pickle

    import analysis.calibration  # noqa: F401  (registers every target)
    from analysis.targets import TARGETS

    for name, target in TARGETS.items():
        back = pickle.loads(pickle.dumps(target))  # fails on an estimator defined inside a function
        assert back.number == target.number
