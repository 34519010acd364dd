"""The anxiety questionnaire (GAD-7), scored at referral and at each attended session from the observed severity score.

IAPT's recovery needs depression (PHQ-9) *and* anxiety (GAD-7) below caseness, and so does the
session step's planned ending. Each patient's offset and per-measurement errors are drawn at
referral, vectorised over a batch of patients (:class:`Questionnaire`); the session step
(``SessionStep.anxiety_score``) applies the formula below (:func:`score`, the one definition,
compiled and called from C by the session step) to each attended session's severity score and
records it. For patient i at measurement k (0 = referral, k = the k-th attended
session), with P the observed severity score:

    G*_ik = mean + slope (P_ik - m_P) + o_i + e_ik,    G_ik = clip(round(G*_ik), 0, max)

``m_P`` and ``s_P`` are the mean and SD of the referral score of the configured population
(computed exactly from ``population``), ``slope = correlation * sd / s_P``, ``o_i`` a patient
offset ~ N(0, (1 - correlation^2) sd^2 - measurement_sd^2) and ``e_ik`` ~ N(0, measurement_sd^2).
At referral G* then has mean ``mean``, SD ``sd`` and correlation ``correlation`` with P. Offsets
and errors come from the patient's own streams (purpose ``rng.ANXIETY``), keyed by patient and
measurement number, so scenarios of one replication share them. A patient's errors are released
when they exit (discharge or leaving the waiting list): no measurement follows.
"""

from __future__ import annotations

import functools
import math
from array import array
from typing import TYPE_CHECKING, Sequence

import cython
import numpy as np
from scipy.special import ndtr, ndtri

from . import rng
from .config import AnxietyConfig, PopulationConfig

if TYPE_CHECKING:  # pragma: no cover
    from .entities import Patient


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


@cython.ccall
def score(severity: cython.double, offset: cython.double, error: cython.double, mean: cython.double,
          slope: cython.double, severity_mean: cython.double, error_sd: cython.double,
          top: cython.double) -> cython.double:
    """One anxiety score: the formula's one definition, which the session step calls in C (anxiety.pxd)."""
    g: cython.double = round(mean + slope * (severity - severity_mean) + offset + error_sd * error)  # half to even
    return 0.0 if g < 0.0 else (top if g > top else float(g))


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
    """Anxiety scores of (patient, measurement, severity score) triples from keyed draws: what the session step should record."""
    a = pop.anxiety
    patients = np.asarray(patients, dtype=np.int64)
    measurement = np.asarray(measurement, dtype=np.int64)
    severity = np.asarray(severity, dtype=np.float64)
    m_p, s_p = referral_moments(pop)
    slope = a.correlation * a.sd / s_p
    offset = offset_sd(a) * _normals(streams, 0, patients, np.zeros_like(patients))
    error = _normals(streams, 1, patients, measurement)
    return np.array([score(s, o, e, a.mean, slope, m_p, a.measurement_sd, a.max) if s == s else math.nan
                     for s, o, e in zip(severity.tolist(), offset.tolist(), error.tolist())])  # NaN severity stays NaN


def _doubles(values: np.ndarray) -> array:
    """A float64 vector as ``array('d')``: what the compiled session step reads as a C double view."""
    out = array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


class Questionnaire:
    """One replication's anxiety questionnaire: each patient's offset and measurement errors, drawn at referral in batches."""

    def __init__(self, pop: PopulationConfig, streams: rng.Streams):
        a = pop.anxiety
        m_p, s_p = referral_moments(pop)
        self.mean = float(a.mean)
        self.slope = float(a.correlation * a.sd / s_p)
        self.severity_mean = float(m_p)
        self.offset_sd = float(offset_sd(a))
        self.error_sd = float(a.measurement_sd)
        self.max = float(a.max)
        self.caseness = float(a.caseness)
        # Measurements drawn at referral: referral + the longest course + 1 (more are drawn if a patient needs them).
        self.width = max(8, int(pop.max_sessions_high) + 2)
        self.streams = streams
        self._blocks: dict[int, tuple[list, array]] = {}

    def score(self, offset: float, severity: float, error: float) -> float:
        """One anxiety score with this questionnaire's constants (:func:`score`)."""
        return score(severity, offset, error, self.mean, self.slope, self.severity_mean, self.error_sd, self.max)

    def _block(self, b: int) -> tuple[list, array]:
        """Offsets and errors (measurements 0 .. width-1) of patients b*PATIENT_BATCH onwards, keyed as :func:`scores`."""
        block = self._blocks.get(b)
        if block is None:
            n, w = rng.PATIENT_BATCH, self.width
            ids = np.arange(b * n, (b + 1) * n, dtype=np.int64)
            offsets = (self.offset_sd * _normals(self.streams, 0, ids, np.zeros(n, dtype=np.int64))).tolist()
            errors = _normals(self.streams, 1, np.repeat(ids, w), np.tile(np.arange(w, dtype=np.int64), n))
            block = (offsets, _doubles(errors))
            self._blocks[b] = block
            self._blocks.pop(b - 2, None)  # patients are referred in id order; old blocks are done
        return block

    def at_referral(self, p: "Patient") -> None:
        """Give a new patient their offset and errors, and score their referral anxiety from the referral severity."""
        b, r = divmod(p.id, rng.PATIENT_BATCH)
        offsets, errors = self._block(b)
        w = self.width
        p.anxiety_offset = offsets[r]
        p.anxiety_errors = errors[r * w:(r + 1) * w]
        p.anxiety_referral = p.anxiety_last = self.score(p.anxiety_offset, p.baseline_observed, p.anxiety_errors[0])

    def extend(self, p: "Patient") -> None:
        """Append the errors of the patient's next ``width`` measurements (a patient who outlives the first draw)."""
        k0 = len(p.anxiety_errors)
        k = np.arange(k0, k0 + self.width, dtype=np.int64)
        p.anxiety_errors.extend(_doubles(_normals(self.streams, 1, np.full(self.width, p.id, dtype=np.int64), k)))


def patient_columns(pop: PopulationConfig, patients: Sequence["Patient"]) -> dict[str, np.ndarray]:
    """gad7_referral, gad7_last (the last attended session's score, or referral's) and gad7_reliable_improvement."""
    n = len(patients)
    if not enabled(pop):
        return {"gad7_referral": np.full(n, np.nan), "gad7_last": np.full(n, np.nan),
                "gad7_reliable_improvement": np.zeros(n, dtype=bool)}
    referral = np.fromiter((p.anxiety_referral for p in patients), dtype=np.float64, count=n)
    last = np.fromiter((p.anxiety_last for p in patients), dtype=np.float64, count=n)
    return {"gad7_referral": referral, "gad7_last": last,
            "gad7_reliable_improvement": referral - last >= pop.anxiety.reliable_change}
