"""A reusable simpy event for chains of self-scheduling callbacks (sessions, referrals).

A dyad's sessions and the referral stream are chains: each event does its work and books
the next. As simpy processes each link would cost a new ``Timeout`` and a generator
resumption; as a :class:`Wake` it costs one heap push and one callback. The order of
events is still simpy's: (time, priority, insertion order).

:func:`run_until` is simpy's ``Environment.run(until)`` with its ``step`` loop in one
function: compiled (setup.py), the loop costs no Python frame per event. It processes
the same events in the same order, with simpy's handling of failures and of the stop.
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import Callable

import cython
import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import URGENT, Event

NORMAL = simpy.events.NORMAL  # the priority of ordinary (timeout-like) events
NAN = float("nan")


def run_until(env: simpy.Environment, until: float) -> None:
    """``env.run(until=until)`` for a numeric ``until``: simpy 4's run and step, fused.

    Line for line the logic of ``simpy.core.Environment.run``/``step`` (simpy>=4.1,<5):
    an URGENT stop event at ``until``; each step pops the earliest event, sets the clock,
    runs its callbacks, and re-raises a failed event that nobody defused.
    """
    at = until if isinstance(until, int) else float(until)
    if at <= env.now:
        raise ValueError(f"until ({at}) must be greater than the current simulation time")
    stop = Event(env)
    stop._ok = True
    stop._value = None
    env.schedule(stop, URGENT, at - env.now)
    stop.callbacks.append(StopSimulation.callback)
    queue = env._queue
    try:
        while True:
            try:
                env._now, _, _, event = heappop(queue)
            except IndexError:
                raise EmptySchedule from None
            callbacks, event.callbacks = event.callbacks, None
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation:
                event.callbacks = callbacks[callbacks.index(callback) + 1:]
                env.schedule(event, simpy.events.EventPriority(-1))
                raise
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
    except StopSimulation:
        return
    except EmptySchedule:
        raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {stop}') from None


@cython.final
@cython.cclass
class Wake:
    """One link of a chain, re-booked with :meth:`book` or :meth:`book_at` after it fires.

    simpy's ``Environment.step`` needs only ``callbacks`` and ``_ok`` of an event it pops
    and sets ``callbacks`` to None; booking restores them. Nothing waits on a Wake, so it
    is never triggered twice. The callback receives the Wake itself, so it need not close
    over it (no reference cycle: the chain is freed when it stops booking).

    Booking writes the heap entry ``Environment.schedule`` would, ``(time, NORMAL, id,
    event)``, into simpy's own queue with simpy's own counter: this class is the one
    place outside simpy that writes its scheduling state. Compiled (``events.pxd``), the
    session step calls :meth:`book_at` as a C method: no Python frame per session.
    """

    def __init__(self, env: simpy.Environment, callback: Callable[["Wake"], None]):
        self.env = env
        self.again = [callback]  # step() iterates it and never changes it, so it is reused
        self.callbacks = None
        self._ok = True
        self._value = None
        self.at = NAN
        self._queue = env._queue  # simpy keeps one heap list and one id counter per environment
        self._eid = env._eid

    @cython.ccall
    def book(self, delay) -> cython.void:
        """Fire the callback ``delay`` days from now (``env.schedule(self, NORMAL, delay)``)."""
        at = self.env._now + delay
        self.at = at
        self.callbacks = self.again
        heappush(self._queue, (at, NORMAL, next(self._eid), self))

    @cython.ccall
    def book_at(self, at: cython.double) -> cython.void:
        """Fire the callback on day ``at`` (not before now): the session step's booking."""
        self.at = at
        self.callbacks = self.again
        heappush(self._queue, (at, NORMAL, next(self._eid), self))
