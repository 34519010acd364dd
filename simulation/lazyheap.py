"""A heap whose entries may go stale, for indexes that change faster than they are read.

Removing an arbitrary entry from a heap costs a scan, so entries are left in place when
they stop counting (a patient was allocated, a caseload moved on) and skipped when they
reach the top. When the heap holds many more entries than the caller expects to be live,
the stale ones (and duplicates) are dropped in one pass, so its length follows the live
count, not the length of the run.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable, Optional


class LazyHeap:
    """Entries are tuples ordered as a heap; ``live(entry)`` says whether one still counts."""

    __slots__ = ("items", "_live")

    def __init__(self, live: Callable[[Any], bool]):
        self.items: list = []
        self._live = live

    def push(self, entry: tuple, expected_live: int) -> None:
        """Add ``entry``; compact first if the heap has reached twice ``expected_live`` (+64)."""
        items = self.items
        if len(items) >= 2 * expected_live + 64:
            live = self._live
            items[:] = list(dict.fromkeys(e for e in items if live(e)))
            heapq.heapify(items)
        heapq.heappush(items, entry)

    def first(self) -> Optional[tuple]:
        """The smallest live entry, dropping the stale ones above it; None when empty."""
        items = self.items
        live = self._live
        while items:
            if live(items[0]):
                return items[0]
            heapq.heappop(items)
        return None

    def pop(self) -> tuple:
        """Remove and return the smallest entry (call after :meth:`first`)."""
        return heapq.heappop(self.items)
