"""Figures a planner or teacher can forward: titled, labelled with units, intervals drawn.

Each figure is a :class:`Figure` in :data:`FIGURES`: its name (as an experiment's
``figures:`` list names it), its title, what it needs from the run (:data:`NEEDS`) and a
``draw(run) -> (figure, caption)`` function. :func:`render` checks the needs, draws and
saves; a figure that cannot be drawn says why instead (:class:`FigureSkipped`). Figures
show human labels (scenario labels, KPI names with units), never internal keys, and rate
axes start at zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

from analysis.labels import (diff_unit, exit_label, is_proportion, kpi_axis_label, kpi_label, kpi_scale,  # noqa: E402
                             lower_label, readable)
from analysis.rundata import RunData  # noqa: E402
from analysis.stats import compare  # noqa: E402
from analysis.survival import RUPTURE_STATUSES, kaplan_meier, retention_data, rupture_landmark  # noqa: E402
from simulation.kpis import kpi_info  # noqa: E402
from simulation.summary import kpi_ci  # noqa: E402

DPI = 150
DEFAULT_FIGURES = ("kpis", "differences", "retention", "retention_by_rupture", "trajectories")
STATUS_COLOURS = {"no rupture": "#4c72b0", "rupture repaired": "#55a868", "rupture unrepaired": "#c44e52"}

# What a figure may need from a run, and the reason given when the run lacks it.
NEEDS: dict[str, tuple[Callable[[RunData], bool], str]] = {
    "sessions": (lambda run: run.has("sessions"), "needs the session table (run with output.sessions=true)"),
    ">=2 scenarios": (lambda run: len(run.scenarios) >= 2,
                      "only one scenario: there is no difference from a baseline to draw"),
    "extra.dose": (lambda run: bool((run.extra.get("dose") or {}).get("key")),
                   "the experiment names no dose (extra.dose.key)"),
    "extra.trial": (lambda run: bool(run.extra.get("trial")), "the experiment has no trial design (extra.trial)"),
    "timeseries": (lambda run: run.has("timeseries"), "no time series table in this run"),
    "extra.sensitivity": (lambda run: bool(run.extra.get("sensitivity_points")),
                          "the experiment has no sensitivity analysis (extra.sensitivity)"),
}


class FigureSkipped(Exception):
    """A figure that cannot be drawn from this run; the message says why."""


@dataclass(frozen=True)
class Figure:
    """A registered figure: its name, title, what it needs from a run, and its draw function."""

    name: str
    title: str
    needs: frozenset
    draw: Callable[[RunData], tuple]  # run -> (matplotlib Figure, caption)

    def missing(self, run: RunData) -> Optional[str]:
        """Why this run cannot have the figure (the first unmet need), or None."""
        for need in sorted(self.needs):
            ok, why = NEEDS[need]
            if not ok(run):
                return f"{self.title.lower()} {why}" if need == "sessions" else why
        return None


FIGURES: dict[str, Figure] = {}


def register_figure(name: str, title: str, needs: tuple = ()):
    """Decorator: add ``draw(run) -> (figure, caption)`` to :data:`FIGURES` under ``name``."""
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"unknown figure need {sorted(unknown)[0]!r}; known: {', '.join(NEEDS)}")

    def deco(fn):
        """Register ``fn`` and return it unchanged."""
        FIGURES[name] = Figure(name, title, frozenset(needs), fn)
        return fn

    return deco


def _top(fig, inches: float = 0.75) -> float:
    """The figure fraction below a two-line suptitle, for ``tight_layout(rect=...)``."""
    return 1.0 - inches / fig.get_figheight()


def _forest_axes(n_panels: int, n_rows: int):
    """A forest plot's figure: one panel per KPI (up to 3 a row), and each scenario row's y, the first on top."""
    cols = min(3, n_panels)
    rows = int(np.ceil(n_panels / cols))
    height = max(2.2, 0.38 * n_rows + 1.2)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, height * rows), squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat), np.arange(n_rows)[::-1]


def _forest_rows(ax, run: RunData, scen: list, y: np.ndarray) -> None:
    """Name a forest panel's scenario rows (in the first column of panels only) and fit its y range to them."""
    ax.set_yticks(y)
    ax.set_yticklabels([run.label(s) for s in scen] if ax.get_subplotspec().is_first_col() else [])
    ax.set_ylim(-0.6, len(scen) - 0.4)


