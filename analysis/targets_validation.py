"""Validation targets for reference A: published figures the references were never tuned to.

Each was chosen from the literature for the issue "calibration as inference" and is
registered with ``role="validation"``: it never enters tuning, and one that falls outside
its range is a finding about the model, not a bug to tune away. Every estimator reads
observed quantities only (exit reasons, attended sessions, PHQ-9 and WAI-SR ratings), and
each accepted range says how it was derived from its source.

* V1 therapist share of dropout variance: Saxon, Barkham, Foster & Parry 2017.
* V2 alliance difference between dropouts and other patients: Sharf, Primavera & Diener 2010.
* V3 share of patients with a sudden gain: Tang & DeRubeis 1999 (criteria and prevalence).
* V4 share of patients entering treatment who attend one session only: NHS Digital IAPT.
* V5a, V5b sessions by which 95% of IAPT responders have reached reliable recovery, low- and
  high-intensity courses: Robinson, Kellett & Delgadillo 2020.

Companions V1b and V3b keep the definitions the issue-14 audit replaced or questioned
(README "Validation audit").

Reference B's validation target (the vacancy rate of its posts) is in
:mod:`analysis.targets_community`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

from analysis.targets import NO_RANGE, Tables, measured_sessions, register_target
from simulation.kpis import attenders_ended, finishers

A = "talking_therapy"

SOURCES = {
    "V1": "Saxon, Barkham, Foster & Parry 2017, Clin Psychol Psychother 24:575 (10,521 patients, 85 therapists)",
    "V2": "Sharf, Primavera & Diener 2010, Psychotherapy 47:637 (meta-analysis, 11 studies, N = 1,301)",
    "V3": "Tang & DeRubeis 1999, JCCP 67:894 (criteria; 39% in CBT for depression); Kelly, Cyranowski & Frank "
          "2007, Behav Res Ther 45:2563 (33.5% in IPT); Aderka et al. 2012, JCCP 80:93 (meta-analysis of 16 studies)",
    "V4": "NHS Digital, Psychological Therapies annual reports on the use of IAPT services 2017-18 and 2018-19",
    "V5": "Robinson, Kellett & Delgadillo 2020, Depress Anxiety 37:285 (doi 10.1002/da.22999; 102,206 patients, "
          "16 English IAPT services; survival analysis of sessions to reliable and clinically significant improvement)",
}


# ---------------------------------------------------------------------------- V1
def random_intercept_logit_icc(y: np.ndarray, x: np.ndarray, groups: np.ndarray, nodes: int = 20) -> float:
    """Latent-scale ICC of a random-intercept logistic model (ML), as multilevel dropout studies report."""
    # ICC = sigma^2 / (sigma^2 + pi^2/3); one covariate ``x`` (case mix); analytic gradient. Rows
    # with the same group and ``x`` are pooled into binomial counts first (PHQ-9 scores are
    # integers), which keeps a fit over many replications fast.
    d = pd.DataFrame({"g": np.asarray(groups), "x": np.asarray(x, float), "y": np.asarray(y, float)})
    d["x"] -= d["x"].mean()
    agg = d.groupby(["g", "x"], sort=True)["y"].agg(["sum", "count"]).reset_index()
    if agg["g"].nunique() < 3 or d["y"].min() == d["y"].max():
        return np.nan
    g = agg["g"].to_numpy()
    xs, ys, ns = agg["x"].to_numpy(), agg["sum"].to_numpy(float), agg["count"].to_numpy(float)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    logw = np.log(w / np.sqrt(2.0 * np.pi))

    def nll_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b0, b1, log_sigma = theta
        sigma = np.exp(log_sigma)
        lin = (b0 + b1 * xs)[:, None] + sigma * z[None, :]
        resid = ys[:, None] - ns[:, None] / (1.0 + np.exp(-lin))  # d ll / d lin per row and node
        ll = ys[:, None] * lin - ns[:, None] * np.logaddexp(0.0, lin)
        per_group = np.add.reduceat(ll, starts, axis=0) + logw[None, :]
        m = per_group.max(axis=1, keepdims=True)
        weights = np.exp(per_group - m)
        total = weights.sum(axis=1, keepdims=True)
        post = weights / total  # posterior weight of each node, per group
        d0 = np.add.reduceat(resid, starts, axis=0)
        d1 = np.add.reduceat(resid * xs[:, None], starts, axis=0)
        grad = np.array([(post * d0).sum(), (post * d1).sum(), (post * d0 * z[None, :]).sum() * sigma])
        return -float((m[:, 0] + np.log(total[:, 0])).sum()), -grad

    p = float(np.clip(ys.sum() / ns.sum(), 1e-3, 1 - 1e-3))
    fit = optimize.minimize(nll_grad, np.array([np.log(p / (1 - p)), 0.0, np.log(0.5)]), jac=True,
                            method="L-BFGS-B", bounds=[(-20, 20), (-5, 5), (np.log(1e-3), np.log(10.0))])
    var = float(np.exp(fit.x[2])) ** 2
    return var / (var + np.pi ** 2 / 3.0)


def therapist_dropout_icc(t: Tables, endings: tuple[str, ...] = ("dropout",)) -> float:
    """V1: therapist share of dropout variance (latent scale), baseline severity as case mix."""
    a = attenders_ended(t["patients"])
    if a["first_clinician_id"].nunique() < 3:
        return np.nan
    groups = a["replication"].astype(np.int64).to_numpy() * 100_000 + a["first_clinician_id"].to_numpy()
    return random_intercept_logit_icc(a["exit_reason"].isin(endings).to_numpy(),
                                      a["baseline_severity"].to_numpy(), groups)


def therapist_unplanned_ending_icc(t: Tables) -> float:
    """V1b: as V1 with every unilateral ending (dropout or discharge after missed sessions) as the event."""
    return therapist_dropout_icc(t, endings=("dropout", "dna_discharge"))


# ---------------------------------------------------------------------------- V2
def _first_rating(t: Tables, patients: pd.DataFrame) -> pd.Series:
    """Patient-rated WAI-SR at each patient's first attended session."""
    s = measured_sessions(t)
    s = s[s["patient_id"].isin(patients["patient_id"])].sort_values(["patient_id", "day"], kind="stable")
    return s.groupby("patient_id")["alliance_patient"].first()


