"""The report of a run: Markdown and a self-contained HTML page, from saved tables only.

``build_report(run_dir)`` reads the run directory (tables + manifest.json), draws the
experiment's figures into ``RUN_DIR/figures/``, writes analysis tables into
``RUN_DIR/analysis/`` and the report as ``RUN_DIR/report.md`` and ``RUN_DIR/report.html``
(figures embedded as base64, so the page can be e-mailed on its own). It never reruns the
simulation: ``python -m analysis report RUN_DIR`` regenerates everything.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import yaml

from analysis import trial
from analysis.corrective import repaired_vs_unruptured
from analysis.figures import DEFAULT_FIGURES, FIGURES, FigureSkipped, dose_label, dose_table, render
from analysis.labels import is_proportion, kpi_label
from analysis.rundata import RunData
from analysis.stats import comparisons, default_pairs
from analysis.survival import RUPTURE_STATUSES, kaplan_meier, retention_data, rupture_landmark, survival_at
from simulation.kpis import kpi_info
from simulation.summary import INTERVALS, kpi_ci

SUMMARY_FIGURE = "kpis"  # shown before the tables unless the experiment names another (extra.summary_figure)


# ---------------------------------------------------------------------------- blocks
class Doc:
    """A report as blocks, rendered to Markdown and to HTML."""

    def __init__(self) -> None:
        self.blocks: list[tuple] = []

    def h(self, level: int, text: str) -> None:
        """A heading."""
        self.blocks.append(("h", level, text))

    def p(self, text: str) -> None:
        """A paragraph (`code` and **bold** spans allowed)."""
        self.blocks.append(("p", text))

    def table(self, df: pd.DataFrame) -> None:
        """A table."""
        self.blocks.append(("table", df))

    def code(self, text: str, summary: Optional[str] = None) -> None:
        """A code block, folded under ``summary`` if given."""
        self.blocks.append(("code", text, summary))

    def figure(self, path: Path, caption: str, rel: str) -> None:
        """A figure with its caption (``rel``: its path relative to the report)."""
        self.blocks.append(("figure", path, caption, rel))

    def markdown(self) -> str:
        """The report as Markdown, figures linked."""
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append("#" * b[1] + " " + b[2])
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "table":
                out.append(_md_table(b[1]))
            elif b[0] == "code":
                out.append((f"<details><summary>{b[2]}</summary>\n\n" if b[2] else "") + "```\n" + b[1].rstrip()
                           + "\n```" + ("\n\n</details>" if b[2] else ""))
            elif b[0] == "figure":
                out.append(f"![{Path(b[3]).stem}]({b[3]})\n\n*{b[2]}*")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        """The report as one self-contained HTML page, figures embedded."""
        out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
               "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}"
               "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
               "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
               "th{background:#f2f2f2}img{max-width:100%;border:1px solid #eee}"
               "figcaption{font-size:0.9em;color:#444;margin-bottom:2em}"
               "pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:0.8em}</style></head><body>"]
        for b in self.blocks:
            if b[0] == "h":
                out.append(f"<h{b[1]}>{html.escape(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                out.append(f"<p>{_inline(b[1])}</p>")
            elif b[0] == "table":
                out.append(b[1].to_html(index=False, escape=True, border=0, na_rep=""))
            elif b[0] == "code":
                pre = f"<pre>{html.escape(b[1])}</pre>"
                out.append(f"<details><summary>{html.escape(b[2])}</summary>{pre}</details>" if b[2] else pre)
            elif b[0] == "figure":
                data = base64.b64encode(Path(b[1]).read_bytes()).decode("ascii")
                out.append(f"<figure><img alt='{html.escape(b[3])}' src='data:image/png;base64,{data}'>"
                           f"<figcaption>{_inline(b[2])}</figcaption></figure>")
        out.append("</body></html>")
        return "\n".join(out)


def _inline(text: str) -> str:
    """Escape, then render `code` and **bold** spans."""
    import re

    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    t = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)
    return t.replace("\n", "<br>")


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "(empty table)"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = ["" if (isinstance(v, float) and np.isnan(v)) else str(v).replace("|", "\\|") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- formatting
def fmt_value(kpi: str, v: float) -> str:
    """A KPI value for a table: proportions in %, others to two decimals."""
    if v is None or not np.isfinite(v):
        return "–"
    return f"{100 * v:.1f}%" if is_proportion(kpi) else f"{v:.2f}"


def fmt_interval(kpi: str, m: float, lo: float, hi: float, diff: bool = False) -> str:
    """A value with its interval: "19.8% [18.9, 20.7]" (differences of proportions in pp)."""
    if m is None or not np.isfinite(m):
        return "–"
    if is_proportion(kpi):
        f = (lambda v: f"{100 * v:+.1f}") if diff else (lambda v: f"{100 * v:.1f}")
        unit = " pp" if diff else "%"
    else:
        f = (lambda v: f"{v:+.2f}") if diff else (lambda v: f"{v:.2f}")
        unit = ""
    if lo is None or not np.isfinite(lo):
        return f"{f(m)}{unit}"
    return f"{f(m)}{unit} [{f(lo)}, {f(hi)}]"


def fmt_ci(kpi: str, lo: float, hi: float) -> str:
    """A difference's interval alone: "[-1.7, +1.3] pp"."""
    if lo is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return "–"
    if is_proportion(kpi):
        return f"[{100 * lo:+.1f}, {100 * hi:+.1f}] pp"
    return f"[{lo:+.2f}, {hi:+.2f}]"


