"""Calibration in CI: a change that moves a fitted target out of its range fails here.

The reference configurations are run as ``experiment=calibration`` runs them (same
horizon, warm-up and settings) but with few replications, and every fitted target's
estimate is compared with its accepted range with a tolerance derived from the sampling
error at this size:

* For a target estimated per replication (``interval="t"``), the mean over the n
  replications has standard error SE = s / sqrt(n), with s the SD across replications.
  The check passes if [mean - c*SE, mean + c*SE] overlaps [low, high], with
  c = t_{n-1}(1 - 0.005 / J), a Bonferroni t-quantile over the J targets checked. If every
  true mean is inside its range, the chance that any check fails is at most 1%; a target
  whose true mean moved out by more than about c*SE fails.
* For a pooled target with a bootstrap interval (target 8), SE = (ci_high - ci_low) /
  (2 * 1.96) from a small bootstrap over replications, with the same c.

Target 9 (the strict Kaplan-Meier median, planned endings as recoveries) is outside its
range in the full calibration run (about 8-9 sessions against 13-18 since A was retuned to
10b in issue 14; see README, Calibration), so it cannot be held inside here, and neither can
its former estimator 9b: no row stands in for it. Target 10b, IAPT recovery on PHQ-9 and
GAD-7, is inside since the planned ending reads GAD-7 and A was retuned to it (issue 14),
and is checked like every other fitted target.

Reference B's 11b varies a lot between replications (one service's cohort), so at 4
replications its tolerance is wide: it catches gross breaks only.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.calibration import TARGETS, estimate
from simulation.api import run

# As experiments/calibration.yaml, fewer replications (2 workers: identical tables to serial).
COMMON = ["experiment=null", "run.workers=2", "run.progress=false", "output.sessions=true"]
RUNS = {
    "talking_therapy": COMMON + ["run.replications=10", "run.horizon_days=730", "run.warmup_days=180"],
    "community_team": COMMON + ["reference=community_team", "run.replications=4", "run.warmup_days=1095",
                                "run.horizon_days=1095"],
}
# Fitted targets outside their range in the full calibration run, and the row standing in for each (None: none).
KNOWN_OUTSIDE = {"9": None}
BOOTSTRAP = 20  # resamples for pooled targets: enough for an SE, not for a percentile interval


def _checked() -> list:
    out = []
    for t in TARGETS.values():
        if t.role != "fitted" or t.reference not in RUNS:
            continue
        if t.companion_of and t.number not in KNOWN_OUTSIDE.values():
            continue
        if t.number in KNOWN_OUTSIDE:
            continue
        out.append(t)
    return out


CHECKED = _checked()


@pytest.fixture(scope="module")
def tables():
    return {ref: run(over).tables for ref, over in RUNS.items()}


def test_known_outside_list_points_at_real_rows():
    for number, stand_in in KNOWN_OUTSIDE.items():
        assert TARGETS[number].role == "fitted"
        assert stand_in is None or TARGETS[stand_in].companion_of == number


def test_every_fitted_target_within_sampling_error_of_its_range(tables):
    failures = []
    for t in CHECKED:
        value, lo, hi, n = estimate(t, tables[t.reference], n_boot=BOOTSTRAP)
        c = float(stats.t.ppf(1 - 0.005 / len(CHECKED), max(n - 1, 1)))
        if t.interval == "t":
            se = (hi - value) / float(stats.t.ppf(0.975, n - 1))  # mean_ci's half-width back to an SE
        else:
            se = (hi - lo) / (2 * 1.96)
        assert np.isfinite(value) and np.isfinite(se), t.number
        if value + c * se < t.low or value - c * se > t.high:
            failures.append(f"{t.number} ({t.quantity}): {value:.3f} +/- {c * se:.3f} misses {t.low:g}-{t.high:g}")
    assert not failures, "fitted targets out of range: " + "; ".join(failures)
