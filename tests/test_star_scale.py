"""STAR's own scale (star.patient_slope, star.clinician_slope): compression, ranges, bad input, B's STAR targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation.api import load_config, run
from simulation.errors import ConfigError
from simulation.star import CLINICIAN_SUBSCALES, PATIENT_SUBSCALES, on_star_scale

# Reference A's service rated on STAR: short and fast (B needs years of warm-up).
STAR = ["experiment=null", "run.replications=2", "run.horizon_days=200", "run.warmup_days=40", "run.progress=false",
        "instrument=star"]


def test_slope_keeps_the_top_and_shrinks_shortfalls():
    """A perfect rating stays perfect, a shortfall shows at ``slope`` of its size, slope 1 is the rating itself."""
    r = np.array([0.0, 0.25, 0.5, 1.0, np.nan])
    out = on_star_scale(r, 0.4)
    np.testing.assert_allclose(out[:4], [0.6, 0.7, 0.8, 1.0])
    assert np.isnan(out[4])  # an unrated session stays unrated
    assert on_star_scale(r, 1.0) is r  # no compression: not even a rounding change


@pytest.fixture(scope="module")
def plain_and_compressed():
    return run(STAR).tables["sessions"], run(STAR + ["star.clinician_slope=0.4"]).tables["sessions"]


def test_clinician_slope_narrows_star_c_only(plain_and_compressed):
    """STAR-C totals move up and spread less; STAR-P, the ratings and everything else are untouched."""
    plain, comp = plain_and_compressed
    p_cols = [c for c, _, _ in PATIENT_SUBSCALES] + ["star_p_total", "alliance_patient", "alliance_clinician"]
    pd.testing.assert_frame_equal(plain[p_cols], comp[p_cols], check_exact=True)
    rated = plain["star_c_total"].notna()
    assert rated.sum() > 1000 and comp["star_c_total"].notna().equals(rated)
    a, b = plain.loc[rated, "star_c_total"], comp.loc[rated, "star_c_total"]
    assert b.std() < 0.6 * a.std()
    assert b.mean() > a.mean()
    # A rating of r on 0-1 scores about 48 x (1 - 0.4 (1 - r)) before item noise: never far below 0.6 x 48.
    assert b.min() >= 0.6 * 48 - 12 and b.max() <= 48
    parts = sum(comp.loc[rated, c] for c, _, _ in CLINICIAN_SUBSCALES)
    assert (parts == b).all()


@pytest.mark.parametrize("overrides, key", [
    (["instrument=star", "star.clinician_slope=0"], "star.clinician_slope"),
    (["instrument=star", "star.clinician_slope=1.5"], "star.clinician_slope"),
    (["instrument=star", "star.patient_slope=-0.2"], "star.patient_slope"),
])
def test_bad_slope_is_one_clear_error(overrides, key):
    with pytest.raises(ConfigError) as info:
        load_config(overrides)
    assert info.value.key == key
    assert "\n" not in str(info.value)


def test_references_score_star_as_rated():
    """Neither reference compresses STAR (S4 reads COCAPP-A's spread between staff, so no slope was set for it)."""
    b = load_config(["reference=community_team"]).star
    assert (b.patient_slope, b.clinician_slope) == (1.0, 1.0)
    a = load_config([]).star
    assert (a.patient_slope, a.clinician_slope) == (1.0, 1.0)
