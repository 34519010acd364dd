"""A packed row buffer for the session table.

The session step (``session.record``) appends each session's 18 values to a ``bytearray``
as one packed row (93 bytes: 4 per id or index, 8 per day, rating or score, 1 per flag or code):
a C struct write when compiled, one ``struct`` call otherwise. The buffer is read as a numpy
structured array once at the end (or per part file when the table is streamed) and
turned into a DataFrame with 64-bit columns. No dicts, no pandas in the hot path. Fewer
bytes matter in large runs: the buffer streams through the same caches as the model.
"""

from __future__ import annotations

import struct
from typing import Callable, Optional

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
    ("anxiety_observed", "d"),  # the anxiety questionnaire's score (NaN: missed, or no anxiety measure)
)
_STRUCT = {"i": "i", "d": "d", "b": "b"}
_NUMPY = {"i": "=i4", "d": "=f8", "b": "=i1"}
_TABLE = {"i": "int64", "d": "float64", "b": "int8"}  # column dtypes of the DataFrame
_FLAGS = ("attended", "rupture_reported", "unresolved")  # 0/1 bytes, bool columns in the table
_CODES = {"rupture": RUPTURE_TYPES, "repair": REPAIR_OUTCOMES}  # codes, categorical columns
_LAST = ("anxiety_observed",)  # recorded columns placed after any derived ones (the table's column order)
ROW = struct.Struct("=" + "".join(_STRUCT[code] for _, code in SESSION_COLUMNS))
ROW_DTYPE = np.dtype([(name, _NUMPY[code]) for name, code in SESSION_COLUMNS])
BYTES_PER_SESSION = ROW.size


class SessionRecorder:
    """Append-only session log: ``buffer`` holds the rows ``session.record`` writes."""

    def __init__(self, enabled: bool, derive: Optional[Callable[[pd.DataFrame], pd.DataFrame]] = None):
        self.enabled = enabled
        self.derive = derive  # columns derived from the recorded ones (simulation.star), added in frame()
        # ``clear`` keeps this bytearray, so the session step's reference stays valid.
        self.buffer = bytearray()

    def __len__(self) -> int:
        return len(self.buffer) // ROW.size

    def clear(self) -> None:
        """Drop every buffered row (the same buffer is appended to afterwards)."""
        del self.buffer[:]

    def frame(self) -> pd.DataFrame:
        """The recorded sessions as a DataFrame, every column in its final dtype, with any derived columns."""
        rows = np.frombuffer(self.buffer, dtype=ROW_DTYPE)
        data = {}
        last = {name: rows[name].astype(np.float64, copy=True) for name in _LAST}
        for name, code in SESSION_COLUMNS:  # every column in its final dtype: one DataFrame build
            if name in _LAST:
                continue
            if name in _FLAGS:
                data[name] = rows[name].astype(bool)
            elif name in _CODES:
                data[name] = pd.Categorical.from_codes(rows[name].astype(np.int8), categories=list(_CODES[name]))
            else:
                data[name] = rows[name].astype(_TABLE[code], copy=True)
        del rows  # release the buffer export so the bytearray can grow again
        df = pd.DataFrame(data)
        if self.derive is not None:
            df = self.derive(df)
        for name, column in last.items():
            df[name] = column
        return df
