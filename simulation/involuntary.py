"""Care under compulsion: a Community Treatment Order's start at referral, its renewals and end, and its effects.

A share ``involuntary.share`` of referrals arrives under a CTO (Mental Health Act 1983
s.17A). The order lasts ``period_days`` (six months), is renewed once for the same
period and then yearly (s.20A), each time with probability ``renewal_prob``; when it is
not renewed the patient becomes voluntary. While under compulsion the patient's
precomputed offsets shift new dyads' potentials and the DNA and dropout log-odds; the
session step reads them as doubles. Every draw comes from the patient's own stream
(purpose ``rng.INVOLUNTARY``), so the same patients are under the same orders for the
same days in every scenario. Sources: README "Involuntary care".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import rng
from .events import Wake

if TYPE_CHECKING:  # pragma: no cover
    import simpy

    from .config import InvoluntaryConfig
    from .entities import Patient

WIDTH = 32  # uniforms per patient: column 0 the status at referral, column k the k-th renewal
LEGAL_STATUSES = ("voluntary", "involuntary")  # the patients table's legal_status


def shift_logit(p: float, delta: float) -> float:
    """A probability moved by ``delta`` on the logit scale (potentials change with the legal status)."""
    p = min(1.0 - 1e-12, max(1e-12, p))
    return 1.0 / (1.0 + math.exp(-(math.log(p / (1.0 - p)) + delta)))


class Compulsion:
    """Who is under a CTO, when each order ends, and what compulsion does to the patient's offsets."""

    def __init__(self, cfg: "InvoluntaryConfig", env: "simpy.Environment", streams: rng.Streams, end_day: float):
        self.cfg = cfg
        self.env = env
        self.end_day = end_day
        self._u = rng.BatchedRows(streams, rng.INVOLUNTARY, (0,), WIDTH,
                                  lambda g, n, w: g.random((n, w)), rng.PATIENT_BATCH)

    def at_referral(self, p: "Patient") -> None:
        """Draw the referral's legal status; an order's first expiry is booked ``period_days`` on."""
        if self._u.row(p.id)[0] < self.cfg.share:
            p.involuntary_at_referral = True
            self.set_status(p, True)
            self._book(p, self.cfg.period_days, 1)

    def set_status(self, p: "Patient", involuntary: bool) -> None:
        """Change the legal status: the patient's offsets, and the potentials of the dyads they hold now."""
        if bool(p.involuntary) == involuntary:
            return
        c = self.cfg
        p.involuntary = involuntary
        p.potential_offset = c.potential_shift if involuntary else 0.0
        p.dna_offset = c.dna_shift if involuntary else 0.0
        p.dropout_offset = c.dropout_shift if involuntary else 0.0
        delta = c.potential_shift if involuntary else -c.potential_shift
        if delta:
            for dy in p.dyads:
                dy.potential_goals = shift_logit(dy.potential_goals, delta)
                dy.potential_tasks = shift_logit(dy.potential_tasks, delta)
                dy.potential_bond = shift_logit(dy.potential_bond, delta)

    def _book(self, p: "Patient", days: float, k: int) -> None:
        if self.env.now + days >= self.end_day:
            return
        Wake(self.env, lambda wake: self._expire(p, k)).book(days)

    def _expire(self, p: "Patient", k: int) -> None:
        """The order's k-th expiry: renewed with ``renewal_prob`` (then yearly after the first), else ended.

        A patient who has left the team keeps the status they left with (nothing is booked after an exit).
        """
        if p.exited:
            return
        u = self._u.row(p.id)[k] if k < WIDTH else 1.0
        if u < self.cfg.renewal_prob:
            self._book(p, self.cfg.period_days if k == 1 else self.cfg.later_period_days, k + 1)
        else:
            self.set_status(p, False)
            p.compulsion_end_day = self.env.now
