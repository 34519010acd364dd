"""Stream the session table to Parquet part files while a replication runs.

For runs of tens of millions of sessions the in-memory session table (about 90 bytes a
session in column buffers, several times that as a DataFrame) is what grows without
bound. With ``output.stream_sessions=true`` a simpy process checks the recorder once a
simulated week and, past ``output.stream_rows`` rows, writes the buffered rows to the next
``part-NNNNN.parquet`` in a directory private to this chunk (scenario x replication), then
empties the buffers. The rows, their order and their types are exactly those of the
in-memory table; the runner later concatenates the parts of all chunks into the run's
``sessions.parquet`` row group by row group, so memory stays bounded end to end.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from .recorder import SessionRecorder

CHECK_EVERY_DAYS = 7.0  # how often (simulated days) the buffer size is checked


class SessionStream:
    """Owns one chunk's part directory; flushes the recorder's buffers into it."""

    def __init__(self, recorder: SessionRecorder, directory: Path, rows: int, scenario: str, replication: int):
        self.recorder = recorder
        self.directory = Path(directory)
        self.rows = int(rows)
        self.scenario = scenario
        self.replication = int(replication)
        self.parts: list[Path] = []
        # A previous, interrupted attempt at this chunk may have left parts behind.
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)

    def process(self, env):
        """simpy process: flush whenever the buffer holds ``rows`` rows or more."""
        while True:
            yield env.timeout(CHECK_EVERY_DAYS)
            if len(self.recorder) >= self.rows:
                self.flush()

    def flush(self, force: bool = False) -> None:
        """Write the buffered rows (if any, or an empty part when ``force``) and clear them."""
        if len(self.recorder) == 0 and not force:
            return
        df = self.recorder.frame()
        self.recorder.clear()
        df.insert(0, "replication", np.int64(self.replication))
        df.insert(0, "scenario", self.scenario)
        path = self.directory / f"part-{len(self.parts):05d}.parquet"
        df.to_parquet(path, index=False)
        self.parts.append(path)

    def close(self) -> list[Path]:
        """Flush the rest; a chunk without sessions still gets one (empty) part for its schema."""
        self.flush(force=not self.parts)
        return self.parts


def part_files(directory: Path) -> list[Path]:
    """The part files of one chunk, in write order."""
    return sorted(Path(directory).glob("part-*.parquet"))
