"""The list of files a saved chunk holds, with sizes and SHA-256 digests.

A chunk directory is written with ``FILES.json`` (every file's relative path, size and
SHA-256, plus the config digest the chunk was computed for) and then the ``DONE`` marker.
A rerun reuses the chunk only if the list is there, names the tables the current config
expects, every listed file is present with its size and digest and no other file is there;
a missing, truncated, corrupted or foreign file makes the chunk a miss, and it is recomputed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

FILE_LIST = "FILES.json"
DONE = "DONE"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (memory stays small)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_file_list(chunk: Path, config: str) -> None:
    """Record every file under ``chunk`` (size, SHA-256) in ``FILES.json``; call before ``DONE``."""
    chunk = Path(chunk)
    files = {p.relative_to(chunk).as_posix(): {"bytes": p.stat().st_size, "sha256": file_digest(p)}
             for p in sorted(chunk.rglob("*")) if p.is_file() and p.name not in (FILE_LIST, DONE)}
    (chunk / FILE_LIST).write_text(json.dumps({"config": config, "files": files}, indent=1, sort_keys=True))


def verified_files(chunk: Path, config: str) -> Optional[list[str]]:
    """The chunk's listed files if it is finished, was computed for ``config`` and every file is intact; else None."""
    chunk = Path(chunk)
    try:
        if not (chunk / DONE).is_file():
            return None
        listing = json.loads((chunk / FILE_LIST).read_text())
        if listing.get("config") != config:
            return None
        present = {q.relative_to(chunk).as_posix() for q in chunk.rglob("*") if q.is_file()} - {FILE_LIST, DONE}
        if present != set(listing["files"]):  # a file lost, or one the chunk never wrote
            return None
        for rel, meta in listing["files"].items():
            path = chunk / rel
            if path.stat().st_size != meta["bytes"] or file_digest(path) != meta["sha256"]:
                return None
        return sorted(listing["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # missing or unreadable: recompute
        return None


def tables_of(files: list[str]) -> set[str]:
    """The table names a chunk's file list holds (``sessions/part-*`` counts as ``sessions``)."""
    return {rel.split("/", 1)[0] if "/" in rel else rel.rsplit(".", 1)[0] for rel in files}