def kpi_table(run: RunData, kpis: list[str]) -> pd.DataFrame:
    """One row per KPI: label, definition, unit, interval method, and each scenario's mean [95% CI]."""
    k = run.tables["kpis"]
    rows = []
    for kpi in kpis:
        info = kpi_info(kpi)
        row = {"KPI": info.label, "definition (denominator)": info.definition,
               "unit": "%" if info.is_proportion else info.unit, "95% interval": INTERVAL_SHORT[info.interval]}
        for s in run.scenarios:
            m, lo, hi = kpi_ci(kpi, k.loc[k["scenario"] == s, kpi].to_numpy())
            row[run.label(s)] = fmt_interval(kpi, m, lo, hi)
        rows.append(row)
    return pd.DataFrame(rows)


INTERVAL_SHORT = {"logit": "logit t (stays in 0–100%)", "t0": "t cut at 0", "t": "t"}


def difference_table(run: RunData, comp: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison and KPI: the paired difference with its interval, and the unpaired one."""
    rows = []
    for r in comp.itertuples():
        rows.append({"scenario": run.label(r.scenario), "compared with": run.label(r.reference),
                     "KPI": kpi_label(r.kpi), "unit": "pp" if is_proportion(r.kpi) else kpi_info(r.kpi).unit,
                     "difference [paired 95% CI]": fmt_interval(r.kpi, r.diff, r.paired_ci_low, r.paired_ci_high, True),
                     "unpaired 95% CI": fmt_ci(r.kpi, r.unpaired_ci_low, r.unpaired_ci_high),
                     "paired interval excludes 0": _excludes_zero(r.paired_ci_low, r.paired_ci_high)})
    return pd.DataFrame(rows)


def width_ratio_sentence(ratio: float) -> str:
    """What the median unpaired/paired width ratio says about common random numbers, either way round."""
    if not np.isfinite(ratio):
        return ""
    if ratio > 1.05:
        return (f"The unpaired intervals are {ratio:.1f} times as wide as the paired ones (median over KPIs and "
                "comparisons): common random numbers make these comparisons sharper.")
    if ratio < 0.95:
        return (f"The paired intervals are wider than the unpaired ones (median width ratio unpaired/paired "
                f"{ratio:.2f}): here the scenarios' replications are not positively correlated, so common random "
                "numbers do not sharpen the comparison. The paired interval is still the one to use.")
    return (f"Paired and unpaired intervals are about as wide (median width ratio unpaired/paired {ratio:.2f}): "
            "common random numbers neither sharpen nor blur these comparisons.")


def _excludes_zero(lo: float, hi: float) -> str:
    """Whether a paired interval excludes zero, in words."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "–"
    if lo == hi == 0:
        return "no (identical)"
    return "yes" if lo > 0 or hi < 0 else "no"


def scenario_overrides(run: RunData) -> tuple[list[str], pd.DataFrame]:
    """Overrides shared by every scenario, and each scenario's own."""
    hidden = ("run.name=", "experiment=", "output.dir=", "run.progress=")
    lists = {s: [o for o in run.overrides(s) if not o.startswith(hidden)] for s in run.scenarios}
    common = [o for o in (lists[run.scenarios[0]] if run.scenarios else []) if all(o in v for v in lists.values())]
    rows = [{"scenario": run.label(s) + (" (baseline)" if s == run.baseline else ""), "name": s,
             "overrides": ", ".join(o for o in v if o not in common) or "(none: base configuration)"}
            for s, v in lists.items()]
    return common, pd.DataFrame(rows)


def _pairs(run: RunData) -> list[tuple[str, str]]:
    """Every scenario against the baseline, plus the experiment's extra contrasts."""
    pairs = default_pairs(run.scenarios, run.baseline)
    for c in run.extra.get("contrasts") or []:
        if len(c) == 2 and c[0] in run.scenarios and c[1] in run.scenarios and tuple(c) not in pairs:
            pairs.append((str(c[0]), str(c[1])))
    return pairs


# ---------------------------------------------------------------------------- report
def parameters_sentence(params) -> str:
    """Which parameter values the run used: calibrated point values, or one posterior draw per replication."""
    if isinstance(params, dict) and params.get("mode") == "posterior":
        return (f"Parameters: **posterior draws** (`run.parameters=posterior`): replication r of every scenario "
                f"uses draw r of `{params.get('file')}` (SHA-256 `{str(params.get('sha256', ''))[:12]}`, "
                f"{params.get('draws')} draws of {', '.join(params.get('names') or [])}), so the intervals include "
                f"parameter uncertainty as well as Monte Carlo noise; paired differences still share each draw.")
    if isinstance(params, dict) and params and "mode" not in params:
        return "Parameters per scenario: " + "; ".join(f"{k}: {v.get('mode')}" for k, v in params.items()) + "."
    return ("Parameters: **point values** (`run.parameters=point`, the calibrated values in `configs/`): the "
            "intervals show Monte Carlo noise only, as if every parameter were known exactly.")


def build_report(run_dir: str | Path, figures: Optional[list[str]] = None) -> Path:
    """Write report.md and report.html (and figures/, analysis/) into ``run_dir``; return the HTML path."""
    run = RunData.load(run_dir)
    run_dir = run.run_dir
    fig_dir = run_dir / "figures"
    ana_dir = run_dir / "analysis"
    ana_dir.mkdir(exist_ok=True)
    names = figures or run.manifest.get("figures") or list(DEFAULT_FIGURES)
    doc = Doc()
    title = f"alliance-sim report: {run.title}"
    doc.h(1, title)
    cfg = run.config()
    r = cfg.get("run", {})
    horizon, warmup = r.get("horizon_days"), r.get("warmup_days")
    period = (f"{horizon:g} measured days ({horizon / 365.25:.1f} years) after {warmup:g} days of warm-up that are "
              "not measured" if isinstance(horizon, (int, float)) and isinstance(warmup, (int, float))
              else "a warm-up (not measured) and a measured period")
    doc.p(f"Created {run.manifest.get('created', '?')}; code version `{run.manifest.get('code_version', '?')}`; "
          f"seed **{run.seed}**; **{run.replications}** replication(s) per scenario; each replication simulates "
          f"{period}. Run directory: `{run_dir}`.")

    doc.h(2, "What was compared")
    if run.manifest.get("description"):
        doc.p(str(run.manifest["description"]).strip())
    common, sc_table = scenario_overrides(run)
    doc.table(sc_table)
    if common:
        doc.p("Settings shared by every scenario: " + ", ".join(f"`{o}`" for o in common) + ".")
    doc.p("Replication r of every scenario uses the same random numbers (common random numbers), so scenario "
          "differences are estimated replication by replication (paired).")
    doc.p(parameters_sentence(run.manifest.get("parameters")))

    summary_name = str(run.extra.get("summary_figure") or SUMMARY_FIGURE)
    path, caption = render(run, summary_name, fig_dir)
    if path is not None:
        doc.h(2, "At a glance")
        doc.figure(path, caption, f"figures/{path.name}")

    kpis = run.kpi_names
    doc.h(2, "Key performance indicators")
    doc.p("Mean across replications with its 95% interval. Rates are among measured patients (referred after "
          "the warm-up); each row's definition gives the denominator. Intervals respect each KPI's bounds: "
          f"proportions use a {INTERVALS['logit']}; counts, lengths and waits use the {INTERVALS['t0']}, "
          "which covers the true mean whenever the t-interval does. "
          "Dropout means unilateral termination; DNA discharge and leaving the waiting list are separate exits. "
          "Three recoveries are distinct: recovery discharge (an exit reason), reliable recovery and IAPT "
          "recovery of finishers (see the README table 'Which recovery is which').")
    doc.table(kpi_table(run, kpis))

    pairs = _pairs(run)
    if pairs:
        comp = comparisons(run.tables["kpis"], pairs, kpis)
        comp.to_csv(ana_dir / "differences.csv", index=False)
        doc.h(2, "Differences between scenarios")
        doc.p("Scenario minus reference, with the paired 95% interval (a t-interval of the per-replication "
              "differences, on the raw scale: a difference may be negative) and, for comparison, the unpaired "
              "Welch interval that ignores the common random numbers. Proportions are in percentage points (pp).")
        doc.table(difference_table(run, comp))
        wide = comp.assign(ratio=(comp["unpaired_ci_high"] - comp["unpaired_ci_low"])
                           / (comp["paired_ci_high"] - comp["paired_ci_low"]))
        sentence = width_ratio_sentence(wide["ratio"].replace([np.inf, -np.inf], np.nan).median())
        if sentence:
            doc.p(sentence)
    else:
        doc.p("One scenario only: no differences to report.")

    if "staff_cost" in kpis and run.baseline and "dropouts_in_period" in run.tables["kpis"].columns:
        _costs_section(doc, run, ana_dir)
    _retention_section(doc, run, ana_dir)
    if "retention_by_rupture" in names and run.has("sessions"):
        _rupture_section(doc, run, ana_dir)
    if run.extra.get("corrective") and run.has("sessions"):
        _corrective_section(doc, run, ana_dir)
    if "dose_response" in names:
        _dose_section(doc, run, ana_dir)
    if run.extra.get("trial"):
        _trial_section(doc, run, ana_dir)
    if run.extra.get("sensitivity_points"):
        _sensitivity_section(doc, run, ana_dir)
    if "calibration" in run.extra_tables:
        doc.h(2, "Calibration")
        doc.p("From `calibration.csv` in the run directory: each target with the simulated value.")
        doc.table(run.extra_tables["calibration"])

    doc.h(2, "Figures")
    skipped = []
    for name in names:
        if name == summary_name and path is not None:
            continue  # shown at the top
        fpath, fcaption = render(run, name, fig_dir)
        if fpath is None:
            skipped.append(f"**{name}**: {fcaption}")
        else:
            doc.h(3, FIGURES[name].title)
            doc.figure(fpath, fcaption, f"figures/{fpath.name}")
    if skipped:
        doc.p("Figures not drawn:\n" + "\n".join(f"- {s}" for s in skipped))

    doc.h(2, "Configuration and reproduction")
    overrides = [o for o in run.overrides(run.baseline) if not o.startswith("run.name=")] if run.baseline else []
    exp = run.manifest.get("experiment_source") or run.manifest.get("experiment")  # as typed (a path stays a path)
    cmd = "alliance-sim " + (f"experiment={exp} " if exp else "experiment=null ") + \
        " ".join(o for o in common if not o.startswith("experiment="))
    doc.p(f"Rerun with `{cmd.strip()} run.seed={run.seed}`; regenerate this report with "
          f"`python -m analysis report {run_dir}`. Baseline overrides: "
          + (", ".join(f"`{o}`" for o in overrides) or "none") + ".")
    doc.code(yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None),
             summary=f"Resolved configuration of the baseline scenario '{run.baseline}'")
    versions = run.manifest.get("package_versions") or {}
    doc.code(json.dumps({"seed": run.seed, "row_counts": run.manifest.get("row_counts"),
                         "runtime_seconds": run.manifest.get("runtime_seconds"), "versions": versions}, indent=2),
             summary="Run facts (row counts, runtime, package versions)")

    (run_dir / "report.md").write_text(doc.markdown())
    out = run_dir / "report.html"
    out.write_text(doc.html(title))
    return out


