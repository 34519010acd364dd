"""Figures a planner or teacher can forward: titled, labelled with units, intervals drawn.

Each figure is a function ``draw(run, path) -> caption`` in :data:`FIGURES`, selected by
name in an experiment's ``figures:`` list. A figure that cannot be drawn from the saved
tables (e.g. it needs the session table) raises :class:`FigureSkipped` with the reason,
which the report prints instead of the figure.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

from analysis.rundata import RunData  # noqa: E402
from analysis.stats import compare, mean_ci  # noqa: E402
from analysis.survival import RUPTURE_STATUSES, kaplan_meier, retention_data, rupture_landmark  # noqa: E402
from simulation.kpis import KPI_INFO  # noqa: E402

DPI = 150
FIGURES: dict[str, Callable[[RunData, Path], str]] = {}
DEFAULT_FIGURES = ("kpis", "differences", "retention", "retention_by_rupture", "trajectories")
STATUS_COLOURS = {"no rupture": "#4c72b0", "rupture repaired": "#55a868", "rupture unrepaired": "#c44e52"}

KPI_LABELS = {
    "referred": "Patients referred", "started": "Patients who started",
    "dropout_rate": "Dropout", "dna_discharge_rate": "DNA discharge", "recovery_rate": "Recovery",
    "reliable_improvement_rate": "Reliable improvement", "left_waiting_list_rate": "Left the waiting list",
    "mean_sessions": "Attended sessions per patient", "mean_wait_weeks": "Wait for first appointment",
    "rupture_patient_share": "Patients with a rupture", "repair_share": "Ruptures repaired",
    "reassignments_per_100": "Reassignments", "mean_caseload": "Caseload per clinician",
    "utilisation": "Caseload / cap", "mean_waiting": "Waiting-list length",
}


class FigureSkipped(Exception):
    """A figure that cannot be drawn from this run; the message says why."""


def figure(name: str):
    def deco(fn):
        FIGURES[name] = fn
        return fn

    return deco


def lower_label(kpi: str) -> str:
    """The KPI's label for use mid-sentence (keeps acronyms such as DNA)."""
    label = KPI_LABELS.get(kpi, kpi)
    return label if label[:3].isupper() else label[0].lower() + label[1:]


def is_proportion(kpi: str) -> bool:
    return KPI_INFO.get(kpi, ("", ""))[1] == "proportion"


def kpi_axis_label(kpi: str) -> str:
    unit = KPI_INFO.get(kpi, ("", ""))[1]
    label = KPI_LABELS.get(kpi, kpi)
    return f"{label} (%)" if unit == "proportion" else f"{label} ({unit})"


def _scale(kpi: str) -> float:
    return 100.0 if is_proportion(kpi) else 1.0


def _finish(fig, path: Path) -> None:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def _forest_axes(n_panels: int, n_rows: int):
    cols = min(3, n_panels)
    rows = int(np.ceil(n_panels / cols))
    height = max(2.2, 0.38 * n_rows + 1.2)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, height * rows), squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


# ---------------------------------------------------------------------------- KPIs
@figure("kpis")
def kpis(run: RunData, path: Path) -> str:
    """Each KPI's mean per scenario with its 95% interval across replications."""
    k = run.tables["kpis"]
    names = run.kpi_names
    scen = run.scenarios
    fig, axes = _forest_axes(len(names), len(scen))
    y = np.arange(len(scen))[::-1]
    for ax, kpi in zip(axes, names):
        sc = _scale(kpi)
        for yi, s in zip(y, scen):
            m, lo, hi = mean_ci(k.loc[k["scenario"] == s, kpi].to_numpy())
            colour = "#333333" if s == run.baseline else "#1f77b4"
            if np.isfinite(lo):
                ax.plot([lo * sc, hi * sc], [yi, yi], color=colour, lw=2.2, solid_capstyle="butt")
            ax.plot([m * sc], [yi], "o", color=colour, ms=6)
        ax.set_yticks(y)
        ax.set_yticklabels(scen if ax.get_subplotspec().is_first_col() else [])
        ax.set_ylim(-0.6, len(scen) - 0.4)
        ax.ticklabel_format(axis="x", useOffset=False)
        ax.set_xlabel(kpi_axis_label(kpi))
        ax.set_title(KPI_LABELS.get(kpi, kpi), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.15)
    fig.suptitle(f"{run.experiment}: KPI means with 95% intervals over {run.replications} replications\n"
                 f"(dot = mean, bar = 95% t-interval; baseline in black)", fontsize=11)
    fig.tight_layout()
    _finish(fig, path)
    return ("KPI means per scenario with 95% t-intervals across replications. Rates are over measured "
            "patients who started and ended treatment (see the KPI table for each denominator).")


