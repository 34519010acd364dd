"""A reusable simpy event for chains of self-scheduling callbacks (sessions, referrals).

A dyad's sessions and the referral stream are chains: each event does its work and books
the next. As simpy processes each link would cost a new ``Timeout`` and a generator
resumption; as a :class:`Wake` it costs one heap push and one callback. The order of
events is still simpy's: (time, priority, insertion order).
"""

from __future__ import annotations

from typing import Callable

import simpy

NORMAL = simpy.events.NORMAL  # the priority of ordinary (timeout-like) events


class Wake:
    """One link of a chain, re-booked with :meth:`book` after it fires.

    simpy's ``Environment.step`` needs only ``callbacks`` and ``_ok`` of an event it pops
    and sets ``callbacks`` to None; :meth:`book` restores them. Nothing waits on a Wake,
    so it is never triggered twice. The callback receives the Wake itself, so it need
    not close over it (no reference cycle: the chain is freed when it stops booking).
    """

    __slots__ = ("env", "callbacks", "again", "_ok", "_value")

    def __init__(self, env: simpy.Environment, callback: Callable[["Wake"], None]):
        self.env = env
        self.again = [callback]  # step() iterates it and never changes it, so it is reused
        self.callbacks = None
        self._ok = True
        self._value = None

    def book(self, delay: float) -> None:
        """Fire the callback ``delay`` days from now."""
        self.callbacks = self.again
        self.env.schedule(self, NORMAL, delay)
