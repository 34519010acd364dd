"""Per-scenario KPI means with 95% intervals across replications."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from simulation.kpis import KPI_INFO, KPI_NAMES


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-based interval of independent replications (NaNs dropped)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return (np.nan, np.nan, np.nan)
    m = float(v.mean())
    if n == 1:
        return (m, np.nan, np.nan)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return (m, m - half, m + half)


def summarise(kpis: pd.DataFrame, baseline: Optional[str] = None,
              scenario_order: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Long table: scenario, kpi, mean, ci_low, ci_high, n, and paired differences from baseline."""
    order = list(scenario_order) if scenario_order else list(dict.fromkeys(kpis["scenario"]))
    rows = []
    base = kpis[kpis["scenario"] == baseline].set_index("replication") if baseline else None
    for sc in order:
        k = kpis[kpis["scenario"] == sc].set_index("replication")
        for kpi in KPI_NAMES:
            m, lo, hi = mean_ci(k[kpi].to_numpy())
            row = {"scenario": sc, "kpi": kpi, "mean": m, "ci_low": lo, "ci_high": hi,
                   "n_replications": int(k[kpi].notna().sum()), "denominator": KPI_INFO[kpi][0]}
            if base is not None:
                diff = (k[kpi] - base[kpi].reindex(k.index)).to_numpy()
                d, dlo, dhi = mean_ci(diff)
                row.update({"diff": d, "diff_ci_low": dlo, "diff_ci_high": dhi})
            rows.append(row)
    return pd.DataFrame(rows)
