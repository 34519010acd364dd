"""The manifest of a run in progress: ``completed: false`` plus how many chunks are done.

Written when a run starts and after every finished chunk (a few hundred bytes, atomic),
so a run directory always says whether its tables are complete; :func:`write_run`
replaces it with the full manifest (``completed: true``) at the very end. A killed run
therefore leaves ``completed: false`` and the count of chunks it had saved (the tables of
an earlier run are removed when a run starts, see simulation/rundir.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from .io import atomic_write_json


class RunProgress:
    """Keeps ``RUN_DIR/manifest.json`` up to date while chunks finish."""

    def __init__(self, run_dir: Path, scenarios: list[str], seed: int, total: int, reused: int):
        self.path = Path(run_dir) / "manifest.json"
        self.state = {"completed": False, "scenarios": scenarios, "seed": seed, "chunks_total": total,
                      "chunks_reused": reused, "chunks_computed": 0, "chunks_done": reused,
                      "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self._write()

    def chunk_done(self) -> None:
        """Count a computed chunk and save the progress file, so a watcher (the page) sees it."""
        self.state["chunks_computed"] += 1
        self.state["chunks_done"] += 1
        self._write()

    def _write(self) -> None:
        self.state["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write_json(self.path, self.state)

