"""Writing and reading run directories, atomically.

Every file is written to a temporary name in the same directory and renamed into place,
so a killed run never leaves a table that looks complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

SMALL_ROWS = 200_000  # tables at most this long are also written as CSV


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file through a temporary and a rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (sorted keys, so manifests diff cleanly)."""
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def write_table(df: pd.DataFrame, path_stem: Path, fmt: str = "parquet", csv_if_small: bool = True) -> list[Path]:
    """Write ``df`` as ``<stem>.parquet`` (and ``.csv`` if small or asked); return the paths."""
    written = []
    path_stem = Path(path_stem)
    if fmt == "parquet":
        p = path_stem.with_suffix(".parquet")
        _atomic_via(p, lambda tmp: df.to_parquet(tmp, index=False))
        written.append(p)
    if fmt == "csv" or (csv_if_small and len(df) <= SMALL_ROWS):
        p = path_stem.with_suffix(".csv")
        _atomic_via(p, lambda tmp: df.to_csv(tmp, index=False))
        written.append(p)
    return written


def _atomic_via(path: Path, writer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_table(run_dir: Path, name: str) -> pd.DataFrame:
    """Read ``name`` from a run directory (Parquet preferred, CSV otherwise)."""
    run_dir = Path(run_dir)
    pq = run_dir / f"{name}.parquet"
    if pq.exists():
        return pd.read_parquet(pq)
    csv = run_dir / f"{name}.csv"
    if csv.exists():
        return pd.read_csv(csv)
    raise FileNotFoundError(f"no table '{name}' in {run_dir}")


def read_manifest(run_dir: Path) -> dict:
    """A run directory's manifest.json as a dict."""
    return json.loads((Path(run_dir) / "manifest.json").read_text())


def concat_parquet(parts: list[Path], path: Path) -> int:
    """Concatenate Parquet files with one schema into ``path``, one row group at a time.

    Memory stays at about one row group whatever the total size; written atomically.
    Returns the number of rows.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    rows = 0
    try:
        writer = None
        for part in parts:
            pf = pq.ParquetFile(part)
            if writer is None:
                writer = pq.ParquetWriter(tmp, pf.schema_arrow)
            for i in range(pf.num_row_groups):
                table = pf.read_row_group(i)
                if table.num_rows:
                    writer.write_table(table)
                    rows += table.num_rows
        if writer is None:
            raise ValueError("no part files to concatenate")
        writer.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return rows
