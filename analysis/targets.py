"""The calibration-target registry: a published figure, its accepted range and its estimator.

Modules that define targets (``analysis.calibration`` for reference A,
``analysis.targets_community`` for B) add them with :func:`register_target`;
``analysis.calibration`` estimates every registered target for a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

Tables = dict[str, pd.DataFrame]
ROLES = ("fitted", "validation")
NO_RANGE = (np.nan, np.nan)  # a companion row that reports a number with no accepted range


@dataclass(frozen=True)
class Target:
    """One published figure and its estimator.

    ``estimator(tables) -> float`` receives one scenario's tables: a single replication
    (``interval="t"``) or all replications pooled (``interval="bootstrap"``).
    """

    number: str
    quantity: str
    source: str
    low: float
    high: float
    reference: str  # reference configuration the target applies to
    estimator: Callable[[Tables], float]
    interval: str = "t"  # t | bootstrap
    tables: tuple[str, ...] = ("patients",)  # tables the estimator reads
    definition: str = ""  # how the quantity is computed from the tables
    role: str = "fitted"  # fitted (tuned to) | validation (never used in tuning)
    companion_of: str = ""  # number of the target this row reports another definition of

    @property
    def has_range(self) -> bool:
        """A companion row may report a number with no accepted range."""
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    def inside(self, value: float) -> bool:
        """Whether ``value`` lies in the accepted range (False without a range)."""
        return bool(self.has_range and np.isfinite(value) and self.low <= value <= self.high)


TARGETS: dict[str, Target] = {}


def register_target(number: str, quantity: str, source: str, low: float, high: float, reference: str,
                    estimator: Callable[[Tables], float], interval: str = "t",
                    tables: tuple[str, ...] = ("patients",), definition: str = "", role: str = "fitted",
                    companion_of: str = "") -> Target:
    """Add (or replace) a target; it then appears in every calibration report."""
    if interval not in ("t", "bootstrap"):
        raise ValueError(f"interval must be 't' or 'bootstrap', not {interval!r}")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    t = Target(str(number), quantity, source, float(low), float(high), reference, estimator, interval,
               tuple(tables), definition, role, str(companion_of))
    TARGETS[t.number] = t
    return t


def measured_sessions(t: Tables) -> pd.DataFrame:
    """Attended sessions of measured patients: the population of the session-level targets."""
    s = t["sessions"]
    ids = t["patients"].loc[t["patients"]["measured"], "patient_id"]
    return s[s["attended"] & s["patient_id"].isin(ids)]
