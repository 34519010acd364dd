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

    def inside(self, value: float) -> bool:
        """Whether ``value`` lies in the accepted range."""
        return bool(np.isfinite(value) and self.low <= value <= self.high)


TARGETS: dict[str, Target] = {}


def register_target(number: str, quantity: str, source: str, low: float, high: float, reference: str,
                    estimator: Callable[[Tables], float], interval: str = "t",
                    tables: tuple[str, ...] = ("patients",), definition: str = "") -> Target:
    """Add (or replace) a target; it then appears in every calibration report."""
    if interval not in ("t", "bootstrap"):
        raise ValueError(f"interval must be 't' or 'bootstrap', not {interval!r}")
    t = Target(str(number), quantity, source, float(low), float(high), reference, estimator, interval,
               tuple(tables), definition)
    TARGETS[t.number] = t
    return t