# ---------------------------------------------------------------------------- KPIs
def _zero_based(ax, axis: str = "x") -> None:
    """Start a rate or count axis at zero (every KPI is non-negative), keeping room above the data."""
    lo, hi = (ax.dataLim.intervalx if axis == "x" else ax.dataLim.intervaly)
    top = hi * 1.1 if np.isfinite(hi) and hi > 0 else 1.0
    (ax.set_xlim if axis == "x" else ax.set_ylim)(0, top)


@register_figure("kpis", "KPIs by scenario")
def kpis(run: RunData) -> tuple:
    """Each KPI's mean per scenario with its 95% interval across replications, axes from zero."""
    k = run.tables["kpis"]
    names = run.kpi_names
    scen = run.scenarios
    fig, axes, y = _forest_axes(len(names), len(scen))
    for ax, kpi in zip(axes, names):
        sc = kpi_scale(kpi)
        for yi, s in zip(y, scen):
            m, lo, hi = kpi_ci(kpi, k.loc[k["scenario"] == s, kpi].to_numpy())
            colour = "#333333" if s == run.baseline else "#1f77b4"
            if np.isfinite(lo):
                ax.plot([lo * sc, hi * sc], [yi, yi], color=colour, lw=2.2, solid_capstyle="butt")
            ax.plot([m * sc], [yi], "o", color=colour, ms=6)
        _forest_rows(ax, run, scen, y)
        ax.ticklabel_format(axis="x", useOffset=False)
        _zero_based(ax, "x")
        ax.set_xlabel(kpi_axis_label(kpi))
        ax.set_title(kpi_label(kpi), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"{run.title}: KPI means with 95% intervals over {run.replications} replications\n"
                 f"(dot = mean, bar = 95% interval; baseline in black; axes start at zero)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, _top(fig, 0.5)))
    return fig, ("KPI means per scenario with 95% intervals across replications (proportions: t-interval on "
                 "the logit scale; other KPIs: t-interval cut at 0; so no interval leaves its range). Each KPI's "
                 "denominator is in the KPI table.")


@register_figure("differences", "Differences from the baseline", needs=(">=2 scenarios",))
def differences(run: RunData) -> tuple:
    """Paired differences from the baseline, with the unpaired interval beside them."""
    scen = [s for s in run.scenarios if s != run.baseline]
    k = run.tables["kpis"]
    names = run.kpi_names
    fig, axes, y = _forest_axes(len(names), len(scen))
    for ax, kpi in zip(axes, names):
        sc = kpi_scale(kpi)
        for yi, s in zip(y, scen):
            c = compare(k, s, run.baseline, [kpi]).iloc[0].copy()
            for col in ("diff", "paired_ci_low", "paired_ci_high", "unpaired_ci_low", "unpaired_ci_high"):
                if abs(c[col]) < 1e-12:  # float noise of identical values
                    c[col] = 0.0
            if np.isfinite(c["unpaired_ci_low"]):
                ax.plot([c["unpaired_ci_low"] * sc, c["unpaired_ci_high"] * sc], [yi - 0.18] * 2, color="#aaaaaa",
                        lw=1.5, label="unpaired (Welch) 95% CI" if yi == y[0] else None)
            if np.isfinite(c["paired_ci_low"]):
                ax.plot([c["paired_ci_low"] * sc, c["paired_ci_high"] * sc], [yi] * 2, color="#d62728", lw=2.5,
                        label="paired 95% CI (common random numbers)" if yi == y[0] else None)
            ax.plot([c["diff"] * sc], [yi], "o", color="#d62728", ms=6)
        ax.axvline(0, color="black", lw=0.8)
        _forest_rows(ax, run, scen, y)
        lo_x, hi_x = ax.dataLim.intervalx
        if not np.isfinite(lo_x) or hi_x - lo_x < 1e-9:  # all differences zero: a readable axis
            ax.set_xlim(-1, 1)
        ax.ticklabel_format(axis="x", useOffset=False)
        ax.set_xlabel(f"difference in {lower_label(kpi)} ({diff_unit(kpi)})")
        ax.set_title(kpi_label(kpi), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.15)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"{run.title}: difference from the baseline, {run.label(run.baseline)} (scenario minus baseline)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, _top(fig, 0.45)))
    return fig, (f"Difference of each scenario from the baseline ({run.label(run.baseline)}). Red: paired 95% "
                 "interval over replications (replication r of every scenario uses the same random numbers); "
                 "grey: the unpaired interval that ignores the pairing, for comparison. An interval that "
                 "excludes 0 is a difference larger than the simulation's noise.")


# ---------------------------------------------------------------------------- retention
MIN_AT_RISK = 20  # a curve is drawn only while at least this many patients are at risk


def _km_plot(ax, curves: pd.DataFrame, group: str, order, colours=None, labels=None) -> None:
    for i, g in enumerate(order):
        c = curves[curves[group] == g].sort_values("time")
        c = c[c["at_risk"].fillna(0) >= MIN_AT_RISK]
        if c.empty:
            continue
        colour = (colours or {}).get(g, f"C{i}")
        n, ev = int(c["n"].iloc[0]), int(c["events"].iloc[0])
        ax.step(c["time"], c["survival"] * 100, where="post", color=colour, lw=2,
                label=f"{(labels or {}).get(g, g)} (n = {n:,}, dropouts = {ev:,})")
        ax.fill_between(c["time"], c["ci_low"] * 100, c["ci_high"] * 100, step="post", color=colour, alpha=0.2,
                        lw=0)
    ax.set_ylim(0, 100)  # retention is a rate: the axis starts at zero
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


@register_figure("retention", "Retention by scenario")
def retention(run: RunData) -> tuple:
    """Kaplan–Meier retention by scenario (patients table only)."""
    data = retention_data(run.tables["patients"], "sessions")
    curves = kaplan_meier(data, "scenario", run.scenarios)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    _km_plot(ax, curves, "scenario", run.scenarios, labels={s: run.label(s) for s in run.scenarios})
    ax.set_xlabel("attended sessions since the first appointment (0 = dropped out before attending one)")
    ax.set_ylabel("not yet dropped out (%)")
    ax.set_title(f"{run.title}: retention (Kaplan–Meier, shaded = 95% band)\n"
                 "event = dropout; recovery discharge, completion, DNA discharge and end of run are censored",
                 fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig, ("Kaplan–Meier retention by scenario, pooled over replications: share of patients who have not "
                 "dropped out by each attended session. Other exits are censored. Bands are pointwise 95% "
                 "intervals that treat patients as independent.")


@register_figure("retention_by_rupture", "Retention by rupture status", needs=("sessions",))
def retention_by_rupture(run: RunData) -> tuple:
    """Landmark Kaplan–Meier retention by rupture status (needs the session table)."""
    L = run.landmark_session
    scen = run.rupture_scenario
    data = rupture_landmark(run.tables["patients"], run.tables["sessions"], L, scenario=scen)
    if data.empty:
        raise FigureSkipped(f"no patient reached attended session {L} in scenario {run.label(scen)}")
    curves = kaplan_meier(data, "status", RUPTURE_STATUSES)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    _km_plot(ax, curves, "status", RUPTURE_STATUSES, STATUS_COLOURS)
    ax.set_xlabel(f"further attended sessions after session {L}")
    ax.set_ylabel("not yet dropped out (%)")
    ax.set_title(f"Retention by what happened in the first {L} sessions ({run.label(scen)})\n"
                 f"patients still in treatment after session {L}; Kaplan–Meier, shaded = 95% band", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig, (f"Landmark analysis: patients still in treatment after their attended session {L}, grouped by "
                 f"their ruptures in sessions 1–{L} (none; all repaired by session {L}; one still unrepaired), "
                 "followed from there until dropout (other exits censored). Grouping by 'ever ruptured' instead "
                 "would favour ruptures, because patients who stay longer have more chances of one. Curves stop "
                 f"where fewer than {MIN_AT_RISK} patients remain at risk.")


# ---------------------------------------------------------------------------- trajectories
def pick_examples(sessions: pd.DataFrame, patients: pd.DataFrame, per_row: int) -> dict[str, list]:
    """Deterministic examples: steady courses, V-shaped repair (largest dips), unrepaired decline.

    Every patient is scored at once on numpy arrays of the attended sessions (one run of
    rows per patient, in session order); no per-patient loop.
    """
    keys = ["replication", "patient_id"]
    s = sessions.loc[sessions["attended"].astype(bool), [*keys, "day", "rupture", "repair", "unresolved",
                                                          "alliance_latent"]]
    s = s.sort_values([*keys, "day"], kind="stable")
    m = patients.loc[patients["measured"].astype(bool), [*keys, "exit_reason"]]
    s = s.merge(m, on=keys)  # measured patients only, each row with its patient's exit
    rep, pid = s["replication"].to_numpy(), s["patient_id"].to_numpy()
    rows = len(s)
    new = np.ones(rows, dtype=bool)
    new[1:] = (rep[1:] != rep[:-1]) | (pid[1:] != pid[:-1])
    start = np.flatnonzero(new)  # first row of each patient
    n = np.diff(np.append(start, rows))  # attended sessions per patient
    gid = np.cumsum(new) - 1  # patient number of each row
    pos = np.arange(rows) - start[gid]  # session index within the patient (0-based)
    r = (s["rupture"].astype(str) != "none").to_numpy()
    ok = (s["repair"].astype(str) == "noticed_repaired").to_numpy()
    unres = s["unresolved"].to_numpy(dtype=bool)
    a = s["alliance_latent"].to_numpy(dtype=float)
    ruptures = np.bincount(gid, weights=r, minlength=len(start))
    last_unres = unres[start + n - 1]
    patient = list(zip(rep[start].tolist(), pid[start].tolist()))
    found: dict[str, list] = {}
    steady = np.flatnonzero((ruptures == 0) & (n >= 8))
    steady = steady[np.argsort(-n[steady], kind="stable")]
    found["no rupture"] = [patient[i] for i in steady[:per_row]]
    # The first rupture of each patient who had one; the dip and what follows are measured from it.
    first = np.full(len(start), -1)
    hit = np.flatnonzero(r)
    g_hit, at = np.unique(gid[hit], return_index=True)
    first[g_hit] = pos[hit[at]]
    inner = (first >= 2) & (first <= n - 3)  # a rupture with two sessions before and two after it
    safe = np.where(inner, first, 0)  # outside ``inner`` any index inside the patient's rows (masked below)
    row_first = start + safe
    before, at_first, last = a[np.maximum(row_first - 1, start)], a[row_first], a[start + n - 1]
    after = pos > safe[gid]
    # V-shape: one rupture, still unresolved where it happened, repaired at a later session that is not the last.
    later = np.full(len(start), np.iinfo(np.int64).max)
    rep_rows = np.flatnonzero(ok & after)
    g_ok, at_ok = np.unique(gid[rep_rows], return_index=True)
    later[g_ok] = pos[rep_rows[at_ok]]
    v = inner & (ruptures == 1) & (n >= 6) & unres[row_first] & (later < n - 1)
    # Unrepaired: unresolved from the first rupture to the last session.
    resolved_after = np.bincount(gid, weights=(pos >= safe[gid]) & ~unres, minlength=len(start))
    u = inner & (ruptures >= 1) & last_unres & (n >= 5) & (resolved_after == 0)
    dropout = (s["exit_reason"].astype(str) == "dropout").to_numpy()[start]
    pr, pp = rep[start], pid[start]
    iv = np.flatnonzero(v)
    order = np.lexsort((pp[iv], pr[iv], -(before[iv] - at_first[iv])))
    found["rupture repaired"] = [patient[i] for i in iv[order][:per_row]]
    iu = np.flatnonzero(u)
    order = np.lexsort((pp[iu], pr[iu], -(before[iu] - last[iu]), ~dropout[iu]))
    found["rupture unrepaired"] = [patient[i] for i in iu[order][:per_row]]
    return found


@register_figure("trajectories", "Example alliance trajectories", needs=("sessions",))
def trajectories(run: RunData) -> tuple:
    """Example alliance trajectories: steady, V-shaped repair, unrepaired decline."""
    scen = run.rupture_scenario
    cfg = run.config(scen).get("alliance", {})
    lo, hi = float(cfg.get("scale_min", 1.0)), float(cfg.get("scale_max", 5.0))
    instrument = cfg.get("instrument", "WAI-SR")
    s = run.tables["sessions"]
    s = s[s["scenario"] == scen]
    p = run.tables["patients"]
    p = p[p["scenario"] == scen]
    per_row = 3
    examples = pick_examples(s, p, per_row)
    exits = p.set_index(["replication", "patient_id"])["exit_reason"].astype(str)
    fig, axes = plt.subplots(3, per_row, figsize=(12, 8.5), sharey=True, squeeze=False)
    titles = {"no rupture": "No rupture", "rupture repaired": "Rupture, repaired later (V-shape)",
              "rupture unrepaired": "Rupture never repaired"}
    att = s[s["attended"].astype(bool)]
    for row, (kind, picks) in enumerate(examples.items()):
        for col in range(per_row):
            ax = axes[row][col]
            if col >= len(picks):
                ax.text(0.5, 0.5, "no example in this run", ha="center", va="center", transform=ax.transAxes)
                ax.set_xticks([])
                continue
            rep, pid = picks[col]
            d = att[(att["replication"] == rep) & (att["patient_id"] == pid)].sort_values("day")
            x = np.arange(1, len(d) + 1)
            ax.plot(x, lo + (hi - lo) * d["alliance_latent"], color="#333333", lw=2, label="latent alliance")
            ax.plot(x, d["alliance_patient"], "o", color="#1f77b4", ms=4, alpha=0.8, label="patient rating")
            r = (d["rupture"].astype(str) != "none").to_numpy()
            ok = (d["repair"].astype(str) == "noticed_repaired").to_numpy()
            for xi in x[r]:
                ax.axvline(xi, color="#c44e52", lw=1.2, ls="--")
            for xi in x[ok]:
                ax.axvline(xi, color="#55a868", lw=1.2, ls=":")
            ax.set_title(f"{titles[kind]}\npatient {pid}, replication {rep}: {exit_label(exits.get((rep, pid), '?'))}",
                         fontsize=9)
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if row == 2:
                ax.set_xlabel("attended session")
            if col == 0:
                ax.set_ylabel(f"alliance ({instrument}, {lo:g}–{hi:g})")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="#333333", lw=2, label="latent alliance (on the rating scale)"),
               Line2D([], [], color="#1f77b4", marker="o", ls="", label="patient-rated alliance (observed)"),
               Line2D([], [], color="#c44e52", ls="--", label="rupture"),
               Line2D([], [], color="#55a868", ls=":", label="successful repair")]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(f"Example alliance trajectories ({run.label(scen)})", fontsize=12)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig, ("Example patients, chosen automatically: steady courses without ruptures; ruptures that went "
                 "unresolved and were repaired at a later session (the dip and recovery of a V-shaped trajectory, "
                 "largest dips first); and ruptures never repaired, where the alliance keeps eroding (largest "
                 "declines first). The title gives each patient's exit.")


# ---------------------------------------------------------------------------- dose-response
def override_value(overrides: list[str], key: str) -> Optional[float]:
    """The numeric value a scenario's overrides give ``key`` (the last one wins), or None."""
    for o in reversed(overrides):
        k, _, v = o.partition("=")
        if k.lstrip("+~") == key:
            try:
                return float(v)
            except ValueError:
                return None
    return None


def dose_table(run: RunData) -> pd.DataFrame:
    """Per scenario: the dose (value of ``extra.dose.key``) and each KPI with its interval."""
    dose = run.extra.get("dose") or {}
    key = dose.get("key")
    if not key:
        raise FigureSkipped(NEEDS["extra.dose"][1])
    k = run.tables["kpis"]
    only = dose.get("scenarios")  # optional: the scenarios that form the dose series (others are left out)
    rows = []
    for s in run.scenarios:
        if only and s not in only:
            continue
        v = override_value(run.overrides(s), key)
        if v is None:
            v = _config_value(run.config(s), key)
        if v is None:
            continue
        row = {"scenario": s, "dose": v}
        for kpi in run.kpi_names:
            m, lo, hi = kpi_ci(kpi, k.loc[k["scenario"] == s, kpi].to_numpy())
            row.update({kpi: m, f"{kpi}_ci_low": lo, f"{kpi}_ci_high": hi})
        rows.append(row)
    if len(rows) < 2:
        raise FigureSkipped(f"fewer than two scenarios set a numeric {dose_label(run)}")
    return pd.DataFrame(rows).sort_values("dose")


def dose_label(run: RunData) -> str:
    """The dose's human label (``extra.dose.label``, else derived from the key's last part)."""
    dose = run.extra.get("dose") or {}
    return str(dose.get("label") or readable(str(dose.get("key", "dose")).split(".")[-1]))


def _config_value(cfg: dict, key: str):
    cur = cfg
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return float(cur) if isinstance(cur, (int, float)) else None


@register_figure("dose_response", "Dose–response", needs=("extra.dose",))
def dose_response(run: RunData) -> tuple:
    """A KPI against a numeric scenario parameter, with intervals (and a second KPI as context)."""
    dose = run.extra.get("dose") or {}
    t = dose_table(run)
    kpi = dose.get("kpi", "dropout_rate")
    context = dose.get("context_kpi")
    label = dose_label(run)
    short = label.split("(")[0].strip()
    sc = kpi_scale(kpi)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    x = t["dose"].to_numpy()
    m = t[kpi].to_numpy() * sc
    lo, hi = t[f"{kpi}_ci_low"].to_numpy() * sc, t[f"{kpi}_ci_high"].to_numpy() * sc
    ax.fill_between(x, lo, hi, color="#c44e52", alpha=0.2, lw=0, label="95% interval across replications")
    ax.errorbar(x, m, yerr=[np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)], fmt="o-", color="#c44e52", lw=2,
                capsize=4, label=f"{kpi_label(kpi)} (mean)")
    ax.set_xlabel(label)
    ax.set_ylabel(kpi_axis_label(kpi))
    _zero_based(ax, "y")  # a teaching figure: the rate axis starts at zero
    ax.grid(alpha=0.3)
    ticks = [f"{v:g}" for v in x]
    if context and context in t:
        cs = kpi_scale(context)
        ticks = [f"{v:g}\n{c * cs:.0f}{'%' if is_proportion(context) else ''}" for v, c in zip(x, t[context])]
        ax.set_xlabel(f"{label}\n(below: {lower_label(context)} achieved)")
    ax.set_xticks(x)
    ax.set_xticklabels(ticks)
    # Right: paired difference of each point from the lowest dose.
    k = run.tables["kpis"]
    ref = t["scenario"].iloc[0]
    dm, dlo, dhi = [], [], []
    for s_name in t["scenario"]:
        c = compare(k, s_name, ref, [kpi]).iloc[0]
        dm.append(c["diff"] * sc)
        dlo.append(c["paired_ci_low"] * sc if np.isfinite(c["paired_ci_low"]) else c["diff"] * sc)
        dhi.append(c["paired_ci_high"] * sc if np.isfinite(c["paired_ci_high"]) else c["diff"] * sc)
    dm, dlo, dhi = np.array(dm), np.array(dlo), np.array(dhi)
    ax2.errorbar(x, dm, yerr=[np.clip(dm - dlo, 0, None), np.clip(dhi - dm, 0, None)], fmt="o-", color="#d62728",
                 capsize=4, lw=2)
    ax2.axhline(0, color="black", lw=0.8)
    ax2.set_xticks(x)
    ax2.set_xticklabels([f"{v:g}" for v in x])
    ax2.set_xlabel(short)
    ax2.set_ylabel(f"difference in {lower_label(kpi)} ({diff_unit(kpi)})")
    ax2.set_title(f"Paired difference from {short} = {x[0]:g}\n(same patients and "
                  "clinicians: 95% interval of per-replication differences)", fontsize=9)
    ax2.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(f"{run.title}: {lower_label(kpi)} by {short}\n"
                 f"{run.replications} replications per point; common random numbers across points", fontsize=10)
    fig.tight_layout()
    return fig, (f"Dose–response: {lower_label(kpi)} ({kpi_info(kpi).definition}) for each value of {label} "
                 f"(`{dose['key']}`), mean and 95% interval across replications. The paired differences (right "
                 "panel and the differences table) are the sharper test of whether points differ.")


