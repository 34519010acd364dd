"""Core simulator: determinism, conservation, bounds, caps, ordering, warm-up, interfaces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.api import load_config, run
from simulation.entities import EXIT_REASONS
from simulation.io import read_table
from tests.conftest import SMALL


def _assert_tables_equal(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def test_same_seed_gives_identical_tables(small_run):
    again = run(SMALL)
    _assert_tables_equal(small_run.tables, again.tables)


def test_different_seeds_differ(small_run):
    other = run(SMALL + ["run.seed=7"])
    assert not small_run.patients["referral_day"].equals(other.patients["referral_day"])
    assert not small_run.sessions["alliance_latent"].head(200).equals(other.sessions["alliance_latent"].head(200))


def test_replications_differ(small_run):
    p = small_run.patients
    r0 = p[p.replication == 0]["referral_day"].to_numpy()
    r1 = p[p.replication == 1]["referral_day"].to_numpy()
    n = min(len(r0), len(r1))
    assert not np.allclose(r0[:n], r1[:n])


def test_every_patient_has_exactly_one_exit_and_counts_add_up(small_run):
    p = small_run.patients
    assert p["exit_reason"].notna().all()
    assert set(p["exit_reason"].astype(str)) <= set(EXIT_REASONS)
    assert p.groupby(["replication", "patient_id"]).size().max() == 1
    counts = p.groupby("replication")["exit_reason"].value_counts().unstack()
    assert (counts.sum(axis=1) == p.groupby("replication").size()).all()
    # Censored patients are exactly those still waiting or in care at the end.
    end = 60 + 240
    censored = p[p["exit_reason"] == "censored"]
    assert (censored["exit_day"] == end).all()
    assert (p.loc[p["exit_reason"] != "censored", "exit_day"] <= end).all()
    # Session counts in the patients table match the session log.
    s = small_run.sessions
    att = s[s["attended"]].groupby(["replication", "patient_id"]).size()
    dna = s[~s["attended"]].groupby(["replication", "patient_id"]).size()
    pi = p.set_index(["replication", "patient_id"])
    assert (pi["sessions_attended"] == att.reindex(pi.index, fill_value=0)).all()
    assert (pi["dnas"] == dna.reindex(pi.index, fill_value=0)).all()
    # Patients who never had an appointment have no sessions and no first-session day.
    never = p[p["first_session_day"].isna()]
    assert (never["sessions_attended"] == 0).all()


def test_alliance_components_stay_in_unit_interval(small_run):
    s = small_run.sessions
    for col in ("goals", "tasks", "bond", "alliance_latent"):
        assert s[col].between(0.0, 1.0).all(), col
    att = s[s["attended"]]
    assert att["alliance_patient"].between(1.0, 5.0).all()
    assert att["alliance_clinician"].between(1.0, 5.0).all()


def test_no_clinician_above_caseload_cap():
    # Demand far above capacity, so every cap is reached.
    res = run(SMALL + ["service.referrals_per_week=60", "service.clinicians=4"])
    c = res.clinicians
    assert (c["max_caseload"] == c["caseload_cap"]).any()
    assert (c["max_caseload"] <= c["caseload_cap"]).all()
    assert (res.patients["exit_reason"] == "censored").any()


def test_session_days_increase_within_a_patient(small_run):
    s = small_run.sessions
    for (_, _), g in s.groupby(["replication", "dyad_id"]):
        assert (np.diff(g["day"].to_numpy()) > 0).all()
        assert (np.diff(g["session_index"].to_numpy()) == 1).all()
    per_patient = s.groupby(["replication", "patient_id"])["day"].apply(lambda d: (np.diff(d.to_numpy()) >= 0).all())
    assert per_patient.all()


def test_warmup_patients_are_flagged(small_run):
    p = small_run.patients
    assert (p["measured"] == (p["referral_day"] >= 60)).all()
    assert (~p["measured"]).any() and p["measured"].any()


def test_kpis_one_row_per_replication(small_run):
    k = small_run.kpis
    assert len(k) == 2 and set(k["replication"]) == {0, 1}
    assert k["dropout_rate"].between(0, 1).all()


def test_cli_and_python_give_the_same_tables(tmp_path, small_run):
    out = tmp_path / "cli"
    exe = Path(sys.executable).parent / "alliance-sim"
    proc = subprocess.run([str(exe), *SMALL, "experiment=null", f"output.dir={out}", f"hydra.run.dir={tmp_path / 'hydra'}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Measured period: 240 days" in proc.stdout and "Dropout" in proc.stdout
    assert (out / "report.html").exists()  # the console script's post-run reporter (analysis.cli) ran
    for name in ("patients", "sessions", "clinicians", "timeseries", "caseloads", "kpis"):
        pd.testing.assert_frame_equal(read_table(out, name), small_run.tables[name], check_exact=True, obj=name)
    manifest = (out / "manifest.json").read_text()
    assert '"completed": true' in manifest


def test_unknown_key_is_rejected():
    from simulation.errors import ConfigError

    with pytest.raises(ConfigError):
        load_config(["service.no_such_key=3"])