def _costs_section(doc: Doc, run: RunData, ana_dir: Path) -> None:
    """Extra staff cost, dropouts avoided and cost per dropout avoided of each scenario against the baseline."""
    from simulation.costs import cost_per_dropout_avoided

    table = cost_per_dropout_avoided(run.tables["kpis"], run.baseline)
    if table.empty:
        return
    table.to_csv(ana_dir / "costs.csv", index=False)
    price_year = (run.config().get("costs") or {}).get("price_year", "?")
    doc.h(2, "Costs against the baseline")
    doc.p(f"GBP at {price_year} prices (config group `costs`: cost per post-year x post-years in post in the "
          f"measured period). Extra staff cost and dropouts avoided ((baseline minus scenario dropout rate) x the "
          f"scenario's patients who started) are means over paired replications against "
          f"{run.label(run.baseline)}; the cost per dropout avoided is their ratio (negative: fewer "
          "dropouts for less money; '–' when no dropout is avoided). Recovered means reliable recovery.")
    doc.table(pd.DataFrame([{
        "scenario": run.label(r.scenario), "extra staff cost (GBP)": f"{r.extra_cost:+,.0f}",
        "dropouts avoided": f"{r.dropouts_avoided:+.1f}",
        "cost per dropout avoided (GBP)": (f"{r.cost_per_dropout_avoided:,.0f}"
                                           if np.isfinite(r.cost_per_dropout_avoided) else "–")}
        for r in table.itertuples()]))


