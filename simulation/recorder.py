"""A packed row buffer for the session table.

The hot path packs each session's 17 values with one ``struct`` call onto a
``bytearray`` (85 bytes a session: 4 per id or index, 8 per day or rating, 1 per flag or
code), which costs about half of 17 ``array.append`` calls. The buffer is read as a numpy
structured array once at the end (or per part file when the table is streamed) and
turned into a DataFrame with 64-bit columns. No dicts, no pandas in the hot path. Fewer
bytes matter in large runs: the buffer streams through the same caches as the model.
"""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd

from .entities import REPAIR_OUTCOMES, RUPTURE_TYPES

# name, typecode (i: 4-byte int, widened to int64 in the table; d: 8-byte float; b: 1-byte int)
SESSION_COLUMNS = (
    ("patient_id", "i"),
    ("clinician_id", "i"),
    ("dyad_id", "i"),
    ("session_index", "i"),
    ("day", "d"),
    ("attended", "b"),
    ("alliance_latent", "d"),
    ("goals", "d"),
    ("tasks", "d"),
    ("bond", "d"),
    ("alliance_patient", "d"),
    ("alliance_clinician", "d"),
    ("rupture", "b"),
    ("repair", "b"),
    ("rupture_reported", "b"),
    ("unresolved", "b"),
    ("severity", "d"),
)
_STRUCT = {"i": "i", "d": "d", "b": "b"}
_NUMPY = {"i": "=i4", "d": "=f8", "b": "=i1"}
_TABLE = {"i": "int64", "d": "float64", "b": "int8"}  # column dtypes of the DataFrame
_FLAGS = ("attended", "rupture_reported", "unresolved")  # 0/1 bytes, bool columns in the table
_CODES = {"rupture": RUPTURE_TYPES, "repair": REPAIR_OUTCOMES}  # codes, categorical columns
ROW = struct.Struct("=" + "".join(_STRUCT[code] for _, code in SESSION_COLUMNS))
ROW_DTYPE = np.dtype([(name, _NUMPY[code]) for name, code in SESSION_COLUMNS])
BYTES_PER_SESSION = ROW.size


class SessionRecorder:
    """Append-only session log; ``add`` is bound once per run for speed."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._buf = bytearray()
        # The session step appends rows to ``buffer`` itself (session.record: a C struct
        # write when compiled). ``clear`` keeps the same buffer, so references stay valid.
        self.buffer = self._buf
        self.extend = extend = self._buf.extend
        self.pack = pack = ROW.pack

        def add(*row):
            extend(pack(*row))

        self.add = add if enabled else _ignore

    def __len__(self) -> int:
        return len(self._buf) // ROW.size

    def clear(self) -> None:
        """Drop every buffered row (``add`` keeps appending to the same buffer)."""
        del self._buf[:]

    def frame(self) -> pd.DataFrame:
        rows = np.frombuffer(self._buf, dtype=ROW_DTYPE)
        data = {}
        for name, code in SESSION_COLUMNS:  # every column in its final dtype: one DataFrame build
            if name in _FLAGS:
                data[name] = rows[name].astype(bool)
            elif name in _CODES:
                data[name] = pd.Categorical.from_codes(rows[name].astype(np.int8), categories=list(_CODES[name]))
            else:
                data[name] = rows[name].astype(_TABLE[code], copy=True)
        del rows  # release the buffer export so the bytearray can grow again
        return pd.DataFrame(data)


def _ignore(*_args) -> None:
    return None
