"""A clinician's stable view of a particular relationship: a per-dyad offset of their alliance ratings.

``alliance.clinician_stable_share`` (s) splits the clinician's rating-error variance
(``alliance.clinician_error_sd`` squared, e^2) into a part drawn once per dyad, SD
``e*sqrt(s)``, kept for every session the dyad rates (this module), and a per-session part,
SD ``e*sqrt(1 - s)`` (the session step). The total rating-error variance is unchanged; only
how much of it repeats between sessions of the same relationship moves (STAR-C test-retest,
target S6). s = 0 (the default, reference A): no offset is drawn and ratings are as before.

Offsets are hash-keyed by (patient, discipline, dyad sequence) under purpose
``rng.CLINICIAN_VIEW`` (:func:`simulation.rng.keyed_normals`), drawn for a batch of patients
at once, so a dyad gets the same offset in every scenario of a replication.
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from . import rng

SEQS = 4  # dyads per patient and discipline drawn with the patient's batch (later ones are drawn singly)


def stable_sd(error_sd: float, share: float) -> float:
    """SD of the per-dyad offset: the stable share of the clinician's rating-error variance."""
    return float(error_sd) * math.sqrt(float(share))


def session_sd(error_sd: float, share: float) -> float:
    """SD of the per-session clinician rating error left once the stable share is taken out (exactly error_sd at 0)."""
    return float(error_sd) * math.sqrt(1.0 - float(share))  # sqrt(1.0) is exactly 1.0: no special case needed


class ClinicianView:
    """One replication's per-dyad clinician rating offsets, drawn per batch of patients (common random numbers)."""

    def __init__(self, error_sd: float, share: float, streams: rng.Streams, n_disciplines: int):
        self.sd = stable_sd(error_sd, share)
        self.streams = streams
        self.width = int(n_disciplines) * SEQS
        self._blocks: dict[int, array] = {}

    def _normals(self, patients: np.ndarray, disciplines: np.ndarray, seqs: np.ndarray) -> np.ndarray:
        """Standard normals keyed by (seed, replication, CLINICIAN_VIEW, patient, discipline, dyad sequence)."""
        s = self.streams
        return rng.keyed_normals(s.seed, s.replication, rng.CLINICIAN_VIEW, [patients, disciplines, seqs], 1)[:, 0]

    def _block(self, b: int) -> array:
        """Offsets of patients b*PATIENT_BATCH onwards, row-major by (patient, discipline, sequence < SEQS)."""
        block = self._blocks.get(b)
        if block is None:
            n, w = rng.PATIENT_BATCH, self.width
            ids = np.repeat(np.arange(b * n, (b + 1) * n, dtype=np.int64), w)
            slot = np.tile(np.arange(w, dtype=np.int64), n)
            block = array("d", (self.sd * self._normals(ids, slot // SEQS, slot % SEQS)).tobytes())
            self._blocks[b] = block  # kept: a patient may start a dyad long after referral (8 doubles a patient)
        return block

    def offset(self, patient: int, discipline: int, seq: int) -> float:
        """The clinician's stable rating offset (0-1 units) for the ``seq``-th dyad of ``patient`` in ``discipline``."""
        if seq < SEQS:
            b, r = divmod(int(patient), rng.PATIENT_BATCH)
            return self._block(b)[r * self.width + int(discipline) * SEQS + int(seq)]
        one = np.array([patient], dtype=np.int64)
        return float(self.sd * self._normals(one, np.array([discipline], dtype=np.int64),
                                             np.array([seq], dtype=np.int64))[0])