def _sensitivity_section(doc: Doc, run: RunData, ana_dir: Path) -> None:
    """Policy effects across the uncertain parameters of a move: sensitivity.csv, break-even risks, conclusion."""
    from analysis.move_sensitivity import break_even, conclusion, sensitivity_table

    table = sensitivity_table(run)
    table.to_csv(ana_dir / "sensitivity.csv", index=False)
    doc.h(2, "Across the uncertain parameters of a move")
    doc.p("One parameter at a time is set over its plausible range (README \"Transition costs\"), the others "
          "at their central values; each policy is compared with continuity at the same value, replication by "
          "replication (paired 95% interval). Full table: `analysis/sensitivity.csv`.")
    shown = table.assign(
        policy=[run.label(s) for s in table["scenario"]],
        effect=[fmt_interval(k, d, lo, hi, diff=True)
                for k, d, lo, hi in zip(table["kpi"], table["diff"], table["diff_ci_low"], table["diff_ci_high"])],
        kpi=[kpi_label(k) for k in table["kpi"]])
    wide = shown.pivot_table(index=["parameter", "value"], columns=["policy", "kpi"], values="effect",
                             aggfunc="first", sort=False)
    wide.columns = [f"{p}: {k}" for p, k in wide.columns]
    wide = wide.reindex(list(dict.fromkeys(zip(shown["parameter"], shown["value"]))))  # table order (by value)
    doc.table(wide.reset_index())
    be = break_even(table)
    be.to_csv(ana_dir / "break_even.csv", index=False)
    if len(be):
        doc.p("**Break-even transition risks.** The one-off dropout risk of a move at which a policy's effect on "
              "dropout is zero (a straight line through the points; below it the policy lowers dropout, above "
              "it raises it). Only the risk of the policy's own moves and of turnover moves can move its effect.")
        doc.table(pd.DataFrame({
            "policy": [run.label(s) for s in be["scenario"]], "transition risk": be["parameter"],
            "break-even": [(f"{v:.3f}" if np.isfinite(v) else "none") + ("" if ok or not np.isfinite(v)
                                                                       else " (extrapolated)")
                           for v, ok in zip(be["break_even"], be["inside"])],
            "dropout effect per +0.1 risk (pp)": [f"{100 * v:+.2f}" for v in be["slope_per_0.1"]]}))
    doc.p("**Conclusion.** " + " ".join(conclusion(table, run.label, be)))


