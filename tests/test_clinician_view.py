"""The clinician's stable view of a relationship (alliance.clinician_stable_share): STAR-C test-retest (target S6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.targets_star import retest_pairs
from simulation import rng
from simulation.api import run
from simulation.clinician_view import SEQS, ClinicianView, session_sd, stable_sd

# Reference B with a one-year warm-up and one measured year, two replications (as benchmarks/digest.py's B).
B_SHORT = ["experiment=null", "reference=community_team", "run.replications=2", "run.warmup_days=365",
           "run.horizon_days=365", "run.progress=false", "output.sessions=true"]
STAR_C = ["alliance_clinician", "star_c_collaboration", "star_c_clinician_input", "star_c_emotional_difficulties",
          "star_c_total"]


@pytest.fixture(scope="module")
def b_off_and_on():
    """B's tables with the stable share off (0) and at 0.8."""
    return (run(B_SHORT + ["alliance.clinician_stable_share=0"]).tables,
            run(B_SHORT + ["alliance.clinician_stable_share=0.8"]).tables)


def test_total_error_variance_is_split_not_changed():
    for sd, share in ((0.3, 0.0), (0.3, 0.55), (0.1, 1.0)):
        assert stable_sd(sd, share) ** 2 + session_sd(sd, share) ** 2 == pytest.approx(sd ** 2, rel=1e-12)
    assert session_sd(0.3, 0.0) == 0.3  # exactly: share 0 is today's model, bit for bit


def test_offsets_have_the_stable_sd_and_are_keyed_by_dyad():
    """The offsets' SD is e*sqrt(share) within 4 sampling SEs; a dyad's offset does not depend on draw order."""
    view = ClinicianView(0.3, 0.5, rng.Streams(7, 0), 2)
    x = np.array([view.offset(p, d, q) for p in range(1500) for d in range(2) for q in range(SEQS)])
    sd = 0.3 * math.sqrt(0.5)
    assert abs(x.std() - sd) < 4 * sd / math.sqrt(2 * len(x)), x.std()
    assert abs(x.mean()) < 4 * sd / math.sqrt(len(x))
    late = ClinicianView(0.3, 0.5, rng.Streams(7, 0), 2)  # asked in another order, beyond the batch's sequences
    assert late.offset(1499, 1, SEQS + 3) == view.offset(1499, 1, SEQS + 3)
    assert late.offset(3, 1, 2) == view.offset(3, 1, 2)
    assert view.offset(3, 1, 2) != view.offset(3, 1, 1) and view.offset(3, 1, 2) != view.offset(3, 0, 2)
    assert ClinicianView(0.3, 0.5, rng.Streams(7, 1), 2).offset(3, 1, 2) != view.offset(3, 1, 2)


def test_share_moves_only_the_clinicians_ratings(b_off_and_on):
    """Common random numbers: the stable share changes the clinician's ratings and STAR-C, and nothing else."""
    off, on = b_off_and_on
    for name in ("clinicians", "reassignments", "caseloads", "timeseries", "kpis"):
        assert off[name].equals(on[name]), name
    assert off["patients"].drop(columns="alliance_clinician_s3").equals(on["patients"].drop(columns="alliance_clinician_s3"))
    s0, s1 = off["sessions"], on["sessions"]
    assert s0.drop(columns=STAR_C).equals(s1.drop(columns=STAR_C))
    rated = s0["alliance_clinician"].notna()
    assert (s0.loc[rated, "alliance_clinician"] != s1.loc[rated, "alliance_clinician"]).mean() > 0.5


def _pairs(tables):
    """S6's pairs of every replication (the estimator reads one replication's tables at a time)."""
    import pandas as pd

    reps = sorted(tables["patients"]["replication"].unique())
    return pd.concat([retest_pairs({k: tables[k][tables[k]["replication"] == r]
                                    for k in ("patients", "sessions", "clinicians")}) for r in reps])


def test_stable_share_raises_star_c_test_retest_and_leaves_star_p(b_off_and_on):
    """STAR-C test-retest rises by far more than its sampling error; STAR-P's pairs and ratings are untouched."""
    off, on = (_pairs(t) for t in b_off_and_on)
    n = len(off)
    assert n > 100 and off[["days", "star_p_test", "star_p_retest"]].equals(on[["days", "star_p_test", "star_p_retest"]])
    r0 = np.corrcoef(off["star_c_test"], off["star_c_retest"])[0, 1]
    r1 = np.corrcoef(on["star_c_test"], on["star_c_retest"])[0, 1]
    se = (1 - r0 ** 2) / math.sqrt(n - 1)  # sampling SE of r; the two r share their pairs, so their difference's is smaller
    assert r1 - r0 > 4 * se, (r0, r1, se, n)


def test_retest_pairs_are_consecutive_ratings_within_one_relationship():
    """Pairs: the sampled (last) care-coordinator session and the same dyad's rated session before it; none across dyads."""
    import pandas as pd

    t = {"patients": pd.DataFrame({"patient_id": [1, 2, 3], "measured": [True] * 3, "sessions_attended": [5, 5, 5],
                                   "first_clinician_id": [10, 11, 12]}),
         "clinicians": pd.DataFrame({"clinician_id": [10, 11, 12, 13, 20], "discipline": ["cc"] * 4 + ["psy"]}),
         "sessions": pd.DataFrame({
             "patient_id": [1, 1, 1, 1, 2, 2, 3, 3],
             "clinician_id": [10, 10, 20, 10, 11, 11, 12, 13],
             "dyad_id": [1, 1, 2, 1, 3, 3, 4, 5],
             "day": [1.0, 15.0, 20.0, 29.0, 1.0, 15.0, 1.0, 15.0],
             "attended": [True] * 8,
             "star_p_total": [10.0, 20.0, 47.0, 30.0, 5.0, np.nan, 8.0, 9.0],
             "star_c_total": [11.0, 21.0, 1.0, 31.0, 6.0, np.nan, 9.0, 10.0]})}
    pr = retest_pairs(t)
    # Patient 1: days 15 and 29 with clinician 10 (the psychiatrist's day-20 rating is not the care coordinator's);
    # patient 2: one rated session only; patient 3: the last two ratings are with different care coordinators.
    assert list(pr.index) == [1]
    assert pr.loc[1, ["days", "star_c_test", "star_c_retest", "star_p_test", "star_p_retest"]].tolist() == [
        14.0, 21.0, 31.0, 20.0, 30.0]