# ---------------------------------------------------------------------------- service
@register_figure("service", "Waiting list and caseload over time", needs=("timeseries",))
def service(run: RunData) -> tuple:
    """Waiting list, and caseload as a share of each discipline's cap, over time per scenario."""
    ts = run.tables["timeseries"]
    loads = run.tables.get("caseloads")
    clin = run.tables.get("clinicians")
    warm = float(run.config().get("run", {}).get("warmup_days", 0.0))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    styles = ["-", "--", ":", "-."]

    def band(ax, d: pd.DataFrame, col: str, colour: str, label: str, ls: str = "-", scale: float = 1.0) -> None:
        """Mean over replications per day with an approximate 95% band, never below zero."""
        g = d.groupby("day")[col]
        m, sd, n = g.mean() * scale, g.std(ddof=1) * scale, g.count()
        half = (1.96 * sd / np.sqrt(n)).fillna(0)
        ax.plot(m.index / 7, m, color=colour, lw=1.6, ls=ls, label=label)
        ax.fill_between(m.index / 7, (m - half).clip(lower=0), m + half, color=colour, alpha=0.15, lw=0)

    per_discipline = loads is not None and not loads.empty and clin is not None
    for i, s in enumerate(run.scenarios):
        band(axes[0], ts[ts["scenario"] == s], "waiting", f"C{i}", run.label(s))
        if per_discipline:
            ls_s = loads[loads["scenario"] == s]
            c_s = clin[clin["scenario"] == s]
            for j, d in enumerate(dict.fromkeys(ls_s["discipline"])):
                cap = float(c_s.loc[c_s["discipline"] == d, "caseload_cap"].mean())
                band(axes[1], ls_s[ls_s["discipline"] == d], "mean_caseload", f"C{i}",
                     f"{run.label(s)}, {readable(d).lower()}", styles[j % len(styles)], 100.0 / cap)
        else:
            band(axes[1], ts[ts["scenario"] == s], "mean_caseload", f"C{i}", run.label(s))
    ylabels = ("patients on the waiting list",
               "caseload as % of the discipline's cap" if per_discipline else "patients per clinician in post")
    for ax, ylab in zip(axes, ylabels):
        top = ax.dataLim.ymax
        ax.set_ylim(0, top * 1.08 if np.isfinite(top) and top > 0 else 1)
        ax.axvline(warm / 7, color="grey", ls="--", lw=1)
        ax.text(warm / 7, ax.get_ylim()[1], " end of warm-up", va="top", fontsize=8, color="grey")
        ax.set_xlabel("weeks since the start of the run")
        ax.set_ylabel(ylab)
        ax.grid(alpha=0.3)
    axes[0].set_title("Waiting list", fontsize=10)
    axes[1].set_title("Caseload per discipline (share of its cap)" if per_discipline else "Caseload", fontsize=10)
    for ax in axes:
        ax.legend(frameon=False, fontsize=7, loc="lower right")
    fig.suptitle(f"{run.title}: service over time (mean over replications, shaded = approx. 95% band)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, _top(fig, 0.45)))
    return fig, ("Waiting-list length and caseload over time, averaged over replications; caseload is per "
                 "discipline as a share of that discipline's cap (a care coordinator's cap and a psychiatrist's "
                 "differ sixfold). Statistics use only the period after the warm-up (dashed line).")


@register_figure("sensitivity", "Policy effects across the uncertain parameters of a move",
                 needs=("extra.sensitivity",))
def sensitivity(run: RunData) -> tuple:
    """Each policy's paired effect (vs the comparator) on each sensitivity KPI against each parameter."""
    from analysis.move_sensitivity import sensitivity_table

    table = sensitivity_table(run)
    if table.empty:
        raise FigureSkipped("no sensitivity points in this run")
    kpis = list(dict.fromkeys(table["kpi"]))
    params = list(dict.fromkeys(table["parameter"]))
    policies = list(dict.fromkeys(table["scenario"]))
    fig, axes = plt.subplots(len(kpis), len(params), figsize=(3.2 * len(params), 2.9 * len(kpis)), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, kpi in enumerate(kpis):
        scale = kpi_scale(kpi)
        for j, par in enumerate(params):
            ax = axes[i][j]
            ax.axhline(0.0, color="black", lw=0.8, ls="--")
            for k, sc in enumerate(policies):
                g = table[(table["kpi"] == kpi) & (table["parameter"] == par) & (table["scenario"] == sc)]
                g = g.sort_values("value")
                if g.empty:
                    continue
                off = (k - (len(policies) - 1) / 2) * 0.012 * (g["value"].max() - g["value"].min() or 1.0)
                y = g["diff"] * scale
                ax.errorbar(g["value"] + off, y, yerr=[y - g["diff_ci_low"] * scale, g["diff_ci_high"] * scale - y],
                            marker="o", ms=3.5, capsize=2, color=colours[k % len(colours)],
                            label=run.label(sc) if i == 0 and j == 0 else None)
            ax.set_xlabel(par)
            if j == 0:
                ax.set_ylabel(f"{kpi_label(kpi)}\nvs continuity ({'pp' if scale == 100.0 else diff_unit(kpi)})")
    fig.legend(loc="upper center", ncol=min(4, len(policies)), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, _top(fig, 0.5)))
    return fig, ("Each policy minus continuity at the same parameter value (paired 95% intervals; dashed line: "
                 "no difference), one parameter varied at a time over its plausible range, the others at "
                 "their central values. Below zero on dropout, the policy helps; above, it harms.")


def figure_path(out_dir: Path, name: str) -> Path:
    """Where :func:`render` saves figure ``name``."""
    return out_dir / f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)}.png"


def render(run: RunData, name: str, out_dir: Path, dpi: int = DPI) -> tuple[Optional[Path], str]:
    """Draw one figure into ``out_dir``: (path, caption), or (None, why it was not drawn)."""
    fig_def = FIGURES.get(name)
    if fig_def is None:
        return None, f"unknown figure '{name}' (known: {', '.join(sorted(FIGURES))})"
    why = fig_def.missing(run)
    if why:
        return None, why
    try:
        fig, caption = fig_def.draw(run)
    except FigureSkipped as err:
        plt.close("all")
        return None, str(err)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = figure_path(out_dir, name)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path, caption
