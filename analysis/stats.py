"""Intervals for comparing scenarios: paired (common random numbers) and unpaired.

Replication r of every scenario sees the same random streams, so the difference of two
scenarios is estimated from per-replication differences (a paired t-interval). The
unpaired (Welch) interval treats the scenarios as independent samples; it is reported
beside the paired one to show how much precision common random numbers buy.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from simulation.summary import mean_ci

__all__ = ["mean_ci", "paired_diff_ci", "unpaired_diff_ci", "compare", "proportion_ci"]


def paired_diff_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``a - b`` over replications present in both, with a paired t-interval."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired samples need the same replications")
    return mean_ci(a - b, level)


def unpaired_diff_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Difference of means ``a - b`` with a Welch t-interval (samples treated as independent)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        d = float(a.mean() - b.mean()) if len(a) and len(b) else np.nan
        return (d, np.nan, np.nan)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    d = float(a.mean() - b.mean())
    se = np.sqrt(va + vb)
    if se == 0:
        return (d, d, d)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df) * se)
    return (d, d - half, d + half)


def compare(kpis: pd.DataFrame, scenario: str, reference: str, kpi_names: Sequence[str],
            level: float = 0.95) -> pd.DataFrame:
    """Difference ``scenario - reference`` per KPI with paired and unpaired intervals."""
    a = kpis[kpis["scenario"] == scenario].set_index("replication")
    b = kpis[kpis["scenario"] == reference].set_index("replication")
    common = a.index.intersection(b.index)
    rows = []
    for k in kpi_names:
        d, lo, hi = paired_diff_ci(a.loc[common, k].to_numpy(), b.loc[common, k].to_numpy(), level)
        _, ulo, uhi = unpaired_diff_ci(a[k].to_numpy(), b[k].to_numpy(), level)
        rows.append({"scenario": scenario, "reference": reference, "kpi": k, "diff": d,
                     "paired_ci_low": lo, "paired_ci_high": hi,
                     "unpaired_ci_low": ulo, "unpaired_ci_high": uhi,
                     "n_replications": int(len(common))})
    return pd.DataFrame(rows)


def comparisons(kpis: pd.DataFrame, pairs: Sequence[tuple[str, str]], kpi_names: Sequence[str]) -> pd.DataFrame:
    """:func:`compare` for several (scenario, reference) pairs, stacked."""
    frames = [compare(kpis, s, r, kpi_names) for s, r in pairs if s != r]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def proportion_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """A share with its Wilson score interval (e.g. power estimated from replications)."""
    if n == 0:
        return (np.nan, np.nan, np.nan)
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # clamp: rounding can put an end a hair on the wrong side of p at 0 or 1
    return (p, min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def default_pairs(scenarios: Sequence[str], baseline: Optional[str]) -> list[tuple[str, str]]:
    """Every scenario against the baseline."""
    if baseline is None:
        return []
    return [(s, baseline) for s in scenarios if s != baseline]
