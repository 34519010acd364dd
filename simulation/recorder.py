"""Column buffers for the session table.

Sessions are appended to typed ``array.array`` columns (8 bytes a float, 4 an int) and
turned into a DataFrame once at the end, so the hot path builds no dicts and touches no
pandas. About 90 bytes are kept per session.
"""

from __future__ import annotations

from array import array

import numpy as np
import pandas as pd

from .entities import REPAIR_OUTCOMES, RUPTURE_TYPES

# name, array typecode
SESSION_COLUMNS = (
    ("patient_id", "l"),
    ("clinician_id", "l"),
    ("dyad_id", "l"),
    ("session_index", "l"),
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
BYTES_PER_SESSION = sum(array(t).itemsize for _, t in SESSION_COLUMNS)


class SessionRecorder:
    """Append-only session log; ``add`` is bound once per run for speed."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.columns = {name: array(code) for name, code in SESSION_COLUMNS}
        cols = [self.columns[name].append for name, _ in SESSION_COLUMNS]
        (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16) = cols

        def add(pid, cid, did, n, day, attended, a, g, t, b, rp, rc, rupture, repair, reported, unresolved, sev):
            a0(pid); a1(cid); a2(did); a3(n); a4(day); a5(attended); a6(a); a7(g); a8(t); a9(b)
            a10(rp); a11(rc); a12(rupture); a13(repair); a14(reported); a15(unresolved); a16(sev)

        self.add = add if enabled else _ignore

    def __len__(self) -> int:
        return len(self.columns["day"])

    def clear(self) -> None:
        """Empty the buffers in place (``add`` keeps appending to the same arrays)."""
        for col in self.columns.values():
            del col[:]

    def frame(self) -> pd.DataFrame:
        data = {}
        for name, code in SESSION_COLUMNS:
            arr = np.frombuffer(self.columns[name], dtype=np.dtype(code)) if len(self.columns[name]) else \
                np.zeros(0, dtype=np.dtype(code))
            data[name] = arr.copy()
        df = pd.DataFrame(data)
        df["attended"] = df["attended"].astype(bool)
        df["rupture_reported"] = df["rupture_reported"].astype(bool)
        df["unresolved"] = df["unresolved"].astype(bool)
        df["rupture"] = pd.Categorical.from_codes(df["rupture"].to_numpy(), categories=list(RUPTURE_TYPES))
        df["repair"] = pd.Categorical.from_codes(df["repair"].to_numpy(), categories=list(REPAIR_OUTCOMES))
        for name in ("patient_id", "clinician_id", "dyad_id", "session_index"):
            df[name] = df[name].astype("int64")
        return df


def _ignore(*_args) -> None:
    return None
