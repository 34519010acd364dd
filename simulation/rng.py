"""Random streams keyed by purpose, replication and entity (common random numbers).

One master seed fans out through :class:`numpy.random.SeedSequence` into independent
streams. A stream is identified by ``(replication, purpose, *keys)``, never by the order
in which the model happens to ask for numbers, so two scenarios of the same replication
see the same referrals, the same patients and clinicians, and the same per-session draws
for every dyad wherever they do not differ.

Per-session randomness comes from *tapes*: each dyad gets fixed-layout arrays of uniforms
and standard normals, pre-drawn in batches. Session ``n`` of a dyad always reads the same
slots whatever happened before, which keeps scenarios synchronised and keeps the hot path
free of one-at-a-time numpy calls.
"""

from __future__ import annotations

from array import array

import numpy as np

# Purposes (stable integers: changing one changes every result).
ARRIVALS = 1
PATIENTS = 2
CLINICIANS = 3
TAPES = 4
TAPE_EXTENSION = 5
TURNOVER = 6
ABSENCE = 7
POLICY = 8
TRAINING = 9
PREFERENCE = 10  # patients' approach preferences and clinicians' approaches
ANXIETY = 11  # the anxiety questionnaire's patient offsets and per-measurement errors (simulation.anxiety)
INVOLUNTARY = 12  # patients' legal status at referral and the renewals of their Community Treatment Orders
STAR_ITEMS = 20  # item noise of STAR questionnaires (simulation.star), keyed by patient, clinician, session
ASSESSMENT = 13  # measurement noise of the follow-up assessments (MANSA, treatment satisfaction)
THERAPIST_DROPOUT = 31  # each clinician's own dropout log-odds shift (simulation.therapist_dropout), keyed by clinician
CLINICIAN_VIEW = 14  # the clinician's stable per-dyad rating offset (simulation.clinician_view), keyed by patient, discipline, dyad sequence

# Per-session tape layout.
N_UNIFORM = 12  # uniforms read by one session
N_NORMAL = 7  # normals read by one session
HEADER_NORMAL = 4  # dyad-constant normals before the first session's block
HEADER_UNIFORM = 2  # dyad-constant uniforms

# Names of the session slots (indices into one session's block).
(U_ATTEND, U_DROPOUT, U_RUPTURE, U_TYPE, U_SEVERITY, U_DETECT, U_REPAIR, U_GAIN, U_REPORT, U_POLICY,
 U_LATE_REPAIR, U_SPARE) = range(N_UNIFORM)
Z_GOALS, Z_TASKS, Z_BOND, Z_PATIENT_RATING, Z_CLINICIAN_RATING, Z_SYMPTOM, Z_MEASURE = range(N_NORMAL)

PATIENT_BATCH = 256  # patients whose attributes / first tapes are drawn together
CLINICIAN_BATCH = 64


class Streams:
    """Generators for one replication, created on demand from the master seed."""

    def __init__(self, seed: int, replication: int):
        self.seed = int(seed)
        self.replication = int(replication)

    def generator(self, purpose: int, *keys: int) -> np.random.Generator:
        """A fresh generator for ``(replication, purpose, *keys)``; same keys, same numbers."""
        ss = np.random.SeedSequence(self.seed, spawn_key=(self.replication, purpose, *keys))
        return np.random.Generator(np.random.PCG64(ss))


class BatchedRows:
    """Row ``i`` of an unbounded table of random numbers, drawn ``batch`` rows at a time.

    Row i depends only on (purpose, keys, i), so entity i gets the same numbers in every
    scenario. ``draw(gen, n, width)`` must return an ``(n, width)`` array.
    """

    def __init__(self, streams: Streams, purpose: int, keys: tuple[int, ...], width: int, draw, batch: int):
        self._streams = streams
        self._purpose = purpose
        self._keys = keys
        self._width = width
        self._draw = draw
        self._batch = batch
        self._cache: dict[int, np.ndarray] = {}

    def row(self, i: int) -> np.ndarray:
        """Row i of the stream, drawn in batches so row i is the same whatever was asked before."""
        b, r = divmod(i, self._batch)
        return self._block(b)[r]

    def _block(self, b: int):
        block = self._cache.get(b)
        if block is None:
            gen = self._streams.generator(self._purpose, *self._keys, b)
            block = self._convert(self._draw(gen, self._batch, self._width))
            self._cache[b] = block
            self._cache.pop(b - 2, None)  # entities arrive in order; old blocks are done
        return block

    @staticmethod
    def _convert(block: np.ndarray):
        return block


class DoubleRows(BatchedRows):
    """:class:`BatchedRows` whose rows come as ``array('d')`` copies, for tapes.

    A batch is converted to one flat ``array('d')`` once; a row is then a slice of it
    (one memory copy), which is cheaper than turning each numpy row into an array.
    """

    def row(self, i: int) -> array:
        """Row i as a C-double array slice (cheap for the compiled hot path)."""
        b, r = divmod(i, self._batch)
        w = self._width
        return self._block(b)[r * w:(r + 1) * w]

    @staticmethod
    def _convert(block: np.ndarray) -> array:
        return _doubles(block.ravel())


