"""Read a run's session table lazily: only the columns, rows and batches asked for.

A large run's ``sessions.parquet`` (tens of millions of rows) need not fit in memory:
open it as a :class:`pyarrow.dataset.Dataset`, read a column subset with a filter pushed
down to the row groups, or iterate over it in batches.

    from analysis.sessions import read_sessions, iter_sessions
    df = read_sessions(run_dir, columns=["scenario", "patient_id", "alliance_patient"],
                       where=("scenario", "==", "reference"))
    for batch in iter_sessions(run_dir, columns=["rupture"]):
        ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional, Sequence

import pandas as pd


def open_sessions(run_dir: str | Path):
    """The run's session table as a lazy ``pyarrow.dataset.Dataset`` (nothing read yet)."""
    import pyarrow.dataset as ds

    path = Path(run_dir) / "sessions.parquet"
    if not path.exists():
        raise FileNotFoundError(f"no sessions.parquet in {run_dir} (was output.sessions=false?)")
    return ds.dataset(path, format="parquet")


def _filter(where: Optional[tuple]):
    if where is None:
        return None
    import pyarrow.compute as pc

    column, op, value = where
    field = pc.field(column)
    ops = {"==": field == value, "!=": field != value, "<": field < value, "<=": field <= value,
           ">": field > value, ">=": field >= value}
    if op == "in":
        return field.isin(list(value))
    if op not in ops:
        raise ValueError(f"unsupported operator {op!r}; use one of {', '.join([*ops, 'in'])}")
    return ops[op]


def read_sessions(run_dir: str | Path, columns: Optional[Sequence[str]] = None,
                  where: Optional[tuple] = None) -> pd.DataFrame:
    """Read ``columns`` (all if None) of the rows matching ``where=(column, op, value)``."""
    table = open_sessions(run_dir).to_table(columns=list(columns) if columns else None, filter=_filter(where))
    return table.to_pandas()


def iter_sessions(run_dir: str | Path, columns: Optional[Sequence[str]] = None, where: Optional[tuple] = None,
                  batch_rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
    """Yield the matching rows as DataFrames of at most ``batch_rows`` rows, in file order."""
    scanner = open_sessions(run_dir).scanner(columns=list(columns) if columns else None, filter=_filter(where),
                                             batch_size=batch_rows)
    for batch in scanner.to_batches():
        if batch.num_rows:
            yield batch.to_pandas()
