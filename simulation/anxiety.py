"""The anxiety questionnaire (GAD-7), scored after a run from each patient's observed severity scores.

IAPT's recovery needs depression (PHQ-9) *and* anxiety (GAD-7) below caseness. The hot path
records one score per attended session; the anxiety score is derived from it afterwards,
vectorised over whole tables, so the session step is untouched. For patient i at measurement
k (0 = referral, k = the k-th attended session), with P the observed severity score:

    G*_ik = mean + slope (P_ik - m_P) + o_i + e_ik,    G_ik = clip(round(G*_ik), 0, max)

``m_P`` and ``s_P`` are the mean and SD of the referral score of the configured population
(computed exactly from ``population``), ``slope = correlation * sd / s_P``, ``o_i`` a patient
offset ~ N(0, (1 - correlation^2) sd^2 - measurement_sd^2) and ``e_ik`` ~ N(0, measurement_sd^2).
At referral G* then has mean ``mean``, SD ``sd`` and correlation ``correlation`` with P. Offsets
and errors come from the patient's own streams (purpose ``rng.ANXIETY``), keyed by patient and
measurement number, so scenarios of one replication share them.
"""

from __future__ import annotations

import functools
import math
from typing import Optional

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from . import rng
from .config import AnxietyConfig, PopulationConfig



def enabled(pop: PopulationConfig) -> bool:
    """Whether the population is scored on an anxiety questionnaire."""
    return pop.anxiety.scale is not None


def offset_sd(a: AnxietyConfig) -> float:
    """SD of the stable patient offset: the referral variance not explained by severity or by error."""
    return math.sqrt(max(0.0, (1.0 - a.correlation ** 2) * a.sd ** 2 - a.measurement_sd ** 2))


@functools.lru_cache(maxsize=32)
def _referral_moments(mean: float, sd: float, lo: float, hi: float, meas_sd: float) -> tuple[float, float]:
    """Mean and SD of the observed referral score: clip(round(clip(N(mean, sd), lo, hi) + N(0, meas_sd)), 0, hi)."""
    n = 4000
    if sd > 0:
        x = np.clip(mean + sd * ndtri((np.arange(n) + 0.5) / n), lo, hi)  # latent quantiles, clipped as referred
    else:
        x = np.full(1, min(hi, max(lo, mean)))
    k = np.arange(0.0, math.floor(hi) + 1.0)
    if meas_sd > 0:
        upper = ndtr((k[None, :] + 0.5 - x[:, None]) / meas_sd)
        upper[:, -1] = 1.0
        lower = np.concatenate([np.zeros((len(x), 1)), upper[:, :-1]], axis=1)
        prob = (upper - lower).mean(axis=0)
    else:
        prob = np.bincount(np.clip(np.round(x), 0, k[-1]).astype(int), minlength=len(k)) / len(x)
    m = float(prob @ k)
    return m, float(math.sqrt(max(prob @ (k - m) ** 2, 1e-12)))


def referral_moments(pop: PopulationConfig) -> tuple[float, float]:
    """Mean and SD of the population's observed severity score at referral (the scale the slope acts on)."""
    return _referral_moments(float(pop.severity_mean), float(pop.severity_sd), float(pop.severity_min),
                             float(pop.severity_max), float(pop.measurement_sd))


def _normals(streams: rng.Streams, which: int, patients: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Standard normal per (patient, measurement), keyed by (seed, replication, ANXIETY, which, patient, measurement)."""
    # Hash-keyed (rng.keyed_normals, as the STAR items): no generator per block, so the cost is a
    # few vectorised passes whatever the number of patients; the same keys give the same number in
    # every scenario, chunk and streamed part file.
    if not len(patients):
        return np.empty(0)
    which_col = np.full(len(patients), which, dtype=np.int64)
    return rng.keyed_normals(streams.seed, streams.replication, rng.ANXIETY, [which_col, patients, columns], 1)[:, 0]


def scores(pop: PopulationConfig, streams: rng.Streams, patients: np.ndarray, measurement: np.ndarray,
           severity: np.ndarray) -> np.ndarray:
    """Anxiety scores of (patient, measurement number, observed severity score) triples; NaN where severity is."""
    a = pop.anxiety
    patients = np.asarray(patients, dtype=np.int64)
    measurement = np.asarray(measurement, dtype=np.int64)
    severity = np.asarray(severity, dtype=np.float64)
    m_p, s_p = referral_moments(pop)
    slope = a.correlation * a.sd / s_p
    offset = _normals(streams, 0, patients, np.zeros_like(patients))
    error = _normals(streams, 1, patients, measurement)
    g = a.mean + slope * (severity - m_p) + offset_sd(a) * offset + a.measurement_sd * error
    return np.clip(np.round(g), 0.0, a.max)  # NaN severity stays NaN


def patient_columns(pop: PopulationConfig, streams: rng.Streams, patients: pd.DataFrame) -> dict[str, np.ndarray]:
    """gad7_referral, gad7_last (at the last attended session, or referral) and gad7_reliable_improvement."""
    n = len(patients)
    if not enabled(pop):
        return {"gad7_referral": np.full(n, np.nan), "gad7_last": np.full(n, np.nan),
                "gad7_reliable_improvement": np.zeros(n, dtype=bool)}
    ids = patients["patient_id"].to_numpy()
    referral = scores(pop, streams, ids, np.zeros(n, dtype=np.int64), patients["baseline_severity"].to_numpy())
    last = scores(pop, streams, ids, patients["sessions_attended"].to_numpy(),
                  patients["final_severity"].to_numpy())
    return {"gad7_referral": referral, "gad7_last": last,
            "gad7_reliable_improvement": referral - last >= pop.anxiety.reliable_change}


def session_column(pop: PopulationConfig, streams: rng.Streams, sessions: pd.DataFrame,
                   attended_before: Optional[np.ndarray] = None) -> np.ndarray:
    """anxiety_observed of each session row (NaN for a missed session or without an anxiety measure)."""
    # Rows are in time order; the k-th attended row of a patient is measurement k. ``attended_before``
    # (indexed by patient id, updated in place) carries the counts over part files of a streamed table.
    n = len(sessions)
    out = np.full(n, np.nan)
    if not enabled(pop) or not n:
        return out
    att = sessions["attended"].to_numpy(dtype=bool)
    ids = sessions["patient_id"].to_numpy(dtype=np.int64)[att]
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    first = np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(ids)), 0))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids)) - start + 1  # 1 = the patient's first attended session in these rows
    if attended_before is not None:  # counts of earlier part files
        rank += attended_before[ids]
        np.add.at(attended_before, ids, 1)
    out[att] = scores(pop, streams, ids, rank, sessions["severity"].to_numpy(dtype=np.float64)[att])
    return out


class SessionScorer:
    """Scores the part files of one streamed session table in turn, counting each patient's measurements across them."""

    def __init__(self, pop: PopulationConfig, seed: int, replication: int):
        self.pop = pop
        self.streams = rng.Streams(seed, replication)
        self.attended = np.zeros(1024, dtype=np.int64)  # attended sessions in earlier parts, by patient id

    def __call__(self, sessions: pd.DataFrame) -> np.ndarray:
        """The part's anxiety_observed column (rows in time order, after every earlier part)."""
        if len(sessions):
            top = int(sessions["patient_id"].max()) + 1
            if top > len(self.attended):
                self.attended = np.concatenate([self.attended, np.zeros(max(top, 2 * len(self.attended))
                                                                        - len(self.attended), dtype=np.int64)])
        return session_column(self.pop, self.streams, sessions, self.attended)
