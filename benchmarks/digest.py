"""Digests of the tables of four reference cases, to show a refactor changed no result.

    python benchmarks/digest.py > before.txt   # on the old code
    python benchmarks/digest.py > after.txt    # on the new code
    diff before.txt after.txt                  # empty: every table is bit-identical

Each table is hashed from its values and dtypes (not its file bytes, which carry library
versions), column by column in a fixed order.
"""

from __future__ import annotations

import hashlib
import sys

import pandas as pd

CASES = {
    "A": ["experiment=null", "run.replications=2", "run.horizon_days=365", "run.warmup_days=90"],
    "B": ["experiment=null", "reference=community_team", "run.replications=2", "run.horizon_days=365",
          "run.warmup_days=365"],
    "B_turnover_cover": ["experiment=null", "reference=community_team", "run.replications=1",
                         "run.horizon_days=365", "run.warmup_days=365", "turnover.absence_cover=true",
                         "policy.on_leave=hold"],
    "A_threshold_renege": ["experiment=null", "run.replications=2", "run.horizon_days=365",
                           "run.warmup_days=90", "policy=alliance_threshold", "service.renege_per_week=0.2",
                           "policy.allocation=matched"],
}


def table_digest(df: pd.DataFrame) -> str:
    """SHA-256 over column names, dtypes and values (NaN-safe, order-sensitive)."""
    h = hashlib.sha256()
    for col in df.columns:
        s = df[col]
        h.update(f"{col}:{s.dtype}".encode())
        h.update(pd.util.hash_pandas_object(s, index=False).values.tobytes())
    return h.hexdigest()[:16]


def main(argv: list[str]) -> None:
    from simulation.api import run

    extra = argv[1:]
    for name, overrides in CASES.items():
        res = run(overrides + extra)
        for table in sorted(res.tables):
            if table == "summary":
                continue
            df = res.tables[table]
            print(f"{name} {table} rows={len(df)} {table_digest(df)}")


if __name__ == "__main__":
    main(sys.argv)
