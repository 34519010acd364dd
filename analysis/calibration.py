"""Calibration targets: published figures, and how to estimate each from a run's tables.

Every target is estimated the way the source study did, from *observed* quantities
(patient- and clinician-rated alliance on the WAI-SR scale, questionnaire severities,
ruptures as patients report them), never from the simulator's latent state or its
parameters. A :class:`Target` names its reference configuration (``talking_therapy`` =
reference A, ``community_team`` = reference B); the report has one row per registered
target whose reference is present in the run.

Every target has a **role**: ``fitted`` (the reference configurations were tuned to it,
so reproducing it shows the fit) or ``validation`` (chosen from the literature and never
used in tuning, so reproducing it is evidence the model generalises; a validation target
that falls outside is a finding, not a bug). A **companion** row (``companion_of``)
reports another definition of a target beside it, for comparison; it is printed but not
counted in the headline "inside" tally, and may have no accepted range.

Adding a target is one call from any module::

    from analysis.targets import register_target
    register_target("V9", "share of patients who ...", "Author et al. 2020", 0.25, 0.60,
                    "community_team", my_estimator, role="validation")

Intervals: ``interval="t"`` estimates the quantity in each replication and reports the
mean with a t-interval across replications; ``interval="bootstrap"`` pools all
replications for one estimate and resamples whole replications (percentile interval).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from analysis import mecca as _mecca
from analysis import targets_community as _targets_community
from analysis import targets_preference as _targets_preference
from analysis import targets_star as _targets_star
from analysis import targets_validation as _targets_validation
from analysis import targets_waits as _targets_waits
from analysis.targets import NO_RANGE, ROLES, TARGETS, Tables, Target, measured_sessions, register_target
from simulation.kpis import attender_dropout, attenders_ended, finishers, iapt_recovery
from simulation.summary import mean_ci

__all__ = ["TARGETS", "Target", "register_target", "finishers", "calibration_table", "estimate", "format_table",
           "write_calibration"]


# ---------------------------------------------------------------------------- populations
def _measured(p: pd.DataFrame) -> pd.DataFrame:
    return p[p["measured"]]


def _attenders(p: pd.DataFrame) -> pd.DataFrame:
    """Measured patients with at least one attended session whose course has ended."""
    return attenders_ended(p)


def _improvement(p: pd.DataFrame) -> pd.Series:
    """Pre-post change on the questionnaire (baseline minus last observed score)."""
    return p["baseline_severity"] - p["final_severity"]


def _corr(x: pd.Series, y: pd.Series) -> float:
    ok = x.notna() & y.notna()
    x, y = x[ok].astype(float), y[ok].astype(float)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return np.nan
    return float(np.corrcoef(x, y)[0, 1])


# ---------------------------------------------------------------------------- estimators
def early_alliance_outcome_r(t: Tables) -> float:
    """Target 1: r of early patient-rated alliance (sessions 3-5) with pre-post change."""
    a = _attenders(t["patients"])
    return _corr(a["alliance_patient_early"], _improvement(a))


def rater_gap_d(t: Tables) -> float:
    """Target 2a: patient minus clinician rating at session 3, in pooled SDs."""
    m = _measured(t["patients"]).dropna(subset=["alliance_patient_s3", "alliance_clinician_s3"])
    if len(m) < 3:
        return np.nan
    pr, cr = m["alliance_patient_s3"], m["alliance_clinician_s3"]
    sd = np.sqrt((pr.var() + cr.var()) / 2.0)
    return float((pr.mean() - cr.mean()) / sd) if sd > 0 else np.nan


def rater_r(t: Tables) -> float:
    """Target 2b: r of patient and clinician ratings at session 3."""
    m = _measured(t["patients"])
    return _corr(m["alliance_patient_s3"], m["alliance_clinician_s3"])


def reported_rupture_session_share(t: Tables) -> float:
    """Target 3: share of attended sessions with a patient-reported rupture."""
    s = measured_sessions(t)
    return float(s["rupture_reported"].mean()) if len(s) else np.nan


def reported_rupture_patient_share(t: Tables) -> float:
    """Target 4: share of finishers reporting at least one rupture."""
    f = finishers(t["patients"])
    return float((f["ruptures_reported"] > 0).mean()) if len(f) else np.nan


def _rated_courses(t: Tables, patients: pd.DataFrame) -> pd.DataFrame:
    """Attended sessions of ``patients`` in order, with k = 0, 1, ... per patient."""
    s = measured_sessions(t)
    s = s[s["patient_id"].isin(patients["patient_id"])]
    s = s.sort_values(["patient_id", "day"], kind="stable")[["patient_id", "alliance_patient", "rupture_reported"]]
    return s.assign(k=s.groupby("patient_id").cumcount(), rupture_reported=s["rupture_reported"].astype(bool))


def reported_rupture_resolution(t: Tables) -> pd.DataFrame:
    """Target 5's sample from observed data only: was the patient's rating back to its pre-rupture level at the end?"""
    # Finishers whose first patient-reported rupture came after their first attended session and
    # before their last; resolved = patient-rated WAI-SR at the last attended session >= its value
    # at the session before that rupture.
    f = finishers(t["patients"])
    f = f[f["ruptures_reported"] > 0]
    s = _rated_courses(t, f)
    g = s.groupby("patient_id", sort=False)
    first = s[s["rupture_reported"]].groupby("patient_id")["k"].min()
    last_k = g["k"].max()
    ok = first[(first >= 1) & (first < last_k.reindex(first.index))]
    rating = s.set_index(["patient_id", "k"])["alliance_patient"]
    pre = rating.reindex(list(zip(ok.index, ok.to_numpy() - 1))).to_numpy()
    end = rating.reindex(list(zip(ok.index, last_k.reindex(ok.index).to_numpy()))).to_numpy()
    out = f.set_index("patient_id").loc[ok.index, ["baseline_severity", "final_severity"]].copy()
    out["resolved"] = (end >= pre).astype(float)
    return out


def resolution_outcome_r(t: Tables) -> float:
    """Point-biserial r of "alliance back to its pre-rupture level by the end" with pre-post change."""
    d = reported_rupture_resolution(t)
    return _corr(d["resolved"], _improvement(d))


def rating_drops(t: Tables, patients: pd.DataFrame) -> pd.Series:
    """Target 4b's rupture marks: ratings below the patient's previous mean by > 1 SD of session-to-session change."""
    # From the third attended session on; the SD of session-to-session changes is pooled over
    # ``patients`` (Strauss et al. 2006's one-SD criterion). Aligned with _rated_courses rows.
    s = _rated_courses(t, patients)
    r = s.groupby("patient_id")["alliance_patient"]
    threshold = float(r.diff().std())
    previous_mean = r.transform(lambda x: x.expanding().mean().shift(1))
    return ((previous_mean - s["alliance_patient"]) > threshold) & (s["k"] >= 2)


def rating_drop_patient_share(t: Tables) -> float:
    """Finishers with at least one rating-drop rupture (see :func:`rating_drops`)."""
    f = finishers(t["patients"])
    if not len(f):
        return np.nan
    s = _rated_courses(t, f)
    hit = set(s.loc[rating_drops(t, f).to_numpy(), "patient_id"])
    return float(f["patient_id"].isin(hit).mean())


def dropout_share(t: Tables) -> float:
    """Target 6: the KPI ``attender_dropout_rate`` (dropouts among attenders whose course ended)."""
    return attender_dropout(t["patients"])


def dna_discharge_share(t: Tables) -> float:
    """Target 6's denominator, exit 'dna_discharge' (shown beside dropout, not part of it)."""
    a = _attenders(t["patients"])
    return float((a["exit_reason"] == "dna_discharge").mean()) if len(a) else np.nan


