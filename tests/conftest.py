"""Shared fixtures: small, fast configurations composed once per session."""

from __future__ import annotations

import pytest

from simulation.api import run

SMALL = ["run.replications=2", "run.horizon_days=240", "run.warmup_days=60", "run.progress=false"]


@pytest.fixture(scope="session")
def small_run():
    """A small default run, reused by read-only tests."""
    return run(SMALL)