@figure("differences")
def differences(run: RunData, path: Path) -> str:
    """Paired differences from the baseline, with the unpaired interval beside them."""
    scen = [s for s in run.scenarios if s != run.baseline]
    if not scen:
        raise FigureSkipped("only one scenario: there is no difference from a baseline to draw")
    k = run.tables["kpis"]
    names = run.kpi_names
    fig, axes = _forest_axes(len(names), len(scen))
    y = np.arange(len(scen))[::-1]
    for ax, kpi in zip(axes, names):
        sc = _scale(kpi)
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
        ax.set_yticks(y)
        ax.set_yticklabels(scen if ax.get_subplotspec().is_first_col() else [])
        ax.set_ylim(-0.6, len(scen) - 0.4)
        lo_x, hi_x = ax.dataLim.intervalx
        if not np.isfinite(lo_x) or hi_x - lo_x < 1e-9:  # all differences zero: a readable axis
            ax.set_xlim(-1, 1)
        ax.ticklabel_format(axis="x", useOffset=False)
        unit = "percentage points" if is_proportion(kpi) else KPI_INFO[kpi][1]
        ax.set_xlabel(f"difference in {lower_label(kpi)} ({unit})")
        ax.set_title(KPI_LABELS.get(kpi, kpi), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.15)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"{run.experiment}: difference from baseline '{run.baseline}' (scenario minus baseline)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    _finish(fig, path)
    return (f"Difference of each scenario from the baseline '{run.baseline}'. Red: paired 95% interval over "
            "replications (replication r of every scenario uses the same random numbers); grey: the unpaired "
            "interval that ignores the pairing, for comparison. An interval that excludes 0 is a difference "
            "larger than the simulation's noise.")


# ---------------------------------------------------------------------------- retention
MIN_AT_RISK = 20  # a curve is drawn only while at least this many patients are at risk


def _km_plot(ax, curves: pd.DataFrame, group: str, order, colours=None) -> None:
    for i, g in enumerate(order):
        c = curves[curves[group] == g].sort_values("time")
        c = c[c["at_risk"].fillna(0) >= MIN_AT_RISK]
        if c.empty:
            continue
        colour = (colours or {}).get(g, f"C{i}")
        n, ev = int(c["n"].iloc[0]), int(c["events"].iloc[0])
        ax.step(c["time"], c["survival"] * 100, where="post", color=colour, lw=2,
                label=f"{g} (n = {n:,}, dropouts = {ev:,})")
        ax.fill_between(c["time"], c["ci_low"] * 100, c["ci_high"] * 100, step="post", color=colour, alpha=0.2,
                        lw=0)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


