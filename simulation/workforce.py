"""Staff turnover and sickness absence: clinicians leave, posts stay vacant, people fall ill.

Started by :meth:`Service.run` when ``turnover.annual_rate`` or
``turnover.absence_per_year`` is above zero. Everything is event-driven around the
dyads' session processes:

* **Turnover.** A clinician's time in post is exponential with hazard
  ``annual_rate`` per clinician-year, from the clinician's own uniform
  (``Service.clinician_tenure_uniform``): ``tenure = -ln(u) / annual_rate`` years. The
  same post therefore loses the same people on the same days in every scenario with the
  same turnover settings (common random numbers), and changing the rate rescales the
  same draws. ``annual_rate`` is thus the HR turnover rate: leavers per clinician-year
  in post (leavers / average headcount). The post stays vacant for
  ``recruitment_delay_days`` (``Service.vacancies`` counts vacant posts) and is then
  filled by a new clinician drawn from the same skill distribution
  (``Service.new_clinician``) in the same team and discipline, whose own tenure starts
  then.
* **The departing clinician's patients** go to the ``policy.on_leave`` policy:
  ``reassign`` (queue at once, with priority, for a colleague in the team) or ``hold``
  (wait without sessions for the replacement). Either way the change is recorded as a
  reassignment with cause ``turnover`` on the day of departure, carries the one-off
  transition dropout risk (``dropout.transition_turnover``), and the new dyad starts from carried-over team trust.
* **Sickness absence.** Episodes start as a Poisson process at ``absence_per_year`` per
  clinician-year in post (gaps counted from the end of the previous episode) and last
  an exponential time with mean ``absence_mean_days``, both drawn from the clinician's
  own absence stream. Sessions falling in an absence are cancelled or covered
  (``turnover.absence_cover``; see :meth:`SessionStep.start`).

The workforce sees the service only through :class:`simulation.ports.StaffPort`; what
happens to a departing clinician's patients is the on-leave policy's business.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .config import TurnoverConfig
    from .entities import Clinician
    from .policies import OnLeavePolicy
    from .ports import StaffPort

DAYS_PER_YEAR = 365.25
ABSENCE_BLOCK = 64  # absence episodes drawn at once per clinician


def tenure_days(u: float, annual_rate: float) -> float:
    """Time in post (days) from a uniform: exponential with hazard ``annual_rate`` per year."""
    if annual_rate <= 0:
        return math.inf
    return -math.log(max(u, 1e-300)) / annual_rate * DAYS_PER_YEAR


class Workforce:
    """Turnover and absence processes of one service run."""

    def __init__(self, svc: "StaffPort", cfg: "TurnoverConfig", on_leave: "OnLeavePolicy"):
        self.svc = svc
        self.cfg = cfg
        self.on_leave = on_leave

    def start(self) -> None:
        """Enrol every clinician in post at the start."""
        for c in list(self.svc.clinicians):
            self.enrol(c)

    def enrol(self, c: "Clinician") -> None:
        """Start the turnover and absence processes of a clinician now in post."""
        env = self.svc.env
        if self.cfg.annual_rate > 0:
            tenure = tenure_days(self.svc.clinician_tenure_uniform(c), self.cfg.annual_rate)
            if c.start_day + tenure < self.svc.end_day:
                ev = env.timeout(c.start_day + tenure - env.now)
                ev.callbacks.append(lambda _ev, c=c: self.leave(c))
        if self.cfg.absence_per_year > 0:
            env.process(self.absences(c))

    # ------------------------------------------------------------------ turnover
    def leave(self, c: "Clinician") -> None:
        """The clinician leaves today: out of post, the post vacant, their patients to the on-leave policy."""
        svc = self.svc
        now = svc.env.now
        svc.retire(c)
        c.leave_day = now
        if c.absent_until > now:
            c.absence_days -= c.absent_until - now  # the rest of the episode is not in post
            c.absent_until = now
        svc.change_vacancies(+1)
        dyads = sorted(c.patients_held, key=lambda dy: dy.id)
        self.on_leave.clinician_left(c, dyads)
        delay = float(self.cfg.recruitment_delay_days)
        if now + delay < svc.end_day:
            ev = svc.env.timeout(delay)
            ev.callbacks.append(lambda _ev, c=c: self.fill_post(c))

    def fill_post(self, old: "Clinician") -> None:
        """A replacement takes up ``old``'s post after the recruitment delay."""
        svc = self.svc
        svc.change_vacancies(-1)
        new = svc.new_clinician(team=old.team, discipline=old.discipline, day=svc.env.now)
        self.enrol(new)
        self.on_leave.post_filled(old, new)
        svc.fill(new.team, new.discipline)

    # ------------------------------------------------------------------ absence
    def absences(self, c: "Clinician"):
        """simpy process: sickness-absence episodes of one clinician while in post."""
        svc = self.svc
        env = svc.env
        gen = svc.absence_stream(c)
        rate_per_day = self.cfg.absence_per_year / DAYS_PER_YEAR
        mean_days = float(self.cfg.absence_mean_days)
        i = ABSENCE_BLOCK
        draws = None
        while True:
            if i == ABSENCE_BLOCK:
                draws = gen.standard_exponential((ABSENCE_BLOCK, 2)).tolist()
                i = 0
            gap, length = draws[i]
            i += 1
            gap /= rate_per_day
            length *= mean_days
            if env.now + gap >= svc.end_day:
                return
            yield env.timeout(gap)
            if not c.active:
                return
            c.absence_episodes += 1
            end = min(env.now + length, svc.end_day)
            c.absent_until = env.now + length
            c.absence_days += end - env.now
            if env.now + length >= svc.end_day:
                return
            yield env.timeout(length)
            if not c.active:
                return


def start_workforce(svc: "StaffPort", cfg: "TurnoverConfig", on_leave: "OnLeavePolicy") -> Workforce:
    """Create the service's :class:`Workforce` and start every clinician's processes."""
    wf = Workforce(svc, cfg, on_leave)
    wf.start()
    return wf
