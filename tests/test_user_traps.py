"""What a user reads: one name per number, the printed summary, per-discipline caseloads, intervals inside
their bounds, plain figures and report sentences (issue 12, items 5 and 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation.api import run
from simulation.errors import ConfigError
from simulation.kpis import KPI_INFO, KPI_NAMES, kpi_info
from simulation.report import summary_text
from simulation.summary import bounded_ci, kpi_ci, mean_ci

SMALL = ["run.replications=2", "run.horizon_days=240", "run.warmup_days=60", "run.progress=false"]
B_SHORT = ["reference=community_team", "run.replications=2", "run.warmup_days=180", "run.horizon_days=180",
           "run.progress=false", "output.sessions=false"]


@pytest.fixture(scope="module")
def b_experiment(tmp_path_factory):
    """Reference B, two reassignment policies, the experiment asks for reassignments and caseloads."""
    d = tmp_path_factory.mktemp("b")
    exp = d / "b_policies.yaml"
    exp.write_text("description: B check\nbaseline: continuity\nscenarios:\n  continuity: [policy=continuity]\n"
                   "  alliance_threshold: [policy=alliance_threshold]\n"
                   "kpis: [dropout_rate, reliable_recovery_rate, reassignments_per_100, mean_caseload, utilisation]\n"
                   "figures: [kpis, differences, service]\n")
    return run([f"experiment={exp}", *B_SHORT], out_dir=d / "run")


# ---------------------------------------------------------------------------- one name per number
def test_three_recoveries_and_two_dropouts_have_their_own_names_and_definitions(small_run):
    assert "recovery_rate" not in KPI_NAMES
    for name in ("recovery_discharge_rate", "reliable_recovery_rate", "iapt_recovery_rate",
                 "dropout_rate", "attender_dropout_rate"):
        assert name in KPI_INFO
    labels = [k.label for k in KPI_INFO.values()]
    assert len(labels) == len(set(labels))  # no two KPIs share a label
    p, k = small_run.patients, small_run.kpis
    for rep, g in p.groupby("replication"):
        m = g[g["measured"]]
        ended = m[m["first_session_day"].notna() & (m["exit_reason"] != "censored")]
        fin = m[(m["sessions_attended"] >= 2) & ~m["exit_reason"].isin(["censored", "left_waiting_list"])]
        fin = fin[(fin["baseline_severity"] >= 10) | (fin["gad7_referral"] >= 8)]  # PHQ-9 or GAD-7 caseness (A)
        att = m[(m["sessions_attended"] > 0) & ~m["exit_reason"].isin(["censored", "left_waiting_list"])]
        row = k[k["replication"] == rep].iloc[0]
        expect = {"recovery_discharge_rate": (ended["exit_reason"] == "recovered").mean(),
                  "reliable_recovery_rate": ended["recovered"].mean(),
                  "iapt_recovery_rate": ((fin["final_severity"] < 10) & (fin["gad7_last"] < 8)).mean(),
                  "dropout_rate": (ended["exit_reason"] == "dropout").mean(),
                  "attender_dropout_rate": (att["exit_reason"] == "dropout").mean()}
        for name, v in expect.items():
            assert row[name] == pytest.approx(v), name
        # three different numbers: a default run is where users met them under one name
        r = [row["recovery_discharge_rate"], row["reliable_recovery_rate"], row["iapt_recovery_rate"]]
        # (0.03: since IAPT recovery also needs GAD-7 below caseness it lies nearer reliable recovery,
        # 4.8 points apart in this small run)
        assert min(abs(a - b) for a, b in [(r[0], r[1]), (r[0], r[2]), (r[1], r[2])]) > 0.03, r


def test_an_old_kpi_name_names_its_replacement(tmp_path):
    exp = tmp_path / "old.yaml"
    exp.write_text("scenarios:\n  a: []\nkpis: [recovery_rate]\n")
    with pytest.raises(ConfigError) as err:
        run([f"experiment={exp}", *SMALL])
    assert "reliable_recovery_rate" in str(err.value) and "recovery_rate" in str(err.value)


# ---------------------------------------------------------------------------- the printed summary
def test_summary_states_period_units_intervals(small_run):
    text = summary_text(small_run)
    assert "240 days (0.7 years)" in text and "60-day warm-up that is not counted" in text
    assert "2 replication(s)" in text and "95%" in text
    table = text.split("Definitions:")[0]
    for label, unit in (("Dropout", "%"), ("Reliable recovery", "%"), ("IAPT recovery of finishers", "%"),
                        ("Attended sessions per patient", "sessions"), ("Wait for first appointment", "weeks")):
        line = next(ln for ln in table.splitlines() if ln.strip().startswith(label))
        assert f" {unit} " in line and "[" in line, line
    # IAPT recovery printed right beside reliable recovery
    lines = [ln.strip() for ln in table.splitlines()]
    i = next(n for n, ln in enumerate(lines) if ln.startswith("Reliable recovery"))
    assert lines[i + 1].startswith("IAPT recovery of finishers")


def test_summary_shows_the_experiments_own_kpis_and_paired_differences(b_experiment):
    text = summary_text(b_experiment)
    assert "continuity (baseline)" in text
    for label in ("Reassignments", "Caseload per care coordinator", "Caseload per psychiatrist",
                  "Caseload / cap, care coordinator", "Caseload / cap, psychiatrist"):
        assert label in text, label
    assert "vs continuity [paired 95% CI]" in text and " pp" in text
    assert "paired t-interval" in text


# ---------------------------------------------------------------------------- caseloads per discipline
def test_caseload_and_utilisation_per_discipline_in_b(b_experiment):
    k = b_experiment.kpis
    caps = b_experiment.clinicians.groupby("discipline")["caseload_cap"].max()
    assert set(caps.index) == {"care_coordinator", "psychiatrist"}
    assert "mean_caseload" not in k.columns and "utilisation" not in k.columns  # no pooled caseload
    for d, cap in caps.items():
        assert (k[f"mean_caseload_{d}"] > 0).all() and (k[f"mean_caseload_{d}"] <= cap).all(), d
        assert k[f"utilisation_{d}"].between(0, 1).all(), d
        assert kpi_info(f"utilisation_{d}").is_proportion and kpi_info(f"mean_caseload_{d}").unit == "patients"
    # psychiatrists hold several times a care coordinator's caseload: pooling would hide both
    assert (k["mean_caseload_psychiatrist"] > 2 * k["mean_caseload_care_coordinator"]).all()
    # the per-discipline samples add up to the pooled time series, sample by sample
    loads = b_experiment.caseloads
    keys = ["scenario", "replication", "day"]
    pooled = (loads.assign(held=loads["clinicians"] * loads["mean_caseload"].fillna(0))
              .groupby(keys)[["held", "clinicians"]].sum())
    ts = b_experiment.timeseries.set_index(keys)["mean_caseload"]
    np.testing.assert_allclose((pooled["held"] / pooled["clinicians"]).reindex(ts.index), ts, rtol=1e-12)


def test_reference_a_has_its_single_discipline(small_run):
    k, ts = small_run.kpis, small_run.timeseries
    assert [c for c in k.columns if c.startswith(("mean_caseload", "utilisation"))] == \
        ["mean_caseload_therapist", "utilisation_therapist"]
    for rep, g in ts[ts["day"] >= 60].groupby("replication"):  # one discipline: equals the pooled series
        assert k.loc[k["replication"] == rep, "mean_caseload_therapist"].iloc[0] == pytest.approx(g["mean_caseload"].mean())
    assert (k["utilisation_therapist"] == k["mean_caseload_therapist"] / 20).all()


# ---------------------------------------------------------------------------- bounded intervals
def test_intervals_stay_inside_their_bounds_where_t_intervals_did_not(small_run):
    k, s = small_run.kpis, small_run.summary
    # the case of the issue: on this small run the t-intervals of some non-negative KPIs go below zero
    # (which ones moves with the model, so they are found, not named; the run must contain the case)
    below = [c for c in s["kpi"] if c in k.columns and np.isfinite(k[c]).all() and (k[c] >= 0).all()
             and mean_ci(k[c].to_numpy())[1] < 0]
    assert below, "the small run no longer has a KPI whose t-interval goes below zero"
    for name in below:
        row = s.set_index("kpi").loc[name]
        assert 0 <= row["ci_low"] <= row["mean"] <= row["ci_high"], name
    for r in s.itertuples():
        if not np.isfinite(r.ci_low):
            continue
        assert r.ci_low <= r.mean <= r.ci_high, r.kpi
        if kpi_info(r.kpi).is_proportion:
            assert 0 <= r.ci_low and r.ci_high <= 1 and r.interval == "logit", r.kpi
        else:
            assert r.ci_low >= 0 and r.interval == "t0", r.kpi
    assert (s.loc[s["kpi"] == "mean_waiting", "interval"] == "t0").all()


def test_bounded_intervals_respect_bounds_and_match_t_far_from_them():
    rng = np.random.default_rng(7)
    for n in (2, 3, 5, 8, 30):
        for _ in range(200):
            p = rng.beta(0.3, 8.0, n)  # proportions near zero, some exactly 0
            p[rng.random(n) < 0.3] = 0.0
            m, lo, hi = bounded_ci(p, "logit")
            assert 0 <= lo <= m <= hi <= 1
            x = rng.exponential(1.0, n) * (rng.random(n) < 0.6)  # non-negative, often 0
            m, lo, hi = bounded_ci(x, "t0")
            t = mean_ci(x)
            assert 0 <= lo <= m <= hi and hi == t[2]  # cut at 0 only: covers the mean whenever t does
            assert lo == max(0.0, t[1])
    # far from the bounds, with many replications, the transformed interval is the t-interval
    v = rng.normal(0.5, 0.02, 200)
    t, b = mean_ci(v), bounded_ci(v, "logit")
    assert b[1] == pytest.approx(t[1], abs=1e-4) and b[2] == pytest.approx(t[2], abs=1e-4)
    w = rng.normal(20.0, 1.0, 200)
    assert bounded_ci(w, "t0") == mean_ci(w)
    assert kpi_ci("mean_waiting", [0.0, 0.0]) == (0.0, 0.0, 0.0)


# ---------------------------------------------------------------------------- figures and report
def _texts(fig) -> list[str]:
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()]
    for leg in fig.legends:
        out += [t.get_text() for t in leg.get_texts()]
    return [t for t in out if t]


def test_figures_show_labels_not_internal_names_and_rates_from_zero(tmp_path):
    import matplotlib.pyplot as plt

    import analysis.report  # noqa: F401
    from analysis.figures import FIGURES
    from analysis.rundata import RunData

    exp = tmp_path / "dose_check.yaml"
    exp.write_text(
        "overrides: [run.replications=2]\nbaseline: low_repair\nscenarios:\n"
        "  low_repair: [clinicians.repair_logit_mean=-2]\n  high_repair: [clinicians.repair_logit_mean=2]\n"
        "kpis: [dropout_rate, repair_share, mean_caseload]\n"
        "figures: [kpis, differences, retention, retention_by_rupture, trajectories, dose_response, service]\n"
        "extra:\n  dose: {key: clinicians.repair_logit_mean}\n  labels: {high_repair: Skilled repair}\n")
    run([f"experiment={exp}", *SMALL[1:]], out_dir=tmp_path / "run")
    rd = RunData.load(tmp_path / "run")
    import re

    raw = re.compile(r"_|[a-z]\.[a-z]|\w=\w")  # internal names, dotted config keys, overrides
    seen = []
    for name in rd.manifest["figures"]:
        assert FIGURES[name].missing(rd) is None, name
        fig, caption = FIGURES[name].draw(rd)
        texts = _texts(fig)
        seen += texts
        for t in texts:
            assert not raw.search(t), (name, t)
        if name == "kpis":
            assert all(ax.get_xlim()[0] == 0 for ax in fig.axes if ax.get_visible())
        if name in ("retention", "retention_by_rupture"):
            assert fig.axes[0].get_ylim()[0] == 0
        if name == "dose_response":
            assert fig.axes[0].get_ylim()[0] == 0  # the dropout axis of a teaching figure starts at zero
        plt.close(fig)
    joined = " ".join(seen)
    assert "Low repair" in joined and "Skilled repair" in joined and "Repair logit mean" in joined


def test_report_shows_a_summary_figure_before_the_tables_and_names_its_intervals(tmp_path):
    from analysis.report import build_report

    exp = tmp_path / "two.yaml"
    exp.write_text("baseline: usual\nscenarios:\n  usual: []\n  trained: [intervention.training_share=1.0]\n"
                   "kpis: [dropout_rate, mean_waiting]\nfigures: [differences, kpis]\n")
    out = tmp_path / "run"
    run([f"experiment={exp}", *SMALL, "output.sessions=false"], out_dir=out)
    build_report(out)
    md = (out / "report.md").read_text()
    assert md.index("![kpis](figures/kpis.png)") < md.index("| KPI |") < md.index("![differences]")
    assert md.count("![kpis]") == 1
    assert "logit scale" in md and "cut at 0" in md and "paired" in md
    assert "| Usual | Trained |" in md  # scenario labels head the KPI table


def test_width_ratio_sentence_reads_correctly_both_ways():
    from analysis.report import width_ratio_sentence

    wide = width_ratio_sentence(2.4)
    assert "2.4 times as wide as the paired" in wide and "sharper" in wide
    narrow = width_ratio_sentence(0.6)
    assert "paired intervals are wider" in narrow.lower() and "do not sharpen" in narrow and "sharper" not in narrow
    assert "about as wide" in width_ratio_sentence(1.0)
    assert width_ratio_sentence(float("nan")) == ""


def test_a_chunk_from_a_version_without_the_caseloads_table_is_recomputed(tmp_path):
    out = tmp_path / "run"
    first = run(["experiment=null", *SMALL, "output.sessions=false"], out_dir=out)
    chunk = sorted(out.glob("chunks/*/rep_0000"))[0]
    (chunk / "caseloads.parquet").unlink()  # as an older version wrote it
    again = run(["experiment=null", *SMALL, "output.sessions=false"], out_dir=out)
    assert again.manifest["chunks_reused"] == 1 and again.manifest["chunks_computed"] == 1
    pd.testing.assert_frame_equal(again.kpis, first.kpis)
    assert len(again.caseloads) == len(first.caseloads)