class Tape:
    """Pre-drawn uniforms ``u`` and normals ``z`` of one dyad, with its extension key.

    ``u`` and ``z`` are ``array.array('d')``: made from a numpy row by one memory copy
    (converting a row to a list of Python floats costs more than most dyads -- a handful
    of sessions -- ever read), indexed and sliced like lists, and every slot holds exactly
    the double the generator drew.
    """

    __slots__ = ("u", "z", "key", "extensions")

    def __init__(self, u: array, z: array, key: tuple[int, ...]):
        self.u = u
        self.z = z
        self.key = key
        self.extensions = 0


def _doubles(values: np.ndarray) -> array:
    """A numpy float64 vector as ``array('d')`` (one memory copy, no per-element conversion)."""
    out = array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).data.cast("B"))
    return out


class TapeSource:
    """Hands out per-dyad tapes keyed by (patient, discipline, dyad sequence).

    ``sessions_per_tape[d]`` sessions are drawn up front for a dyad of discipline ``d``
    (every slot is drawn whether used or not, so no more than most dyads need); a dyad
    that outlives its tape gets another ``sessions_per_tape[d]`` by :meth:`extend`.
    """

    def __init__(self, streams: Streams, sessions_per_tape: list[int]):
        self.streams = streams
        self.sessions = [int(n) for n in sessions_per_tape]
        self._first_u = [
            DoubleRows(streams, TAPES, (d, 0), HEADER_UNIFORM + n * N_UNIFORM, lambda g, n, w: g.random((n, w)),
                       PATIENT_BATCH)
            for d, n in enumerate(self.sessions)
        ]
        self._first_z = [
            DoubleRows(streams, TAPES, (d, 1), HEADER_NORMAL + n * N_NORMAL,
                       lambda g, n, w: g.standard_normal((n, w)), PATIENT_BATCH)
            for d, n in enumerate(self.sessions)
        ]

    def tape(self, patient: int, discipline: int, seq: int) -> Tape:
        """The tape of the ``seq``-th dyad of ``patient`` in ``discipline`` (0 = first)."""
        key = (patient, discipline, seq)
        if seq == 0:
            return Tape(self._first_u[discipline].row(patient), self._first_z[discipline].row(patient), key)
        gen = self.streams.generator(TAPES, 1000 + discipline, patient, seq)
        n = self.sessions[discipline]
        u = gen.random(HEADER_UNIFORM + n * N_UNIFORM)
        z = gen.standard_normal(HEADER_NORMAL + n * N_NORMAL)
        return Tape(_doubles(u), _doubles(z), key)

    def extend(self, tape: Tape) -> None:
        """Append another tape's worth of sessions (deterministic per tape and step)."""
        tape.extensions += 1
        n = self.sessions[tape.key[1]]
        gen = self.streams.generator(TAPE_EXTENSION, *tape.key, tape.extensions)
        tape.u.extend(_doubles(gen.random(n * N_UNIFORM)))
        tape.z.extend(_doubles(gen.standard_normal(n * N_NORMAL)))


# Counter-based draws for measurements derived from a finished table (no generator state).
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic): a keyed hash with good mixing."""
    # In place on one new array (the same arithmetic as the textbook expression, fewer temporaries).
    x = x + np.uint64(_GOLDEN)
    x ^= x >> np.uint64(30)
    x *= np.uint64(_MIX1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(_MIX2)
    x ^= x >> np.uint64(31)
    return x


def keyed_normals(seed: int, replication: int, purpose: int, keys: list, width: int) -> np.ndarray:
    """Normals ``(n, width)`` whose row i depends only on (seed, replication, purpose, keys[:][i]): CRN for derived tables."""
    # The same entity keys give the same numbers in every scenario, chunk and streamed part
    # file, whatever else the table holds. Vectorised (SplitMix64 hashing, Box-Muller): a
    # million rows cost a fraction of a second and no per-row generator.
    n = len(keys[0]) if keys else 0
    with np.errstate(over="ignore"):
        h = _splitmix(np.array([seed % 2 ** 64], dtype=np.uint64))
        for k in (replication, purpose):  # the same for every row: hashed once, then broadcast
            h = _splitmix(h ^ np.uint64(k % 2 ** 64))
        h = np.full(n, h[0], dtype=np.uint64)
        for col in keys:
            h = _splitmix(h ^ np.asarray(col).astype(np.int64).astype(np.uint64))
        slots = np.arange(2 * width, dtype=np.uint64)
        bits = _splitmix(h[:, None] ^ _splitmix(slots)[None, :]) >> np.uint64(11)
    u = (bits.astype(np.float64) + 0.5) * 2.0 ** -53  # in (0, 1): log and Box-Muller are safe
    u1, u2 = u[:, :width], u[:, width:]
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