def alliance_dropout_d(t: Tables) -> float:
    """V2: Cohen's d of the first-session patient rating, planned endings minus dropouts."""
    a = attenders_ended(t["patients"])
    a = a[a["exit_reason"].isin(["dropout", "recovered", "completed"])]
    r = _first_rating(t, a).reindex(a["patient_id"]).to_numpy()
    drop = (a["exit_reason"] == "dropout").to_numpy()
    x1, x0 = r[~drop & np.isfinite(r)], r[drop & np.isfinite(r)]
    if len(x1) < 2 or len(x0) < 2:
        return np.nan
    pooled = np.sqrt(((len(x1) - 1) * x1.var(ddof=1) + (len(x0) - 1) * x0.var(ddof=1)) / (len(x1) + len(x0) - 2))
    return float((x1.mean() - x0.mean()) / pooled) if pooled > 0 else np.nan


# ---------------------------------------------------------------------------- V3
SUDDEN_GAIN_POINTS = 6.0  # absolute criterion: the PHQ-9 reliable change used throughout (population.reliable_change)
T_CRIT = {2: 4.303, 3: 3.182, 4: 2.776}  # two-tailed .05 critical t by df = n_before + n_after - 2


def has_sudden_gain(scores: np.ndarray, points: float = SUDDEN_GAIN_POINTS) -> bool:
    """Tang & DeRubeis (1999) sudden-gain criteria on one patient's scores (referral, then sessions)."""
    # A gain from score n-1 to n is sudden if (1) it is >= ``points``, (2) it is >= 25% of the
    # pre-gain score, and (3) the mean of up to three scores before (n-3..n-1) exceeds the mean of
    # up to three after (n..n+2) by more than t_crit x their pooled SD (>= two on each side;
    # t_crit 2.776 for 3+3, 3.182 for 2+3, 4.303 for 2+2).
    x = np.asarray(scores, float)
    for n in range(2, len(x) - 1):
        gain = x[n - 1] - x[n]
        if gain < points or gain < 0.25 * x[n - 1]:
            continue
        pre, post = x[max(0, n - 3):n], x[n:n + 3]
        df = len(pre) + len(post) - 2
        pooled = np.sqrt(((len(pre) - 1) * pre.var(ddof=1) + (len(post) - 1) * post.var(ddof=1)) / df)
        if pre.mean() - post.mean() > T_CRIT[df] * pooled:
            return True
    return False