def _retention_section(doc: Doc, run: RunData, ana_dir: Path) -> None:
    """Kaplan–Meier retention at a few session counts, per scenario."""
    data = retention_data(run.tables["patients"], "sessions")
    if data.empty:
        return
    curves = kaplan_meier(data, "scenario", run.scenarios)
    times = [1, 2, 4, 8, 12]
    at = survival_at(curves, "scenario", times)
    at.to_csv(ana_dir / "retention_at_sessions.csv", index=False)
    doc.h(2, "Retention (Kaplan–Meier)")
    doc.p("Share of measured patients who started treatment and had not dropped out by the given number of "
          "attended sessions (event: dropout; other exits censored), pooled over replications, with the "
          "pointwise 95% interval.")
    label = {t: f"after {t} session{'s' if t != 1 else ''}" for t in times}
    table = pd.DataFrame({"scenario": s, **{label[t]: "" for t in times}} for s in run.scenarios)
    for row in at.itertuples():
        table.loc[table["scenario"] == row.scenario, label[row.time]] = \
            f"{100 * row.survival:.1f}% [{100 * row.ci_low:.1f}, {100 * row.ci_high:.1f}]"
    n = curves.groupby("scenario", sort=False)[["n", "events"]].first()
    table.insert(1, "patients (dropouts)", [f"{int(n.loc[s, 'n']):,} ({int(n.loc[s, 'events']):,})"
                                            if s in n.index else "–" for s in run.scenarios])
    table["scenario"] = table["scenario"].map(run.label)
    doc.table(table)