def unilateral_ending_share(t: Tables) -> float:
    """Target 6's denominator, exit 'dropout' or 'dna_discharge' (the broad reading of dropout)."""
    a = _attenders(t["patients"])
    return float(a["exit_reason"].isin(["dropout", "dna_discharge"]).mean()) if len(a) else np.nan


def early_dropout_share(t: Tables) -> float:
    """Target 7: share of dropouts with at most 2 attended sessions."""
    a = _attenders(t["patients"])
    d = a[a["exit_reason"] == "dropout"]
    return float((d["sessions_attended"] <= 2).mean()) if len(d) else np.nan


def therapist_icc(t: Tables) -> float:
    """Random-intercept model of last score adjusted for baseline; clinicians as groups.

    Groups are (replication, first clinician); the ICC is the clinician variance over the
    total (clinician + residual) variance, as in Johns et al. (2019).
    """
    import warnings

    import statsmodels.formula.api as smf
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    f = finishers(t["patients"]).copy()
    if f["first_clinician_id"].nunique() < 3:
        return np.nan
    f["clinician"] = f["replication"].astype(np.int64) * 100_000 + f["first_clinician_id"]
    f["baseline_c"] = f["baseline_severity"] - f["baseline_severity"].mean()
    model = smf.mixedlm("final_severity ~ baseline_c", f, groups=f["clinician"])
    # Start L-BFGS from the one-way ANOVA (moment) estimate: from statsmodels' default start
    # it stalls at the zero boundary on these data. Fall back to Nelder-Mead.
    ols = smf.ols("final_severity ~ baseline_c", f).fit()
    g = pd.DataFrame({"r": ols.resid, "c": f["clinician"]}).groupby("c")["r"]
    n_bar = float(g.size().mean())
    tau0 = max(float(g.mean().var()) - float(ols.resid.var()) / n_bar, 0.01 * float(ols.resid.var()))
    start = MixedLMParams.from_components(fe_params=ols.params.to_numpy(),
                                          cov_re=np.array([[tau0 / float(ols.resid.var())]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(reml=True, method="lbfgs", start_params=start)
        if not fit.converged:
            fit = model.fit(reml=True, method="nm")
    tau = float(fit.cov_re.iloc[0, 0])
    return tau / (tau + float(fit.scale))


def _attended_scores(t: Tables, caseness: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    p = _measured(t["patients"])
    p = p[(p["sessions_attended"] > 0) & (p["baseline_severity"] >= caseness)]
    s = t["sessions"]
    s = s[s["attended"] & s["patient_id"].isin(p["patient_id"])][["patient_id", "severity"]].copy()
    s["k"] = s.groupby("patient_id").cumcount() + 1
    return p, s


def _recovery_times(t: Tables, caseness: float, reliable: float,
                    planned_endings_recover: bool) -> tuple[np.ndarray, np.ndarray]:
    """(time, event) over attended sessions for Kaplan-Meier (see the two estimators below)."""
    p, s = _attended_scores(t, caseness)
    base = p.set_index("patient_id")["baseline_severity"]
    s = s.assign(base=s["patient_id"].map(base))
    hit = s[(s["severity"] < caseness) & (s["base"] - s["severity"] >= reliable)]
    first = hit.groupby("patient_id")["k"].min()
    last = p.set_index("patient_id")["sessions_attended"]
    time = first.reindex(last.index).fillna(last).to_numpy(dtype=float)
    event = last.index.isin(first.index)
    if planned_endings_recover:
        planned = (p.set_index("patient_id")["exit_reason"] == "recovered").to_numpy()
        event = event | planned
    return time, event


def recovery_median_session(t: Tables, caseness: float = 10.0, reliable: float = 6.0) -> float:
    """Target 9 (strict): KM session by which half have recovered, planned endings below caseness as recoveries."""
    # Event: first attended score below caseness with reliable change (Jacobson-Truax, as in
    # Hansen et al. 2002) or, for exit 'recovered', the last attended session. Censored: dropout,
    # DNA discharge, course-length cap, end of run. 50% crossing interpolated; NaN if never reached.
    time, event = _recovery_times(t, caseness, reliable, planned_endings_recover=True)
    return km_crossing(time, event, 0.5) if len(time) else np.nan


def recovery_median_session_censored(t: Tables, caseness: float = 10.0, reliable: float = 6.0) -> float:
    """Target 9b (the former estimator): as 9 but planned endings without reliable change censor, informatively."""
    # Those endings follow two scores below caseness, so censoring them removes patients about to
    # recover and moves the median later.
    time, event = _recovery_times(t, caseness, reliable, planned_endings_recover=False)
    return km_crossing(time, event, 0.5) if len(time) else np.nan


def km_crossing(time: np.ndarray, event: np.ndarray, level: float) -> float:
    """First time the Kaplan–Meier event curve 1 - S(t) reaches ``level`` (interpolated)."""
    times = np.unique(time[event])
    s_prev, t_prev = 1.0, 0.0
    for k in times:
        at_risk = np.sum(time >= k)
        d = np.sum((time == k) & event)
        s = s_prev * (1.0 - d / at_risk)
        if 1.0 - s >= level:
            f_prev, f = 1.0 - s_prev, 1.0 - s
            return float(t_prev + (k - t_prev) * (level - f_prev) / (f - f_prev)) if f > f_prev else float(k)
        s_prev, t_prev = s, float(k)
    return np.nan


def finisher_mean_sessions(t: Tables) -> float:
    """Target 10a: mean attended sessions of finishers."""
    f = finishers(t["patients"])
    return float(f["sessions_attended"].mean()) if len(f) else np.nan


def finisher_recovery_phq9(t: Tables, caseness: float = 10.0) -> float:
    """Target 10c: 10b's former estimator, PHQ-9 alone (the one the references were tuned to)."""
    return iapt_recovery(t["patients"], caseness)


def finisher_recovery(t: Tables, caseness: float = 10.0, anxiety_caseness: float = 8.0) -> float:
    """Target 10b: IAPT recovery of finishers on PHQ-9 and GAD-7, as IAPT computes it (the KPI ``iapt_recovery_rate``)."""
    p = t["patients"]
    has_anxiety = "gad7_referral" in p and p["gad7_referral"].notna().any()
    return iapt_recovery(p, caseness, anxiety_caseness if has_anxiety else None)


# ---------------------------------------------------------------------------- reference A
A = "talking_therapy"
register_target("1", "r(early patient-rated alliance, pre-post change)",
                "Horvath et al. 2011; Flückiger et al. 2018", 0.22, 0.33, A, early_alliance_outcome_r,
                definition="Pearson r of the mean patient-rated WAI-SR over attended sessions 3-5 with "
                           "baseline minus last PHQ-9, measured patients whose course ended")
register_target("2a", "patient minus clinician rating at session 3 (Cohen's d)",
                "Tryon, Blackwell & Hammel 2007", 0.4, 0.8, A, rater_gap_d,
                definition="mean difference of patient- and clinician-rated WAI-SR at attended session 3 "
                           "over their pooled SD")
register_target("2b", "cross-rater r of alliance at session 3", "Tryon, Blackwell & Hammel 2007",
                0.25, 0.45, A, rater_r,
                definition="Pearson r of patient- and clinician-rated WAI-SR at attended session 3")
register_target("3", "share of attended sessions with a patient-reported rupture",
                "Eubanks, Muran & Safran 2018", 0.19, 0.42, A, reported_rupture_session_share,
                tables=("patients", "sessions"),
                definition="attended sessions of measured patients with rupture_reported")
register_target("4", "share of patients with >= 1 reported rupture over a course", "McLaughlin et al. 2014",
                0.35, 0.60, A, reported_rupture_patient_share,
                definition="finishers (ended, >= 2 attended sessions) with at least one patient-reported rupture")
register_target("4b", "share of patients with >= 1 drop in the patient-rated alliance",
                "McLaughlin et al. 2014 (ruptures found as drops in session alliance ratings)", 0.35, 0.60, A,
                rating_drop_patient_share, tables=("patients", "sessions"), companion_of="4",
                definition="finishers with at least one attended session (3rd on) whose patient-rated WAI-SR "
                           "is below the mean of the patient's previous ratings by more than 1 SD of "
                           "session-to-session rating changes (SD pooled over finishers). The project's rule in "
                           "the family McLaughlin et al. used (Stiles et al. 2004; Strauss et al. 2006: 1 SD); "
                           "the source's exact threshold was not retrieved")
register_target("5", "r(patient-rated alliance back to its pre-rupture level, pre-post change)",
                "Eubanks, Muran & Safran 2018", 0.15, 0.40, A, resolution_outcome_r, tables=("patients", "sessions"),
                definition="point-biserial r among finishers whose first patient-reported rupture came after "
                           "their first attended session and before their last: resolved = the patient-rated "
                           "WAI-SR at the last attended session >= its value at the session before that rupture; "
                           "with baseline minus last PHQ-9. Observed quantities only (no latent rupture state)")
register_target("6", "dropout of attenders (unilateral termination; KPI attender_dropout_rate)", "Swift & Greenberg 2012", 0.17, 0.23, A,
                dropout_share,
                definition="exit 'dropout' among measured patients with >= 1 attended session whose course "
                           "ended (DNA discharge and leaving the waiting list are separate exits; see 6b, 6c)")
register_target("6b", "DNA discharge, beside dropout (no target)", "reported beside Swift & Greenberg 2012",
                *NO_RANGE, A, dna_discharge_share, companion_of="6",
                definition="exit 'dna_discharge' (discharged after consecutive missed sessions) in target 6's "
                           "denominator; not counted as dropout in 6")
register_target("6c", "dropout or DNA discharge (broad unilateral ending, no target)",
                "reported beside Swift & Greenberg 2012", *NO_RANGE, A, unilateral_ending_share, companion_of="6",
                definition="exit 'dropout' or 'dna_discharge' in target 6's denominator: 6 + 6b")
register_target("7", "share of dropouts after the 1st or 2nd session", "Olfson et al. 2009", 0.70, 1.0, A,
                early_dropout_share,
                definition="dropouts (as in 6) with at most 2 attended sessions")
register_target("8", "therapist share of outcome variance (ICC)", "Johns, Barkham, Kellett & Saxon 2019",
                0.02, 0.09, A, therapist_icc, interval="bootstrap",
                definition="MixedLM last PHQ-9 ~ baseline, random intercept per (replication, first "
                           "clinician), finishers; clinician variance / (clinician + residual)")
register_target("9", "session by which 50% have recovered (Kaplan-Meier, planned endings as recoveries)",
                "Hansen, Lambert & Forman 2002", 13.0, 18.0, A, recovery_median_session,
                tables=("patients", "sessions"),
                definition="decisive version. KM over attended sessions of patients at caseness with >= 1 "
                           "session; event = first score < caseness with reliable change (>= 6 points) or a "
                           "planned ending after scores below caseness (exit 'recovered', at its last session); "
                           "censored: dropout, DNA discharge, course-length cap, end of run")
register_target("9b", "session by which 50% have recovered (KM, planned endings censored)",
                "Hansen, Lambert & Forman 2002", 13.0, 18.0, A, recovery_median_session_censored,
                tables=("patients", "sessions"), companion_of="9",
                definition="secondary, the former estimator: as 9 but planned endings without reliable change "
                           "are censored, an informative censoring (they had two scores below caseness) that "
                           "moves the median later")
register_target("10a", "mean attended sessions of finishers", "NHS Digital IAPT annual report 2017-18",
                6.0, 8.0, A, finisher_mean_sessions,
                definition="finishers: ended with >= 2 attended sessions (IAPT's definition); IAPT 2017-18 "
                           "reports about 7")
register_target("10b", "IAPT recovery of finishers, PHQ-9 and GAD-7 (KPI iapt_recovery_rate)", "NHS Digital IAPT annual report 2017-18",
                0.45, 0.55, A, finisher_recovery,
                definition="finishers (>= 2 attended sessions) at caseness at referral on PHQ-9 (>= 10) or "
                           "GAD-7 (>= 8) whose last PHQ-9 is < 10 and last GAD-7 < 8 (IAPT's 'moving to "
                           "recovery', 50.8% in 2017-18). GAD-7 is scored at referral and each attended session "
                           "from that session's PHQ-9 (r 0.75) plus a patient offset and questionnaire error "
                           "(simulation/anxiety.py); the planned ending needs both below caseness")
register_target("10c", "IAPT-style recovery of finishers on PHQ-9 alone", "NHS Digital IAPT annual report 2017-18",
                0.45, 0.55, A, finisher_recovery_phq9, companion_of="10b",
                definition="secondary, the former estimator of 10b: finishers with PHQ-9 >= 10 at referral "
                           "whose last PHQ-9 is < 10; the references were tuned to it before GAD-7 existed")


# ---------------------------------------------------------------------------- the report
def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    return mean_ci(values)


def _split_replications(tables: Tables, names: tuple[str, ...]) -> dict[int, Tables]:
    out: dict[int, Tables] = {}
    for name in names:
        for rep, df in tables[name].groupby("replication", sort=True):
            out.setdefault(int(rep), {})[name] = df
    return out


def _pooled(parts: list[Tables], names: tuple[str, ...]) -> Tables:
    out = {}
    for name in names:
        frames = []
        for i, part in enumerate(parts):
            df = part.get(name)
            if df is not None:
                frames.append(df.assign(replication=i))
        out[name] = pd.concat(frames, ignore_index=True)
    return out


def estimate(target: Target, tables: Tables, n_boot: int = 200, seed: int = 0) -> tuple[float, float, float, int]:
    """(value, ci_low, ci_high, replications) of ``target`` on one scenario's tables."""
    reps = _split_replications(tables, target.tables)
    keys = sorted(reps)
    if target.interval == "t":
        vals = np.array([target.estimator(reps[r]) for r in keys], dtype=float)
        m, lo, hi = _t_interval(vals)
        return m, lo, hi, len(keys)
    parts = [reps[r] for r in keys]
    value = target.estimator(_pooled(parts, target.tables))
    gen = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        pick = gen.integers(0, len(parts), len(parts))
        boots.append(target.estimator(_pooled([parts[i] for i in pick], target.tables)))
    boots = np.array(boots, dtype=float)
    boots = boots[np.isfinite(boots)]
    lo, hi = (np.percentile(boots, [2.5, 97.5]) if len(boots) else (np.nan, np.nan))
    return float(value), float(lo), float(hi), len(keys)


def reference_scenarios(scenarios: list[str], experiment_extra: Optional[dict] = None) -> dict[str, str]:
    """scenario -> reference configuration, from ``extra.references`` or matching names."""
    refs = dict((experiment_extra or {}).get("references") or {})
    known = {t.reference for t in TARGETS.values()}
    out = {sc: ref for sc, ref in refs.items() if sc in scenarios}
    for sc in scenarios:
        if sc not in out and sc in known:
            out[sc] = sc
    return out


def calibration_table(tables: Tables, experiment_extra: Optional[dict] = None, n_boot: Optional[int] = None,
                      targets: Optional[list[str]] = None) -> pd.DataFrame:
    """One row per registered target whose reference configuration is in the run."""
    extra = (experiment_extra or {}).get("calibration") or {}
    n_boot = int(n_boot if n_boot is not None else extra.get("bootstrap", 200))
    scenarios = list(dict.fromkeys(tables["patients"]["scenario"]))
    mapping = reference_scenarios(scenarios, experiment_extra)
    rows = []
    for sc, ref in mapping.items():
        sub = {name: df[df["scenario"] == sc] for name, df in tables.items()
               if isinstance(df, pd.DataFrame) and "scenario" in df.columns}
        for t in TARGETS.values():
            if t.reference != ref or (targets is not None and t.number not in targets):
                continue
            if any(name not in sub for name in t.tables):
                value, lo, hi, n = np.nan, np.nan, np.nan, 0
            else:
                value, lo, hi, n = estimate(t, sub, n_boot=n_boot)
            rows.append({"target": t.number, "role": t.role, "companion_of": t.companion_of,
                         "quantity": t.quantity, "source": t.source,
                         "reference": ref, "scenario": sc, "accepted_low": t.low, "accepted_high": t.high,
                         "simulated": value, "ci_low": lo, "ci_high": hi,
                         "interval": ("t over replications" if t.interval == "t"
                                      else "pooled, bootstrap over replications"),
                         "replications": n, "inside": t.inside(value) if t.has_range else None,
                         "definition": t.definition})
    return pd.DataFrame(rows, columns=COLUMNS)


COLUMNS = ["target", "role", "companion_of", "quantity", "source", "reference", "scenario", "accepted_low",
           "accepted_high", "simulated", "ci_low", "ci_high", "interval", "replications", "inside", "definition"]


def _headline(df: pd.DataFrame) -> pd.DataFrame:
    """Rows that count: not companions (companion_of empty or missing)."""
    comp = df["companion_of"].fillna("").astype(str)
    return df[comp == ""]


def _short_source(source: str) -> str:
    """The source up to its first year (the full reference is in calibration.csv)."""
    import re

    m = re.search(r"(19|20)\d\d(-\d\d)?", str(source))
    return str(source)[:m.end()] if m else str(source)


def format_table(df: pd.DataFrame) -> str:
    """The calibration table as plain text: fitted targets, then validation targets (sources shortened)."""
    if df.empty:
        return "No calibration targets apply to the scenarios of this run."

    def accepted(lo: float, hi: float) -> str:
        return f"{lo:.3g}-{hi:.3g}" if np.isfinite(lo) and np.isfinite(hi) else "-"

    def verdict(v, companion: str) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "-"
        return ("yes" if v else "NO") + (" (companion)" if companion else "")

    blocks = []
    for role, title in (("fitted", "FITTED targets (the references were tuned to these)"),
                        ("validation", "VALIDATION targets (from published studies, never used in tuning)")):
        part = df[df["role"] == role]
        if part.empty:
            continue
        comp = part["companion_of"].fillna("").astype(str)
        show = pd.DataFrame({
            "target": part["target"], "quantity": part["quantity"], "source": part["source"].map(_short_source),
            "accepted": [accepted(lo, hi) for lo, hi in zip(part["accepted_low"], part["accepted_high"])],
            "simulated": [f"{v:.3f}" for v in part["simulated"]],
            "95% CI": [f"{lo:.3f}-{hi:.3f}" for lo, hi in zip(part["ci_low"], part["ci_high"])],
            "inside": [verdict(v, c) for v, c in zip(part["inside"], comp)],
        })
        head = _headline(part)
        n_in = int(sum(v is True or v == True for v in head["inside"]))  # noqa: E712 (numpy/CSV booleans)
        blocks.append(f"{title}\n{show.to_string(index=False)}\n"
                      f"{n_in} of {len(head)} {role} targets inside their accepted ranges "
                      "(companion rows, another definition shown beside a target, are not counted).")
    return "\n\n".join(blocks)


def write_calibration(run_dir: str | Path, tables: Optional[Tables] = None,
                      experiment_extra: Optional[dict] = None) -> pd.DataFrame:
    """Compute the table for a run directory and write ``calibration.csv`` there."""
    from simulation.io import atomic_write_bytes, read_manifest
    from simulation.runner import load_run

    run_dir = Path(run_dir)
    if tables is None:
        tables = load_run(run_dir)
    if experiment_extra is None:
        experiment_extra = read_manifest(run_dir).get("experiment_extra") or {}
    df = calibration_table(tables, experiment_extra)
    atomic_write_bytes(run_dir / "calibration.csv", df.to_csv(index=False).encode())
    return df


# Targets defined in other modules register themselves here.
_targets_community.register()
_targets_validation.register()
_targets_waits.register()
_targets_preference.register()
_targets_star.register()
_mecca.register()
