"""How a service's posts, referrals and caseload caps are laid out over its teams.

Two forms, one result (:class:`TeamLayout`): ``service.teams`` equal teams (each
discipline's posts dealt out in turn, referrals shared uniformly: the form the reference
configurations use), or ``service.team_list``, one entry per team with its own referral
rate, posts per discipline and caseload caps. Posts are dealt out in turn in both forms
(post k of a discipline goes to the next team that still has a post of it to fill), so
a service described team by team with equal teams builds the same clinicians, in the
same order and with the same random numbers, as ``service.teams``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from .config import Config, DisciplineConfig


@dataclass(frozen=True)
class TeamLayout:
    """Teams of one scenario: names, referral rates, posts and caps per (team, discipline)."""

    names: tuple[str, ...]
    referrals_per_week: tuple[float, ...]  # per team
    posts: tuple[tuple[int, ...], ...]  # posts[team][discipline]
    caps: tuple[tuple[int, ...], ...]  # caseload cap [team][discipline]
    uniform: bool  # referrals shared uniformly (the `service.teams` form)
    total_referrals_per_week: float  # the service's referral rate (the sum over its teams)

    @property
    def n_teams(self) -> int:
        """Number of teams."""
        return len(self.names)

    def team_of(self, u: float) -> int:
        """The team a referral joins, from its own uniform: in proportion to the teams' referral rates."""
        n = self.n_teams
        if self.uniform:
            return min(int(u * n), n - 1)
        total = self.total_referrals_per_week
        cum, acc = [], 0.0
        for r in self.referrals_per_week:
            acc += r / total
            cum.append(acc)
        return min(bisect.bisect_right(cum, u), n - 1)

    def placement(self, discipline: int) -> list[int]:
        """The team of each post of one discipline, in build order: dealt out one per team in turn."""
        left = [self.posts[t][discipline] for t in range(self.n_teams)]
        order: list[int] = []
        while any(left):
            for t in range(self.n_teams):
                if left[t] > 0:
                    order.append(t)
                    left[t] -= 1
        return order


def team_layout(cfg: Config, disciplines: list[DisciplineConfig]) -> TeamLayout:
    """The layout of ``cfg``'s teams (``disciplines`` with service.clinicians already applied)."""
    s = cfg.service
    if not s.team_list:
        n = int(s.teams)
        posts = tuple(tuple(len([k for k in range(int(d.count)) if k % n == t]) for d in disciplines)
                      for t in range(n))
        caps = tuple(tuple(int(d.caseload_cap) for d in disciplines) for _ in range(n))
        return TeamLayout(names=tuple(f"team_{t}" for t in range(n)),
                          referrals_per_week=tuple(float(s.referrals_per_week) / n for _ in range(n)),
                          posts=posts, caps=caps, uniform=True,
                          total_referrals_per_week=float(s.referrals_per_week))
    teams = s.team_list
    return TeamLayout(
        names=tuple(t.name for t in teams),
        referrals_per_week=tuple(float(t.referrals_per_week) for t in teams),
        posts=tuple(tuple(int(t.posts.get(d.name, 0)) for d in disciplines) for t in teams),
        caps=tuple(tuple(int(t.caseload_caps.get(d.name, d.caseload_cap)) for d in disciplines) for t in teams),
        uniform=False, total_referrals_per_week=float(sum(t.referrals_per_week for t in teams)))
