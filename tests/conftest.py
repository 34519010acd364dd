"""Shared fixtures: small, fast configurations composed once per session."""

from __future__ import annotations

import math

import pytest

from simulation.api import run

SMALL = ["run.replications=2", "run.horizon_days=240", "run.warmup_days=60", "run.progress=false"]


@pytest.fixture(scope="session")
def small_run():
    """A small default run, reused by read-only tests."""
    return run(SMALL)


def make_dyad(goals: float = 0.6, tasks: float = 0.6, bond: float = 0.6):
    """A hand-built patient, clinician and dyad (no service) for unit tests of the rupture model."""
    from simulation import rng
    from simulation.entities import Clinician, Dyad, Patient

    p = Patient(id=0, referral_day=0.0, group="cmd", baseline_severity=15, baseline_observed=15, severity=15,
                capacity_z=0.0, sensitivity_z=0.0, engagement_z=0.0, response_rate=0.02, rating_bias=0.0,
                style=(0.0,), max_sessions=10, measured=True, renege_day=math.inf)
    c = Clinician(id=0, team=0, discipline=0, alliance_skill=0.0, outcome_skill=1.0, detection_logit=0.0,
                  repair_logit=0.0, rater_bias=0.0, style=(0.0,), caseload_cap=20, comfortable_caseload=16,
                  start_day=0.0)
    d = Dyad(id=0, patient=p, clinician=c, discipline=0, tape=rng.Tape([], [], (0,)), weight=1.0, start_day=0.0,
             goals=goals, tasks=tasks, bond=bond, potential_goals=0.8, potential_tasks=0.8, potential_bond=0.8)
    d.alliance = (goals + tasks + bond) / 3
    return d, c, p