def high_intensity(patients: pd.DataFrame, everyone: pd.DataFrame) -> pd.Series:
    """Whether each of ``patients`` was stepped to the longest course offered to ``everyone`` (psychotherapy)."""
    # Stepped care records the step; the table holds it as the course length (A: 6 low, 16 high).
    return patients["max_sessions"] == everyone["max_sessions"].max()


def sudden_gain_share(t: Tables, high_intensity_only: bool = True) -> float:
    """V3: share of ended high-intensity courses with >= 4 attended sessions that contain a sudden gain."""
    a = attenders_ended(t["patients"])
    a = a[a["sessions_attended"] >= 4]
    if high_intensity_only:
        a = a[high_intensity(a, t["patients"])]
    if not len(a):
        return np.nan
    s = measured_sessions(t)
    s = s[s["patient_id"].isin(a["patient_id"])].sort_values(["patient_id", "day"], kind="stable")
    base = a.set_index("patient_id")["baseline_severity"]
    hits = [has_sudden_gain(np.r_[base[pid], g.to_numpy()]) for pid, g in s.groupby("patient_id")["severity"]]
    return float(np.mean(hits))


def sudden_gain_share_all_courses(t: Tables) -> float:
    """V3b: V3 over every course (low-intensity guided self-help too), the estimator before the audit."""
    return sudden_gain_share(t, high_intensity_only=False)


# ---------------------------------------------------------------------------- V4
def single_session_share(t: Tables) -> float:
    """V4: of measured patients who attended >= 1 session and whose course ended, those with one."""
    a = attenders_ended(t["patients"])
    return float((a["sessions_attended"] == 1).mean()) if len(a) else np.nan


# ---------------------------------------------------------------------------- V5
PHQ9_CASENESS, PHQ9_RELIABLE = 10.0, 6.0  # IAPT: PHQ-9 caseness >= 10, reliable change >= 6 points
GAD7_CASENESS, GAD7_RELIABLE = 8.0, 4.0  # IAPT: GAD-7 caseness >= 8, reliable change >= 4 points


def reliable_recovery(phq0, gad0, phq, gad) -> np.ndarray:
    """IAPT reliable recovery of scores (phq, gad) against referral (phq0, gad0): the responders of Robinson et al."""
    # At caseness at referral on either measure, below caseness on both now, reliable improvement
    # on at least one and reliable deterioration on neither (IAPT's definitions).
    phq0, gad0, phq, gad = (np.asarray(x, float) for x in (phq0, gad0, phq, gad))
    case = (phq0 >= PHQ9_CASENESS) | (gad0 >= GAD7_CASENESS)
    below = (phq < PHQ9_CASENESS) & (gad < GAD7_CASENESS)
    improved = (phq0 - phq >= PHQ9_RELIABLE) | (gad0 - gad >= GAD7_RELIABLE)
    worse = (phq - phq0 >= PHQ9_RELIABLE) | (gad - gad0 >= GAD7_RELIABLE)
    return case & below & improved & ~worse