def _rupture_section(doc: Doc, run: RunData, ana_dir: Path) -> None:
    """Landmark retention by rupture status in the first L sessions."""
    L, scen = run.landmark_session, run.rupture_scenario
    data = rupture_landmark(run.tables["patients"], run.tables["sessions"], L, scenario=scen)
    if data.empty:
        return
    curves = kaplan_meier(data, "status", RUPTURE_STATUSES)
    times = [0, 4, 8]
    at = survival_at(curves, "status", times)
    at.to_csv(ana_dir / "retention_by_rupture.csv", index=False)
    doc.h(2, "Retention by rupture status")
    doc.p(f"Scenario {run.label(scen)}: patients still in treatment after attended session {L}, grouped by their ruptures "
          f"in sessions 1–{L}, and the share not yet dropped out a given number of further sessions later "
          "(Kaplan–Meier, 95% interval; 0 = dropped out straight after the landmark session).")
    rows = []
    for st in RUPTURE_STATUSES:
        a = at[at["status"] == st]
        if a.empty:
            continue
        row = {"status": st, "patients (dropouts)": f"{int(a['n'].iloc[0]):,} ({int(a['events'].iloc[0]):,})"}
        for r in a.itertuples():
            row[f"+{r.time} sessions"] = f"{100 * r.survival:.1f}% [{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]"
        rows.append(row)
    doc.table(pd.DataFrame(rows))


def _corrective_section(doc: Doc, run: RunData, ana_dir: Path) -> None:
    """Repaired courses against courses without rupture: can repair leave a course better off?"""
    t = repaired_vs_unruptured(run.tables["patients"], run.tables["sessions"])
    if t.empty:
        return
    t.to_csv(ana_dir / "repaired_vs_unruptured.csv", index=False)
    doc.h(2, "Repaired courses against courses without rupture")
    doc.p("Finishers whose every rupture was repaired, against finishers who never ruptured: of the pairs of "
          "one of each with the same number of attended sessions (same replication), the share in which the "
          "repaired course ends with the higher latent alliance (ties half; mean across replications, 95% "
          "interval), and each group's mean final alliance. The groups are different patients (ruptures "
          "concentrate in sensitive patients), so compare the share between scenarios: repair as a corrective "
          "experience (`rupture.corrective_*`) raises it.")
    doc.table(pd.DataFrame({
        "scenario": t["scenario"].map(run.label),
        "repaired (no rupture) courses": [f"{a:,} ({b:,})" for a, b in
                                          zip(t["repaired_courses"], t["unruptured_courses"])],
        "repaired ends higher (same-length pairs)": [
            "–" if not np.isfinite(m) else f"{100 * m:.1f}%" + (f" [{100 * lo:.1f}, {100 * hi:.1f}]"
                                                              if np.isfinite(lo) else "")
            for m, lo, hi in zip(t["share_above_unruptured"], t["share_ci_low"], t["share_ci_high"])],
        "final alliance, repaired": t["final_alliance_repaired"].map(lambda v: f"{v:.3f}"),
        "final alliance, no rupture": t["final_alliance_unruptured"].map(lambda v: f"{v:.3f}")}))