@figure("retention")
def retention(run: RunData, path: Path) -> str:
    """Kaplan–Meier retention by scenario (patients table only)."""
    data = retention_data(run.tables["patients"], "sessions")
    curves = kaplan_meier(data, "scenario", run.scenarios)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    _km_plot(ax, curves, "scenario", run.scenarios)
    ax.set_xlabel("attended sessions since the first appointment (0 = dropped out before attending one)")
    ax.set_ylabel("not yet dropped out (%)")
    ax.set_title(f"{run.experiment}: retention (Kaplan–Meier, shaded = 95% band)\n"
                 "event = dropout; recovery, completion, DNA discharge and end of run are censored", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    fig.tight_layout()
    _finish(fig, path)
    return ("Kaplan–Meier retention by scenario, pooled over replications: share of patients who have not "
            "dropped out by each attended session. Other exits are censored. Bands are pointwise 95% intervals "
            "that treat patients as independent.")


def _landmark(run: RunData) -> int:
    return int(run.extra.get("landmark_session", 3))


def _rupture_scenario(run: RunData) -> str:
    s = run.extra.get("rupture_scenario")
    return s if s in run.scenarios else run.baseline


@figure("retention_by_rupture")
def retention_by_rupture(run: RunData, path: Path) -> str:
    """Landmark Kaplan–Meier retention by rupture status (needs the session table)."""
    if not run.has("sessions"):
        raise FigureSkipped("retention by rupture status needs the session table (run with output.sessions=true)")
    L = _landmark(run)
    scen = _rupture_scenario(run)
    data = rupture_landmark(run.tables["patients"], run.tables["sessions"], L, scenario=scen)
    if data.empty:
        raise FigureSkipped(f"no patient reached attended session {L} in scenario '{scen}'")
    curves = kaplan_meier(data, "status", RUPTURE_STATUSES)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    _km_plot(ax, curves, "status", RUPTURE_STATUSES, STATUS_COLOURS)
    ax.set_xlabel(f"further attended sessions after session {L}")
    ax.set_ylabel("not yet dropped out (%)")
    ax.set_title(f"Retention by what happened in the first {L} sessions (scenario '{scen}')\n"
                 f"patients still in treatment after session {L}; Kaplan–Meier, shaded = 95% band", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    fig.tight_layout()
    _finish(fig, path)
    return (f"Landmark analysis: patients still in treatment after their attended session {L}, grouped by "
            f"their ruptures in sessions 1–{L} (none; all repaired by session {L}; one still unrepaired), "
            "followed from there until dropout (other exits censored). Grouping by 'ever ruptured' instead "
            "would favour ruptures, because patients who stay longer have more chances of one. Curves stop where "
            f"fewer than {MIN_AT_RISK} patients remain at risk.")


# ---------------------------------------------------------------------------- trajectories
def _pick_examples(sessions: pd.DataFrame, patients: pd.DataFrame, per_row: int) -> dict[str, list]:
    """Deterministic examples: steady courses, V-shaped repair (largest dips), unrepaired decline.

    Candidates are found with vectorised per-patient summaries; only they are scored one by one.
    """
    keys = ["replication", "patient_id"]
    s = sessions[sessions["attended"].astype(bool)].sort_values([*keys, "day"], kind="stable")
    m = patients.loc[patients["measured"].astype(bool), [*keys, "exit_reason"]]
    s = s.merge(m[keys], on=keys)
    s = s.assign(_r=(s["rupture"].astype(str) != "none"), _ok=(s["repair"].astype(str) == "noticed_repaired"),
                 _n=s.groupby(keys, sort=False).cumcount())
    g = s.groupby(keys, sort=False)
    per = pd.DataFrame({"n": g.size(), "ruptures": g["_r"].sum(), "last_unresolved": g["unresolved"].last()})
    exits = m.set_index(keys)["exit_reason"].astype(str)
    found: dict[str, list] = {}
    steady = per[(per["ruptures"] == 0) & (per["n"] >= 8)].sort_values("n", ascending=False, kind="stable")
    found["no rupture"] = list(steady.index[:per_row])
    v_scores, u_scores = [], []
    v_cand = set(per.index[(per["ruptures"] == 1) & (per["n"] >= 6)])
    u_cand = set(per.index[(per["ruptures"] >= 1) & per["last_unresolved"].astype(bool) & (per["n"] >= 5)])
    cand = s[pd.MultiIndex.from_frame(s[keys]).isin(list(v_cand | u_cand))]
    for key, d in cand.groupby(keys, sort=False):
        a = d["alliance_latent"].to_numpy()
        rupt = d["_r"].to_numpy()
        first = int(np.argmax(rupt))
        if first < 2 or first > len(d) - 3:
            continue
        unres = d["unresolved"].to_numpy(dtype=bool)
        before = a[first - 1]
        if key in v_cand and unres[first]:
            later = np.where(d["_ok"].to_numpy()[first + 1:])[0]
            if len(later) and first + 1 + later[0] < len(d) - 1:
                v_scores.append((-(before - a[first]), key))
        if key in u_cand and unres[first:].all():
            u_scores.append((exits.get(key) != "dropout", -(before - a[-1]), key))
    found["rupture repaired"] = [k for *_, k in sorted(v_scores)[:per_row]]
    found["rupture unrepaired"] = [k for *_, k in sorted(u_scores)[:per_row]]
    return found


@figure("trajectories")
def trajectories(run: RunData, path: Path) -> str:
    """Example alliance trajectories: steady, V-shaped repair, unrepaired decline."""
    if not run.has("sessions"):
        raise FigureSkipped("example trajectories need the session table (run with output.sessions=true)")
    scen = _rupture_scenario(run)
    cfg = run.config(scen).get("alliance", {})
    lo, hi = float(cfg.get("scale_min", 1.0)), float(cfg.get("scale_max", 5.0))
    instrument = cfg.get("instrument", "WAI-SR")
    s = run.tables["sessions"]
    s = s[s["scenario"] == scen]
    p = run.tables["patients"]
    p = p[p["scenario"] == scen]
    per_row = 3
    examples = _pick_examples(s, p, per_row)
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
            ax.set_title(f"{titles[kind]}\npatient {pid}, replication {rep}: {exits.get((rep, pid), '?')}",
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
    fig.suptitle(f"Example alliance trajectories (scenario '{scen}')", fontsize=12)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _finish(fig, path)
    return ("Example patients, chosen automatically: steady courses without ruptures; ruptures that went "
            "unresolved and were repaired at a later session (the dip and recovery of a V-shaped trajectory, "
            "largest dips first); and ruptures never repaired, where the alliance keeps eroding (largest "
            "declines first). The title gives each patient's exit.")


# ---------------------------------------------------------------------------- dose-response
def override_value(overrides: list[str], key: str) -> Optional[float]:
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
        raise FigureSkipped("the experiment names no dose (extra.dose.key)")
    k = run.tables["kpis"]
    rows = []
    for s in run.scenarios:
        v = override_value(run.overrides(s), key)
        if v is None:
            v = _config_value(run.config(s), key)
        if v is None:
            continue
        row = {"scenario": s, "dose": v}
        for kpi in run.kpi_names:
            m, lo, hi = mean_ci(k.loc[k["scenario"] == s, kpi].to_numpy())
            row.update({kpi: m, f"{kpi}_ci_low": lo, f"{kpi}_ci_high": hi})
        rows.append(row)
    if len(rows) < 2:
        raise FigureSkipped(f"fewer than two scenarios set a numeric {key}")
    return pd.DataFrame(rows).sort_values("dose")


def _config_value(cfg: dict, key: str):
    cur = cfg
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return float(cur) if isinstance(cur, (int, float)) else None


@figure("dose_response")
def dose_response(run: RunData, path: Path) -> str:
    """A KPI against a numeric scenario parameter, with intervals (and a second KPI as context)."""
    dose = run.extra.get("dose") or {}
    t = dose_table(run)
    kpi = dose.get("kpi", "dropout_rate")
    context = dose.get("context_kpi")
    label = dose.get("label", dose["key"])
    sc = _scale(kpi)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    x = t["dose"].to_numpy()
    m = t[kpi].to_numpy() * sc
    lo, hi = t[f"{kpi}_ci_low"].to_numpy() * sc, t[f"{kpi}_ci_high"].to_numpy() * sc
    ax.fill_between(x, lo, hi, color="#c44e52", alpha=0.2, lw=0, label="95% interval across replications")
    ax.errorbar(x, m, yerr=[np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)], fmt="o-", color="#c44e52", lw=2,
                capsize=4,
                label=f"{KPI_LABELS.get(kpi, kpi)} (mean)")
    ax.set_xlabel(label)
    ax.set_ylabel(kpi_axis_label(kpi))
    ax.grid(alpha=0.3)
    ticks = [f"{v:g}" for v in x]
    if context and context in t:
        cs = _scale(context)
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
    ax2.set_xlabel(label.split("(")[0].strip())
    unit = "percentage points" if is_proportion(kpi) else KPI_INFO[kpi][1]
    ax2.set_ylabel(f"difference in {lower_label(kpi)} ({unit})")
    ax2.set_title(f"Paired difference from {label.split('(')[0].strip()} = {x[0]:g}\n(same patients and "
                  "clinicians: 95% interval of per-replication differences)", fontsize=9)
    ax2.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(f"{run.experiment}: {lower_label(kpi)} by {label.split('(')[0].strip()}\n"
                 f"{run.replications} replications per point; common random numbers across points", fontsize=10)
    fig.tight_layout()
    _finish(fig, path)
    return (f"Dose–response: {lower_label(kpi)} ({KPI_INFO[kpi][0]}) for each value of "
            f"{dose['key']}, mean and 95% interval across replications. The paired differences in the table "
            "(right panel and the differences table) are the sharper test of whether points differ.")


# ---------------------------------------------------------------------------- service
@figure("service")
def service(run: RunData, path: Path) -> str:
    """Waiting list and caseload over time per scenario (mean over replications, with band)."""
    ts = run.tables.get("timeseries")
    if ts is None or ts.empty:
        raise FigureSkipped("no time series table in this run")
    warm = float(run.config().get("run", {}).get("warmup_days", 0.0))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, s in enumerate(run.scenarios):
        d = ts[ts["scenario"] == s]
        for ax, col in zip(axes, ("waiting", "mean_caseload")):
            g = d.groupby("day")[col]
            m, sd, n = g.mean(), g.std(ddof=1), g.count()
            half = 1.96 * sd / np.sqrt(n)
            ax.plot(m.index / 7, m, color=f"C{i}", lw=1.6, label=s)
            ax.fill_between(m.index / 7, m - half, m + half, color=f"C{i}", alpha=0.15, lw=0)
    for ax, ylab in zip(axes, ("patients on the waiting list", "patients per active clinician")):
        ax.axvline(warm / 7, color="grey", ls="--", lw=1)
        ax.text(warm / 7, ax.get_ylim()[1], " end of warm-up", va="top", fontsize=8, color="grey")
        ax.set_xlabel("weeks since the start of the run")
        ax.set_ylabel(ylab)
        ax.grid(alpha=0.3)
    for ax in axes:
        top = ax.dataLim.ymax
        ax.set_ylim(0, top * 1.08 if np.isfinite(top) and top > 0 else 1)
    axes[0].set_title("Waiting list", fontsize=10)
    axes[1].set_title("Caseload", fontsize=10)
    handles, labels = axes[1].get_legend_handles_labels()
    ncol = min(4, len(labels))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=8)
    fig.suptitle(f"{run.experiment}: service over time (mean over replications, shaded = approx. 95% band)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.04 * int(np.ceil(len(labels) / ncol)) + 0.02, 1, 1))
    _finish(fig, path)
    return ("Waiting-list length and mean caseload over time, averaged over replications. Statistics use only "
            "the period after the warm-up (dashed line).")


def draw(run: RunData, name: str, out_dir: Path) -> tuple[Optional[Path], str]:
    """Draw one figure into ``out_dir``: (path or None if skipped, caption or reason)."""
    if name not in FIGURES:
        from analysis import trial  # noqa: F401  (registers the trial figures)
    if name not in FIGURES:
        return None, f"unknown figure '{name}' (known: {', '.join(sorted(FIGURES))})"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)}.png"
    try:
        caption = FIGURES[name](run, path)
    except FigureSkipped as why:
        plt.close("all")
        return None, str(why)
    return path, caption
