"""Who can take a patient: the clinicians of one team and discipline below their cap.

Allocation happens at every referral and every discharge, so it must not scan the whole
team: with 16 times the staff a scan costs 16 times as much per session. The index keeps
the free clinicians in id order (what allocation policies receive) and, for the
least-loaded rule, a heap by caseload (:class:`~simulation.lazyheap.LazyHeap`).
Clinicians of one discipline share its caseload cap, so the least relative load is the
least caseload.
"""

from __future__ import annotations

from bisect import insort
from typing import Optional

from .entities import Clinician
from .lazyheap import LazyHeap


def _clinician_id(c: Clinician) -> int:
    return c.id


def _current(entry: tuple) -> bool:
    """A (caseload, id, clinician) entry still describes a free clinician in post."""
    load, _, c = entry
    return c.active and c.caseload == load and load < c.caseload_cap


class FreeClinicians:
    """Clinicians in post below their cap, for one (team, discipline)."""

    __slots__ = ("in_order", "_by_load")

    def __init__(self) -> None:
        self.in_order: list[Clinician] = []  # id order: policies and ties rely on it
        self._by_load = LazyHeap(_current)  # (caseload, id, clinician)

    def join(self, c: Clinician) -> None:
        """A new clinician in post (the highest id so far)."""
        if c.caseload < c.caseload_cap:
            self.in_order.append(c)
            self._push(c)

    def leave(self, c: Clinician) -> None:
        """A clinician out of post (called after ``c.active`` is cleared)."""
        if c in self.in_order:
            self.in_order.remove(c)

    def caseload_changed(self, c: Clinician, delta: int) -> None:
        """Keep both orders after ``c.caseload`` moved by ``delta`` (+1 or -1)."""
        if not c.active:
            return
        if delta > 0 and c.caseload == c.caseload_cap:
            self.in_order.remove(c)
            return
        if delta < 0 and c.caseload == c.caseload_cap - 1:
            insort(self.in_order, c, key=_clinician_id)
        if c.caseload < c.caseload_cap:
            self._push(c)

    def least_loaded(self) -> Optional[Clinician]:
        """The free clinician with the smallest caseload, ties to the lowest id."""
        entry = self._by_load.first()
        return None if entry is None else entry[2]

    def _push(self, c: Clinician) -> None:
        self._by_load.push((c.caseload, c.id, c), len(self.in_order))
