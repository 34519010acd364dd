"""Retention (time to dropout) as Kaplan–Meier curves, with lifelines.

Time scale: **attended sessions** since the first appointment (calibration target 7 and the
dropout hazard are both per session). The event is dropout (unilateral termination); every
other exit (recovery discharge, completed, DNA discharge, still in care at the end) is censored, so
a curve is "the share not yet dropped out", not "the share still attending". Only measured
patients who had a first appointment enter. Bands are lifelines' 95% pointwise intervals
(Greenwood, exponential transform); they treat patients as independent and so ignore
clustering within clinicians and replications. ``time_scale="weeks"`` uses weeks from the
first session instead.

Rupture status is a time-dependent exposure: a patient who stays longer has more chances
of a rupture, so grouping by "ever ruptured" would make ruptures look protective
(immortal-time bias). :func:`rupture_landmark` therefore uses a landmark: patients still
in treatment after their L-th attended session, grouped by what happened in sessions 1..L,
followed from session L on.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

RUPTURE_STATUSES = ("no rupture", "rupture repaired", "rupture unrepaired")


def retention_data(patients: pd.DataFrame, time_scale: str = "sessions") -> pd.DataFrame:
    """One row per measured patient who started: scenario, replication, duration, event."""
    p = patients[patients["measured"].astype(bool) & patients["first_session_day"].notna()]
    if time_scale == "sessions":
        duration = p["sessions_attended"].astype(float)
    elif time_scale == "weeks":
        duration = (p["exit_day"] - p["first_session_day"]).clip(lower=0) / 7.0
    else:
        raise ValueError(f"time_scale must be 'sessions' or 'weeks', not {time_scale!r}")
    out = p[["scenario", "replication", "patient_id"]].copy()
    out["duration"] = duration.to_numpy()
    out["event"] = (p["exit_reason"].astype(str) == "dropout").to_numpy()
    return out.reset_index(drop=True)


def kaplan_meier(data: pd.DataFrame, group: str, order: Optional[Sequence[str]] = None,
                 level: float = 0.95) -> pd.DataFrame:
    """Tidy KM curves per ``group``: group, time, survival, ci_low, ci_high, at_risk, n, events."""
    from lifelines import KaplanMeierFitter

    groups = list(order) if order is not None else list(dict.fromkeys(data[group]))
    frames = []
    for g in groups:
        d = data[data[group] == g]
        if d.empty:
            continue
        kmf = KaplanMeierFitter(alpha=1 - level)
        kmf.fit(d["duration"], event_observed=d["event"], label=str(g))
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        at_risk = kmf.event_table["at_risk"].reindex(sf.index)
        frames.append(pd.DataFrame({
            group: g, "time": sf.index.to_numpy(dtype=float), "survival": sf.to_numpy(),
            "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy(),
            "at_risk": at_risk.to_numpy(), "n": len(d), "events": int(d["event"].sum()),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=[group, "time", "survival", "ci_low", "ci_high", "at_risk", "n", "events"])


def survival_at(curves: pd.DataFrame, group: str, times: Sequence[float]) -> pd.DataFrame:
    """Read each curve (a step function) at ``times``: retention with its interval."""
    rows = []
    for g, c in curves.groupby(group, sort=False):
        c = c.sort_values("time")
        for t in times:
            upto = c[c["time"] <= t]
            if upto.empty:
                continue
            last = upto.iloc[-1]
            rows.append({group: g, "time": t, "survival": last["survival"], "ci_low": last["ci_low"],
                         "ci_high": last["ci_high"], "n": int(c["n"].iloc[0]), "events": int(c["events"].iloc[0])})
    return pd.DataFrame(rows)


def rupture_landmark(patients: pd.DataFrame, sessions: pd.DataFrame, landmark: int = 3,
                     scenario: Optional[str] = None) -> pd.DataFrame:
    """Retention after the ``landmark``-th attended session, by rupture status up to it.

    Status: "no rupture" in sessions 1..L; "rupture repaired" (ruptures, none unresolved
    after session L); "rupture unrepaired" (a rupture still unresolved after session L).
    Duration: further attended sessions after L; event: dropout.
    """
    if landmark < 1:
        raise ValueError("landmark must be >= 1 attended session")
    p = patients[patients["measured"].astype(bool) & (patients["sessions_attended"] >= landmark)]
    s = sessions[sessions["attended"].astype(bool)]
    if scenario is not None:
        p = p[p["scenario"] == scenario]
        s = s[s["scenario"] == scenario]
    keys = ["scenario", "replication", "patient_id"]
    s = s.sort_values([*keys, "day"], kind="stable")
    nth = s.groupby(keys, sort=False, observed=True).cumcount() + 1
    early = s[nth <= landmark].assign(_n=nth[nth <= landmark])
    early = early.assign(_rupt=(early["rupture"].astype(str) != "none"))
    agg = early.groupby(keys, sort=False, observed=True).agg(ruptured=("_rupt", "any"), n=("_n", "max"))
    at_l = early[early["_n"] == landmark].set_index(keys)["unresolved"].astype(bool)
    agg["unresolved"] = at_l.reindex(agg.index, fill_value=False).astype(bool)
    agg = agg[agg["n"] == landmark]
    status = np.where(~agg["ruptured"], RUPTURE_STATUSES[0],
                      np.where(agg["unresolved"], RUPTURE_STATUSES[2], RUPTURE_STATUSES[1]))
    agg = agg.assign(status=status).reset_index()
    out = p[[*keys, "sessions_attended", "exit_reason"]].merge(agg[[*keys, "status"]], on=keys, how="inner")
    out["duration"] = (out["sessions_attended"] - landmark).astype(float)
    out["event"] = out["exit_reason"].astype(str) == "dropout"
    return out[[*keys, "status", "duration", "event"]]