def sessions_to_response(t: Tables, high: bool, share: float = 0.95) -> float:
    """V5: attended sessions by which ``share`` of a course type's responders first met reliable recovery."""
    # Responders: finishers whose last scores meet reliable recovery. Time: the first attended
    # session whose scores meet it. Every responder has the event, so the survival percentile is
    # the inverted-CDF quantile of those times. NaN without an anxiety measure or responders.
    p = finishers(t["patients"])
    if "gad7_referral" not in p or not p["gad7_referral"].notna().any():
        return np.nan
    p = p[high_intensity(p, t["patients"]) == high]
    p = p[reliable_recovery(p["baseline_severity"], p["gad7_referral"], p["final_severity"], p["gad7_last"])]
    if not len(p):
        return np.nan
    s = measured_sessions(t)
    s = s[s["patient_id"].isin(p["patient_id"])].sort_values(["patient_id", "day"], kind="stable")
    k = s.groupby("patient_id").cumcount().to_numpy() + 1
    ref = p.set_index("patient_id")
    ids = s["patient_id"]
    hit = reliable_recovery(ids.map(ref["baseline_severity"]), ids.map(ref["gad7_referral"]),
                            s["severity"], s["anxiety_observed"])
    first = pd.Series(k[hit], index=ids.to_numpy()[hit]).groupby(level=0).min()
    return float(np.quantile(first.to_numpy(float), share, method="inverted_cdf")) if len(first) else np.nan


def sessions_to_response_low(t: Tables) -> float:
    """V5a: V5 over low-intensity courses (guided self-help, Robinson et al.'s LiCBT)."""
    return sessions_to_response(t, high=False)


def sessions_to_response_high(t: Tables) -> float:
    """V5b: V5 over high-intensity courses (CBT, Robinson et al.'s HiCBT)."""
    return sessions_to_response(t, high=True)


