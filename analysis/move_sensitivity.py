"""Policy results across the uncertain parameters of a move (an experiment's ``extra.sensitivity``).

Each point is one policy at one value of one parameter, compared with the comparator policy
(continuity) at the same value, replication by replication (paired, common random numbers).
From the points: ``sensitivity.csv``, the break-even value of each transition risk (where a
policy's dropout effect crosses zero) and a plain-words conclusion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.rundata import RunData
from analysis.stats import compare

COLUMNS = ["scenario", "parameter", "value", "kpi", "diff", "diff_ci_low", "diff_ci_high"]
DEFAULT_KPIS = ("dropout_rate", "reliable_recovery_rate")


def points(run: RunData) -> pd.DataFrame:
    """The sensitivity points the experiment ran: policy, parameter, value, scenario, reference."""
    return pd.DataFrame(run.extra.get("sensitivity_points") or [],
                        columns=["policy", "parameter", "value", "scenario", "reference"])


def sensitivity_kpis(run: RunData) -> list[str]:
    """The KPIs of the sensitivity analysis (``extra.sensitivity.kpis``; default dropout and reliable recovery)."""
    return list((run.extra.get("sensitivity") or {}).get("kpis") or DEFAULT_KPIS)


def policy_scenarios(run: RunData) -> dict[str, str]:
    """Policy -> its reference scenario (the one at the central values)."""
    return dict((run.extra.get("sensitivity") or {}).get("scenarios") or {})


def sensitivity_table(run: RunData) -> pd.DataFrame:
    """One row per policy x parameter x value x KPI: the paired difference from the comparator (sensitivity.csv)."""
    # ``scenario`` names the policy by its reference scenario (e.g. alliance_threshold_high_turnover),
    # whichever scenario ran at that value.
    pts = points(run)
    kpis = run.tables["kpis"]
    refs = policy_scenarios(run)
    rows = []
    for pt in pts.itertuples(index=False):
        comp = compare(kpis, pt.scenario, pt.reference, sensitivity_kpis(run))
        for c in comp.itertuples(index=False):
            rows.append({"scenario": refs.get(pt.policy, pt.policy), "parameter": pt.parameter,
                         "value": float(pt.value), "kpi": c.kpi, "diff": c.diff,
                         "diff_ci_low": c.paired_ci_low, "diff_ci_high": c.paired_ci_high})
    out = pd.DataFrame(rows, columns=COLUMNS)
    order = {p: i for i, p in enumerate(dict.fromkeys(out["parameter"]))}
    return out.sort_values(["parameter", "value"], key=lambda c: c.map(order) if c.name == "parameter" else c,
                           kind="stable").reset_index(drop=True)


def break_even(table: pd.DataFrame, kpi: str = "dropout_rate", prefix: str = "dropout.transition") -> pd.DataFrame:
    """Per policy and transition risk, the risk at which the policy's effect on ``kpi`` is zero (planners' threshold)."""
    # A straight line through the points (effect against risk); the root is reported with
    # whether it lies inside the values run (``inside``) or is extrapolated. A policy whose
    # effect does not change with the risk (the risk is not its own) has no break-even.
    rows = []
    sub = table[(table["kpi"] == kpi) & table["parameter"].str.startswith(prefix)]
    for (sc, par), g in sub.groupby(["scenario", "parameter"], sort=False):
        x, y = g["value"].to_numpy(float), g["diff"].to_numpy(float)
        if len(np.unique(x)) < 2 or not np.all(np.isfinite(y)):
            continue
        slope, intercept = np.polyfit(x, y, 1)
        root = -intercept / slope if abs(slope) > 1e-9 else np.nan
        if not 0.0 <= root <= 1.0:
            root = np.nan  # the effect keeps its sign at every possible risk (or does not depend on it)
        rows.append({"scenario": sc, "parameter": par, "break_even": root,
                     "inside": bool(np.isfinite(root) and x.min() <= root <= x.max()),
                     "slope_per_0.1": slope * 0.1})
    return pd.DataFrame(rows, columns=["scenario", "parameter", "break_even", "inside", "slope_per_0.1"])


def _verdict(row) -> str:
    if row.diff_ci_high < 0:
        return "lower"
    if row.diff_ci_low > 0:
        return "higher"
    return "unclear"


def conclusion(table: pd.DataFrame, label=lambda s: s, breaks: pd.DataFrame | None = None) -> list[str]:
    """Plain-words sentences: where each policy lowers or raises dropout (interval wholly below or above zero)."""
    out = []
    d = table[table["kpi"] == "dropout_rate"]
    for sc, g in d.groupby("scenario", sort=False):
        helps, harms = [], []
        for row in g.itertuples(index=False):
            v = _verdict(row)
            point = f"{row.parameter} = {row.value:g}"
            (helps if v == "lower" else harms if v == "higher" else []).append(point)
        rec = table[(table["kpi"] == "reliable_recovery_rate") & (table["scenario"] == sc)]
        rec_up = [f"{r.parameter} = {r.value:g}" for r in rec.itertuples(index=False) if _verdict(r) == "higher"]
        rec_down = [f"{r.parameter} = {r.value:g}" for r in rec.itertuples(index=False) if _verdict(r) == "lower"]
        parts = [f"**{label(sc)}**:"]
        parts.append("lowers dropout (helps) at " + "; ".join(helps) + "." if helps
                     else "never clearly lowers dropout over the ranges tried.")
        parts.append("It raises dropout (harms) at " + "; ".join(harms) + "." if harms
                     else "It never clearly raises dropout over the ranges tried.")
        if rec_up:
            parts.append("It raises reliable recovery at " + "; ".join(rec_up) + ".")
        if rec_down:
            parts.append("It lowers reliable recovery at " + "; ".join(rec_down) + ".")
        if breaks is not None:
            for b in breaks[(breaks["scenario"] == sc) & breaks["break_even"].notna()].itertuples(index=False):
                side = "lowers" if b[4] > 0 else "raises"
                parts.append(f"Its dropout effect crosses zero at {b.parameter} = {b.break_even:.2f}: below that risk "
                             f"the policy {side} dropout, above it the reverse"
                             + ("" if b.inside else " (extrapolated beyond the values run)") + ".")
        parts.append("Elsewhere the paired interval includes zero: more replications are needed to tell.")
        out.append(" ".join(parts))
    return out