def _dose_section(doc: Doc, run: RunData, ana_dir: Path) -> None:
    """Each KPI at each dose, with its interval."""
    try:
        t = dose_table(run)
    except FigureSkipped:
        return
    t.to_csv(ana_dir / "dose_response.csv", index=False)
    dose = run.extra.get("dose") or {}
    doc.h(2, "Dose–response")
    doc.p(f"Each scenario sets {dose_label(run)} (`{dose.get('key')}`).")
    cols = {"scenario": t["scenario"].map(run.label), "dose": t["dose"].map(lambda v: f"{v:g}")}
    for kpi in run.kpi_names:
        cols[kpi_label(kpi)] = [fmt_interval(kpi, m, lo, hi) for m, lo, hi in
                                          zip(t[kpi], t[f"{kpi}_ci_low"], t[f"{kpi}_ci_high"])]
    doc.table(pd.DataFrame(cols))


def _trial_section(doc: Doc, run: RunData, ana_dir: Path) -> None:
    """The emulated cluster-randomised trial: true effect, headline design, power, clinicians needed."""
    settings = trial.trial_settings(run.extra)
    try:
        tables = trial.trial_tables(run)
    except ValueError as err:
        doc.h(2, "Trial emulation")
        doc.p(f"Not analysed: {err}.")
        return
    d = settings["design"]
    doc.h(2, "Trial emulation: cluster-randomised trial of rupture-repair training")
    doc.p(f"Each replication of scenario '{settings['scenario']}' is one trial: clinicians are randomised to "
          "training (simple randomisation, probability `intervention.training_share`), patients are analysed under "
          "the arm of the clinician who first treated them. A design of k clinicians and m patients per clinician "
          "takes the first k clinicians and each one's first m measured patients who finished treatment. "
          "Primary analysis: two-sample t-test on clinicians' mean outcomes (cluster-level summaries, k − 2 "
          "degrees of freedom); at the headline design also a GEE with exchangeable correlation and robust "
          f"standard errors. Headline design: **{d['clinicians']} clinicians × {d['patients_per_clinician']} "
          f"patients**; alpha = {settings['alpha']:g}.")
    truth = tables.get("trial_truth")
    if truth is not None:
        doc.p("True effect of training (everybody trained minus nobody trained, same random numbers, paired 95% "
              "interval):")
        doc.table(pd.DataFrame({
            "outcome": truth["outcome"].map(lambda o: trial.OUTCOMES[o][0]),
            "nobody trained": [_fmt_outcome(o, v) for o, v in zip(truth["outcome"], truth["control_mean"])],
            "everybody trained": [_fmt_outcome(o, v) for o, v in zip(truth["outcome"], truth["treated_mean"])],
            "effect [95% CI]": [_fmt_outcome(o, m, lo, hi, True) for o, m, lo, hi in
                                zip(truth["outcome"], truth["true_effect"], truth["ci_low"], truth["ci_high"])],
        }))
    est = tables.get("trial_estimand")
    if est is not None:
        doc.p("What the trial estimates: the difference between patients whose first clinician was trained and "
              "patients whose first clinician was not, within one service where half the clinicians are trained "
              "(shared waiting list and caseloads; reassigned patients stay in their first clinician's arm). "
              "Estimand = that difference over every clinician of the trial scenario, each with its first m "
              "finished patients; bias = mean over trials of (estimate - estimand of the same replication), "
              "paired 95% interval. It differs from the everybody-vs-nobody effect above through spillover on the "
              "shared list and caseloads and through reassignment across arms.")
        doc.table(pd.DataFrame({
            "outcome": est["outcome"].map(lambda o: trial.OUTCOMES[o][0]),
            "estimand [95% CI]": [_fmt_outcome(o, m, lo, hi, True) for o, m, lo, hi in zip(
                est["outcome"], est["estimand"], est["estimand_ci_low"], est["estimand_ci_high"])],
            "all finished patients": [_fmt_outcome(o, m, lo, hi, True) for o, m, lo, hi in zip(
                est["outcome"], est["estimand_all_patients"], est["all_patients_ci_low"],
                est["all_patients_ci_high"])],
            "mean trial estimate": [_fmt_outcome(o, m, diff=True)
                                    for o, m in zip(est["outcome"], est["mean_estimate"])],
            "bias [95% CI]": [_fmt_outcome(o, m, lo, hi, True) for o, m, lo, hi in zip(
                est["outcome"], est["bias"], est["bias_ci_low"], est["bias_ci_high"])],
            "CI coverage of estimand": [f"{100 * c:.0f}%" for c in est["coverage"]],
        }))
    h = tables["trial_headline"]
    rows = []
    for r in h.to_dict("records"):
        o = r["outcome"]
        rows.append({
            "outcome": trial.OUTCOMES[o][0], "trials": r["trials"], "patients per trial": f"{r['mean_patients']:.0f}",
            "mean estimate (SD over trials)": f"{_fmt_outcome(o, r['mean_estimate'], diff=True)} "
                                              f"({_fmt_spread(o, r['sd_estimate'])})",
            "power [95% CI]": f"{100 * r['power']:.0f}% [{100 * r['power_ci_low']:.0f}, {100 * r['power_ci_high']:.0f}]",
            "CI coverage of everybody-vs-nobody effect": f"{100 * r['coverage']:.0f}%" if "coverage" in r else "–",
            "GEE mean estimate (mean SE)": (f"{_fmt_outcome(o, r['gee_mean_estimate'], diff=True)} "
                                            f"({_fmt_spread(o, r['gee_mean_se'])})") if "gee_mean_estimate" in r else "–",
            "GEE power": f"{100 * r['gee_power']:.0f}%" if "gee_power" in r else "–",
            "ICC": f"{r['icc']:.3f}" if "icc" in r else "–",
        })
    doc.p("At the headline design:")
    doc.table(pd.DataFrame(rows))
    pw = tables["trial_power"]
    doc.p("Power (cluster-level t-test) [95% Wilson interval] by number of clinicians (rows) and patients per "
          "clinician (m):")
    doc.table(trial.power_grid(pw))
    need = tables.get("trial_clusters_needed")
    if need is not None:
        doc.p("Clinicians needed (both arms together) for 80% power at each m, by the standard formula "
              "2(z₀.₉₇₅ + z₀.₈)²σ²(1 + (m − 1)ICC)/(mδ²) per arm, with δ the trial's estimand above, σ the patient-level SD "
              "without training and the ICC from the GEE (a normal approximation: emulate the design to check it):")
        show = need.copy()
        show["outcome"] = show["outcome"].map(lambda o: trial.OUTCOMES[o][0])
        show["true_effect"] = [_fmt_outcome(o, v, diff=True) for o, v in zip(need["outcome"], need["true_effect"])]
        show["sd"] = [_fmt_spread(o, v) for o, v in zip(need["outcome"], need["sd"])]
        show["icc"] = show["icc"].map(lambda v: f"{v:.3f}")
        doc.table(show.rename(columns={"true_effect": "estimand", "sd": "SD", "icc": "ICC"}))
    short = pw["clusters_short"].max()
    if short > 0:
        doc.p(f"In the largest designs up to {100 * short:.0f}% of clinicians had fewer than m finished patients "
              "and contributed all they had.")


def _fmt_spread(o: str, v: float) -> str:
    return f"{100 * v:.1f} pp" if trial.is_share(o) else f"{v:.2f}"


def _fmt_outcome(o: str, m: float, lo: float = np.nan, hi: float = np.nan, diff: bool = False) -> str:
    key = "dropout_rate" if trial.is_share(o) else "mean_sessions"
    return fmt_interval(key, m, lo, hi, diff)