# ---------------------------------------------------------------------------- registration
def register() -> None:
    """Add V1-V5 to the calibration report, role validation, reference A."""

    register_target("V1", "therapist share of dropout variance (latent-scale ICC)", SOURCES["V1"], 0.07, 0.18, A,
                    therapist_dropout_icc, interval="bootstrap", role="validation",
                    definition="random-intercept logistic model (ML, Gauss-Hermite) of exit 'dropout' with baseline "
                               "PHQ-9 as case mix, clinicians = (replication, first clinician), target 6's "
                               "denominator; sigma^2 / (sigma^2 + pi^2/3). Source: 12.6%; range = 12.6% +/- 3 "
                               "large-sample SEs of an ICC with 85 therapists of ~124 patients (SE ~ .018). Audit: "
                               "same population (attended >= 1 session), same model and scale; Saxon et al. adjusted "
                               "for more case mix than the model records (patient characteristics and risk besides intake "
                               "severity); their ending categories were not retrieved, so V1b counts discharges "
                               "after missed sessions as dropout too")
    register_target("V1b", "V1 with every unilateral ending (dropout or DNA discharge) as the event", SOURCES["V1"],
                    *NO_RANGE, A, therapist_unplanned_ending_icc, interval="bootstrap", role="validation",
                    companion_of="V1",
                    definition="as V1, event = exit 'dropout' or 'dna_discharge' (the broad reading of an unplanned "
                               "ending, target 6c's numerator)")
    register_target("V2", "d of first-session patient-rated alliance, other endings minus dropouts",
                    SOURCES["V2"], 0.35, 0.75, A, alliance_dropout_d, tables=("patients", "sessions"),
                    role="validation",
                    definition="Cohen's d (pooled SD) of the patient-rated WAI-SR at the first attended session, "
                               "planned endings ('recovered', 'completed') minus 'dropout', measured patients whose "
                               "course ended. Source: d = .55 (no difference by rater); range = .55 +/- .20, about "
                               "two random-effects SEs for 11 studies of N = 1,301 (the published CI was not "
                               "retrieved)")
    register_target("V3", "share of patients with a sudden gain (Tang & DeRubeis criteria)", SOURCES["V3"],
                    0.15, 0.40, A, sudden_gain_share, tables=("patients", "sessions"), role="validation",
                    definition="ended high-intensity courses (the longest course length, A's 16-session CBT; the "
                               "sources studied full courses of psychotherapy, 12-20 sessions) with >= 4 attended "
                               "sessions; observed PHQ-9 sequence = referral score then each attended session; a "
                               "gain >= 6 points (the PHQ-9 reliable change used throughout, standing in for Tang & "
                               "DeRubeis's 7 BDI points) and >= 25% of the pre-gain score, and mean of <= 3 scores before minus "
                               "<= 3 after > t_crit x pooled SD. Range .15-.40: 39% in Tang & DeRubeis's CBT trial "
                               "and 33.5% in IPT (Kelly et al. 2007) near the top; the lower end, for other "
                               "treatments and settings in Aderka et al. 2012, was not re-checked paper by paper")
    register_target("V3b", "V3 over every course, low-intensity guided self-help too", SOURCES["V3"], *NO_RANGE, A,
                    sudden_gain_share_all_courses, tables=("patients", "sessions"), role="validation",
                    companion_of="V3",
                    definition="as V3 without the restriction to high-intensity courses (V3's estimator before "
                               "the issue-14 audit)")
    register_target("V4", "share of patients entering treatment who attend one session only", SOURCES["V4"],
                    0.38, 0.48, A, single_session_share, role="validation",
                    definition="measured patients with >= 1 attended session whose course ended (target 6's "
                               "denominator) who attended exactly 1. IAPT: of referrals that entered treatment, "
                               "those not finishing a course (< 2 treatment sessions) were 45% in 2017-18 and "
                               "~41% in 2018-19 (29% of ended referrals had one treatment appointment, 29% never "
                               "entered; 29/71 = 41%); range = 41-45% widened by 3 points each side. Audit: "
                               "IAPT counts treatment appointments from the first one (an assessment-only contact "
                               "is 'not entered'); every attended session in the model is a treatment session, so "
                               "the denominators match. IAPT's single-appointment endings include signposting and "
                               "step-down after one treatment contact, which the model does not represent")
    v5 = ("finishers (>= 2 attended sessions, target 10a's) whose last PHQ-9 and GAD-7 show IAPT reliable "
          "recovery against referral (at caseness on either at referral: PHQ-9 >= 10 or GAD-7 >= 8; below both "
          "at the end; reliable improvement, PHQ-9 >= 6 or GAD-7 >= 4 points down, on one and reliable "
          "deterioration on neither): the source's responders (reliable and clinically significant improvement "
          "on PHQ-9 and GAD-7). Time = the first attended session whose observed scores meet the same "
          "criteria; value = the session by which 95% of responders had met them (inverted-CDF quantile; every "
          "responder is an event, so this is the survival percentile). Chosen, with its range, on 2026-11-28 "
          "before the model's value was computed, as independent evidence on how fast patients recover (target "
          "9's question) in the service A represents. The source reports the 95th percentile only in the "
          "retrieved abstract ('Most responders (95%) attained RCSI within 7 sessions of LiCBT and 14 sessions "
          "of HiCBT'); with 102,206 patients its sampling error is negligible, so the range is ours: +/- 15% "
          "(about 1 session for LiCBT, 2 for HiCBT) for services' differences in case mix and session counting")
    register_target("V5a", "sessions by which 95% of responders reached reliable recovery, low intensity",
                    SOURCES["V5"], 6.0, 8.0, A, sessions_to_response_low, tables=("patients", "sessions"),
                    role="validation",
                    definition="low-intensity courses (shorter than the longest course length; A's 6-session guided "
                               "self-help, the source's LiCBT): " + v5 + ". A's low-intensity course is capped at "
                               "6 sessions, so this row can fail only by responders recovering too early")
    register_target("V5b", "sessions by which 95% of responders reached reliable recovery, high intensity",
                    SOURCES["V5"], 12.0, 16.0, A, sessions_to_response_high, tables=("patients", "sessions"),
                    role="validation",
                    definition="high-intensity courses (the longest course length, A's 16-session CBT; the source's "
                               "HiCBT): " + v5)
