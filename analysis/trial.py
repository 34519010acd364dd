"""Emulating a cluster-randomised trial of rupture-repair training, and its power.

How the trial maps onto runs (set in ``experiments/trial_emulation.yaml``):

* **One replication is one trial.** In the ``trial`` scenario every clinician is trained
  with probability ``intervention.training_share`` (0.5), using the clinician's own uniform
  draw: simple randomisation of clinicians (clusters). Patients are nested in the
  clinician who first treated them (``first_clinician_id``); they are analysed under that
  clinician's arm (intention to treat, even if later reassigned).
* **Trial size.** A design is (k clinicians, m patients per clinician): the first k
  clinicians by id and, for each, the first m measured patients they started treating who
  had finished treatment by the end of the run. A clinician with fewer than m such
  patients contributes all of them (the report gives how often that happened).
* **Analysis** (cluster-aware): the primary analysis compares cluster-level summaries
  (each clinician's mean outcome) between arms with a two-sample t-test on k - 2 degrees
  of freedom, as recommended when clusters are few (Hayes & Moulton). At the headline
  design a GEE (identity link, exchangeable working correlation, robust standard errors;
  statsmodels) gives a patient-level estimate of the same risk difference and the ICC.
* **Power** at alpha is the share of replications (trials) with p < alpha, with a Wilson
  interval, drawn against m for each k.
* **Estimand (the trial's truth).** The trial compares patients by their first
  clinician's arm *within one service where half the clinicians are trained*, sharing
  one waiting list and one pool of clinicians. Its estimand is the expected difference
  in the outcome between patients whose first clinician was trained and patients whose
  first clinician was not, in that half-trained service, over the patients the design
  enrols (each clinician's first m finished patients of the trial year). It is computed
  from the ``trial`` scenario itself with *all* its clinicians (:func:`estimand_table`):
  per replication, the difference of clinician-level means over every clinician, each
  with its first m finished patients (``design``), and, for comparison, the
  patient-weighted difference over every finished patient (``all patients``).
* **Service effect (not the trial's estimand).** The scenarios ``truth_control``
  (nobody trained) and ``truth_treated`` (everybody trained) run on the same random
  numbers; their paired difference is the effect of training a whole service. It differs
  from the trial's estimand: in the trial, trained and untrained clinicians share the
  waiting list and caseloads (a trained clinician's retained patients lengthen everyone's
  wait and fill caseloads, which feeds back on both arms' patients), and patients
  reassigned after turnover or leave may be treated by a clinician of the other arm
  while still analysed under their first clinician's arm (contamination).

Outcomes: ``dropout`` (0/1), ``reliable_recovery`` (0/1: last score below caseness with
reliable change, the patients table's ``recovered`` column), ``improvement`` (observed
PHQ-9 points, baseline minus last observed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.figures import plt, register_figure
from analysis.rundata import RunData
from analysis.stats import mean_ci, proportion_ci

# The config key that sets the share of clinicians trained in rupture repair (one place:
# update here if the key moves).
TRAINING_SHARE_KEY = "intervention.training_share"

OUTCOMES = {
    "dropout": ("dropout (share of patients)", "percentage points"),
    "reliable_recovery": ("reliable recovery (share of patients)", "percentage points"),
    "improvement": ("symptom improvement (PHQ-9 points)", "PHQ-9 points"),
}


def trial_settings(extra: dict) -> dict:
    """The experiment's trial design (``extra.trial``) with defaults filled in; ValueError for an unknown outcome."""
    t = dict(extra.get("trial") or {})
    t.setdefault("scenario", "trial")
    t.setdefault("clinicians", [10, 20])
    t.setdefault("patients_per_clinician", [5, 10, 20])
    t.setdefault("design", {"clinicians": max(t["clinicians"]), "patients_per_clinician":
                            max(t["patients_per_clinician"])})
    t.setdefault("outcomes", ["dropout", "reliable_recovery", "improvement"])
    t.setdefault("alpha", 0.05)
    t.setdefault("truth", ["truth_control", "truth_treated"])
    unknown = [o for o in t["outcomes"] if o not in OUTCOMES]
    if unknown:
        hint = " ('recovered' is now 'reliable_recovery')" if "recovered" in unknown else ""
        raise ValueError(f"unknown trial outcome {unknown[0]!r}{hint}; known: {', '.join(OUTCOMES)}")
    return t


def patient_outcomes(patients: pd.DataFrame) -> pd.DataFrame:
    """Measured patients who started and finished, with the three outcomes."""
    p = patients[patients["measured"].astype(bool) & patients["first_session_day"].notna()
                 & (patients["exit_reason"].astype(str) != "censored")].copy()
    p["dropout"] = (p["exit_reason"].astype(str) == "dropout").astype(float)
    p["reliable_recovery"] = p["recovered"].astype(float)
    p["improvement"] = (p["baseline_severity"] - p["final_severity"]).astype(float)
    return p


def trial_sample(p: pd.DataFrame, clinicians: pd.DataFrame, k: int, m: int) -> pd.DataFrame:
    """One replication's trial data: the first k clinicians and first m patients of each."""
    clin = clinicians.sort_values("clinician_id").head(k)[["clinician_id", "trained"]]
    d = p.merge(clin, left_on="first_clinician_id", right_on="clinician_id", how="inner")
    d = d.sort_values(["clinician_id", "first_session_day", "patient_id"], kind="stable")
    return d.groupby("clinician_id", sort=False).head(m)


def cluster_test(d: pd.DataFrame, outcome: str) -> dict:
    """Cluster-level t-test: trained minus untrained mean of clinicians' mean outcomes."""
    c = d.groupby("clinician_id").agg(y=(outcome, "mean"), trained=("trained", "first"))
    a = c.loc[c["trained"].astype(bool), "y"].to_numpy()
    b = c.loc[~c["trained"].astype(bool), "y"].to_numpy()
    if len(a) < 2 or len(b) < 2:
        return {"estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan,
                "clusters_trained": len(a), "clusters_control": len(b)}
    df = len(a) + len(b) - 2
    pooled = ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / df
    se = np.sqrt(pooled * (1 / len(a) + 1 / len(b)))
    est = float(a.mean() - b.mean())
    if se == 0:
        p = 1.0 if est == 0 else 0.0
        half = 0.0
    else:
        p = float(2 * stats.t.sf(abs(est) / se, df))
        half = float(stats.t.ppf(0.975, df) * se)
    return {"estimate": est, "ci_low": est - half, "ci_high": est + half, "p": p,
            "clusters_trained": len(a), "clusters_control": len(b)}


def gee_fit(d: pd.DataFrame, outcome: str) -> dict:
    """Patient-level GEE: identity link, exchangeable correlation within clinicians, robust SE."""
    import warnings

    import statsmodels.api as sm

    d = d.sort_values("clinician_id")
    x = sm.add_constant(d["trained"].astype(float).to_numpy())
    y = d[outcome].to_numpy(dtype=float)
    groups = d["clinician_id"].to_numpy()
    if d["trained"].nunique() < 2:
        return {"gee_estimate": np.nan, "gee_se": np.nan, "gee_p": np.nan, "icc": np.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GEE(y, x, groups=groups, family=sm.families.Gaussian(),
                       cov_struct=sm.cov_struct.Exchangeable())
        res = model.fit()
    icc = float(model.cov_struct.dep_params)
    return {"gee_estimate": float(res.params[1]), "gee_se": float(res.bse[1]), "gee_p": float(res.pvalues[1]),
            "icc": icc}


def emulate(patients: pd.DataFrame, clinicians: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """One row per replication × design × outcome: estimate, interval, p, shortfall."""
    sc = settings["scenario"]
    p_all = patient_outcomes(patients[patients["scenario"] == sc])
    c_all = clinicians[clinicians["scenario"] == sc]
    design = settings["design"]
    rows = []
    for rep, c_rep in c_all.groupby("replication"):
        p_rep = p_all[p_all["replication"] == rep]
        for k in settings["clinicians"]:
            for m in settings["patients_per_clinician"]:
                d = trial_sample(p_rep, c_rep, int(k), int(m))
                sizes = d.groupby("clinician_id").size().reindex(c_rep.sort_values("clinician_id")
                                                                 .head(int(k))["clinician_id"], fill_value=0)
                short = float((sizes < int(m)).mean())
                headline = int(k) == int(design["clinicians"]) and int(m) == int(design["patients_per_clinician"])
                for o in settings["outcomes"]:
                    row = {"replication": int(rep), "clinicians": int(k), "patients_per_clinician": int(m),
                           "outcome": o, "patients": len(d), "clusters_short": short,
                           **cluster_test(d, o)}
                    if headline:
                        row.update(gee_fit(d, o))
                    rows.append(row)
    return pd.DataFrame(rows)


def power_table(trials: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Power (share of trials with p < alpha, Wilson interval) and the estimates, per design and outcome."""
    rows = []
    for (k, m, o), g in trials.groupby(["clinicians", "patients_per_clinician", "outcome"], sort=True):
        ok = g["p"].notna()
        sig = int((g.loc[ok, "p"] < alpha).sum())
        pw, lo, hi = proportion_ci(sig, int(ok.sum()))
        est, elo, ehi = mean_ci(g["estimate"].to_numpy())
        rows.append({"clinicians": k, "patients_per_clinician": m, "outcome": o, "trials": int(ok.sum()),
                     "power": pw, "power_ci_low": lo, "power_ci_high": hi, "mean_estimate": est,
                     "sd_estimate": float(g["estimate"].std(ddof=1)), "mean_patients": float(g["patients"].mean()),
                     "clusters_short": float(g["clusters_short"].mean())})
    return pd.DataFrame(rows)


def truth_table(patients: pd.DataFrame, settings: dict, outcomes: Sequence[str]) -> Optional[pd.DataFrame]:
    """Effect of training everybody: paired difference truth_treated - truth_control."""
    ctrl, trt = settings["truth"]
    present = set(patients["scenario"].unique())
    if ctrl not in present or trt not in present:
        return None
    p = patient_outcomes(patients[patients["scenario"].isin([ctrl, trt])])
    means = p.groupby(["scenario", "replication"])[list(outcomes)].mean()
    rows = []
    for o in outcomes:
        a = means.loc[trt, o]
        b = means.loc[ctrl, o].reindex(a.index)
        d, lo, hi = mean_ci((a - b).to_numpy())
        rows.append({"outcome": o, "control_mean": float(b.mean()), "treated_mean": float(a.mean()),
                     "true_effect": d, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def _cluster_difference(d: pd.DataFrame, outcome: str) -> float:
    """Trained minus untrained mean of clinician-level means (NaN if an arm is empty)."""
    c = d.groupby("clinician_id").agg(y=(outcome, "mean"), trained=("trained", "first"))
    t = c["trained"].astype(bool)
    return float(c.loc[t, "y"].mean() - c.loc[~t, "y"].mean()) if t.any() and (~t).any() else np.nan


def estimand_replications(patients: pd.DataFrame, clinicians: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """The trial's estimand per replication, computed on the whole half-trained service of the trial scenario."""
    # ``design``: clinician-level difference over every clinician, each with its first m finished
    # patients (m of the headline design): what the trial estimates, without sampling clinicians.
    # ``all_patients``: patient-weighted difference over every finished patient by first arm.
    sc = settings["scenario"]
    m = int(settings["design"]["patients_per_clinician"])
    p_all = patient_outcomes(patients[patients["scenario"] == sc])
    c_all = clinicians[clinicians["scenario"] == sc]
    rows = []
    for rep, c_rep in c_all.groupby("replication"):
        p_rep = p_all[p_all["replication"] == rep]
        everyone = trial_sample(p_rep, c_rep, len(c_rep), 10 ** 9)
        design = everyone.groupby("clinician_id", sort=False).head(m)
        arm = everyone["trained"].astype(bool)
        for o in settings["outcomes"]:
            rows.append({"replication": int(rep), "outcome": o, "design": _cluster_difference(design, o),
                         "all_patients": float(everyone.loc[arm, o].mean() - everyone.loc[~arm, o].mean())})
    return pd.DataFrame(rows)


def estimand_table(trials: pd.DataFrame, estimand: pd.DataFrame, settings: dict,
                   truth: Optional[pd.DataFrame]) -> pd.DataFrame:
    """Estimand, mean trial estimate and bias at the headline design: is the trial unbiased for its target?"""
    # bias = mean over replications of (trial estimate - estimand of the same replication), paired
    # 95% t-interval (unbiased if it holds 0); the whole-service effect is shown beside it.
    design = settings["design"]
    h = trials[(trials["clinicians"] == int(design["clinicians"]))
               & (trials["patients_per_clinician"] == int(design["patients_per_clinician"]))]
    rows = []
    for o in settings["outcomes"]:
        e = estimand[estimand["outcome"] == o].set_index("replication")
        g = h[h["outcome"] == o].set_index("replication")
        est, elo, ehi = mean_ci(e["design"].to_numpy())
        allp, alo, ahi = mean_ci(e["all_patients"].to_numpy())
        tr, tlo, thi = mean_ci(g["estimate"].to_numpy())
        common = g.index.intersection(e.index)
        diff = (g.loc[common, "estimate"] - e.loc[common, "design"]).to_numpy()
        b, blo, bhi = mean_ci(diff)
        row = {"outcome": o, "trials": int(g["estimate"].notna().sum()),
               "estimand": est, "estimand_ci_low": elo, "estimand_ci_high": ehi,
               "estimand_all_patients": allp, "all_patients_ci_low": alo, "all_patients_ci_high": ahi,
               "mean_estimate": tr, "mean_estimate_ci_low": tlo, "mean_estimate_ci_high": thi,
               "bias": b, "bias_ci_low": blo, "bias_ci_high": bhi,
               "unbiased": bool(np.isfinite(blo) and blo <= 0.0 <= bhi),
               "coverage": float(((g["ci_low"] <= e["design"].reindex(g.index))
                                  & (e["design"].reindex(g.index) <= g["ci_high"]))[g["p"].notna()].mean())}
        if truth is not None:
            tt = truth.set_index("outcome").loc[o]
            row.update({"service_effect": float(tt["true_effect"]), "service_effect_ci_low": float(tt["ci_low"]),
                        "service_effect_ci_high": float(tt["ci_high"])})
        rows.append(row)
    return pd.DataFrame(rows)


def headline_table(trials: pd.DataFrame, settings: dict, truth: Optional[pd.DataFrame]) -> pd.DataFrame:
    """At the headline design: estimates, power, GEE, and coverage of the whole-service effect."""
    design = settings["design"]
    h = trials[(trials["clinicians"] == int(design["clinicians"]))
               & (trials["patients_per_clinician"] == int(design["patients_per_clinician"]))]
    rows = []
    for o, g in h.groupby("outcome", sort=False):
        ok = g["p"].notna()
        sig = int((g.loc[ok, "p"] < settings["alpha"]).sum())
        pw, plo, phi = proportion_ci(sig, int(ok.sum()))
        row = {"outcome": o, "trials": int(ok.sum()), "mean_patients": float(g["patients"].mean()),
               "mean_estimate": float(g["estimate"].mean()), "sd_estimate": float(g["estimate"].std(ddof=1)),
               "power": pw, "power_ci_low": plo, "power_ci_high": phi}
        if "gee_estimate" in g:
            gs = int((g["gee_p"] < settings["alpha"]).sum())
            row.update({"gee_mean_estimate": float(g["gee_estimate"].mean()), "gee_mean_se": float(g["gee_se"].mean()),
                        "gee_power": gs / max(1, int(g["gee_p"].notna().sum())), "icc": float(g["icc"].mean())})
        if truth is not None:
            t = float(truth.set_index("outcome").loc[o, "true_effect"])
            row["true_effect"] = t
            row["coverage"] = float(((g["ci_low"] <= t) & (t <= g["ci_high"]))[ok].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def clusters_needed(truth: pd.DataFrame, headline: pd.DataFrame, patients: pd.DataFrame, settings: dict,
                    power: float = 0.8) -> pd.DataFrame:
    """Clinicians needed for ``power`` at each m, from the effect (``truth.true_effect``) and the GEE's ICC.

    Standard cluster-trial formula (Donner & Klar): clusters per arm =
    2 (z_{1-alpha/2} + z_power)^2 sigma^2 (1 + (m - 1) ICC) / (m delta^2), with sigma the
    patient-level SD of the outcome without training. A normal approximation: a guide to
    the scale of trial needed, to be checked by emulating it.
    """
    ctrl = settings["truth"][0]
    p = patient_outcomes(patients[patients["scenario"] == ctrl])
    z = stats.norm.ppf(1 - settings["alpha"] / 2) + stats.norm.ppf(power)
    icc = headline.set_index("outcome").get("icc")
    rows = []
    for r in truth.itertuples():
        sigma = float(p[r.outcome].std(ddof=1))
        rho = max(0.0, float(icc.loc[r.outcome])) if icc is not None and r.outcome in icc.index else 0.0
        row = {"outcome": r.outcome, "true_effect": r.true_effect, "sd": sigma, "icc": rho}
        for m in settings["patients_per_clinician"]:
            per_arm = 2 * z * z * sigma ** 2 * (1 + (m - 1) * rho) / (m * r.true_effect ** 2) \
                if r.true_effect else np.inf
            row[f"m = {m}"] = int(np.ceil(2 * per_arm)) if np.isfinite(per_arm) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def power_grid(power: pd.DataFrame) -> pd.DataFrame:
    """Power by outcome and clinicians (rows) and patients per clinician (columns), with Wilson intervals."""
    cells = [f"{100 * p:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"
             for p, lo, hi in zip(power["power"], power["power_ci_low"], power["power_ci_high"])]
    piv = power.assign(cell=cells).pivot_table(index=["outcome", "clinicians"], columns="patients_per_clinician",
                                               values="cell", aggfunc="first")
    piv.columns = [f"m = {c}" for c in piv.columns]
    return piv.reset_index()


def analyse(run: RunData, out_dir: Path, settings: Optional[dict] = None) -> dict[str, pd.DataFrame]:
    """All trial tables for a run (written as CSV into ``out_dir``); ``settings`` overrides the design."""
    settings = settings or trial_settings(run.extra)
    trials = emulate(run.tables["patients"], run.tables["clinicians"], settings)
    if trials.empty:
        raise ValueError(f"no trial data: scenario '{settings['scenario']}' is not in this run")
    truth = truth_table(run.tables["patients"], settings, settings["outcomes"])
    estimand = estimand_replications(run.tables["patients"], run.tables["clinicians"], settings)
    out = {"trial_replications": trials, "trial_power": power_table(trials, settings["alpha"]),
           "trial_headline": headline_table(trials, settings, truth),
           "trial_estimand": estimand_table(trials, estimand, settings, truth)}
    if truth is not None:
        out["trial_truth"] = truth
        # Size the trial for what it estimates (its estimand), not for the whole-service effect.
        effect = out["trial_estimand"][["outcome"]].assign(true_effect=out["trial_estimand"]["estimand"])
        out["trial_clusters_needed"] = clusters_needed(effect, out["trial_headline"], run.tables["patients"],
                                                       settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, df in out.items():
        df.to_csv(out_dir / f"{name}.csv", index=False)
    return out


# ---------------------------------------------------------------------------- figures
def trial_tables(run: RunData) -> dict[str, pd.DataFrame]:
    """The trial tables of a run, computed once (kept in ``run.analysis_tables``) and shared by
    the report's trial section and the trial figures."""
    if "trial_power" not in run.analysis_tables:
        run.analysis_tables.update(analyse(run, run.run_dir / "analysis"))
    return {k: v for k, v in run.analysis_tables.items() if k.startswith("trial_")}


def is_share(outcome: str) -> bool:
    """Whether a trial outcome is a 0/1 share (shown in %, compared in percentage points)."""
    return outcome in ("dropout", "reliable_recovery")


@register_figure("power", "Trial power curve", needs=("extra.trial",))
def power(run: RunData) -> tuple:
    """Power of the emulated cluster-randomised trial against patients per clinician."""
    settings = trial_settings(run.extra)
    tables = trial_tables(run)
    pw = tables["trial_power"]
    outcomes = settings["outcomes"]
    fig, axes = plt.subplots(1, len(outcomes), figsize=(4.6 * len(outcomes), 4.4), sharey=True, squeeze=False)
    for ax, o in zip(axes[0], outcomes):
        for i, k in enumerate(sorted(pw["clinicians"].unique())):
            g = pw[(pw["outcome"] == o) & (pw["clinicians"] == k)].sort_values("patients_per_clinician")
            x = g["patients_per_clinician"].to_numpy()
            y = g["power"].to_numpy() * 100
            err = [np.clip(y - g["power_ci_low"] * 100, 0, None), np.clip(g["power_ci_high"] * 100 - y, 0, None)]
            ax.errorbar(x, y, yerr=err, fmt="o-",
                        capsize=3, color=f"C{i}", label=f"{k} clinicians")
        ax.axhline(80, color="grey", ls="--", lw=1)
        ax.axhline(settings["alpha"] * 100, color="grey", ls=":", lw=1)
        ax.set_ylim(0, 100)
        ax.set_xlabel("patients per clinician")
        ax.set_title(OUTCOMES[o][0], fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"power at alpha = {settings['alpha']:g} (%)")
    axes[0][0].legend(frameon=False, fontsize=8, title="trial size", loc="upper left")
    n = int(pw["trials"].max())
    fig.suptitle("Cluster-randomised trial of rupture-repair training: power (cluster-level t-test)\n"
                 f"share of {n} emulated trials with p < {settings['alpha']:g}; bars = 95% Wilson interval; "
                 "dashed = 80%, dotted = alpha", fontsize=10)
    fig.tight_layout()
    return fig, ("Power of the emulated cluster-randomised trial: the share of replications (each one trial, "
                 "clinicians randomised 1:1 by simple randomisation) in which the cluster-level t-test rejected "
                 "'no effect' at the given alpha, for each number of clinicians and patients per clinician.")


@register_figure("trial_estimates", "Emulated trial estimates", needs=("extra.trial",))
def trial_estimates(run: RunData) -> tuple:
    """Every emulated trial's estimate and interval at the headline design, against the true effect."""
    settings = trial_settings(run.extra)
    tables = trial_tables(run)
    tr = tables["trial_replications"]
    truth = tables.get("trial_truth")
    design = settings["design"]
    h = tr[(tr["clinicians"] == int(design["clinicians"]))
           & (tr["patients_per_clinician"] == int(design["patients_per_clinician"]))]
    outcomes = settings["outcomes"]
    fig, axes = plt.subplots(1, len(outcomes), figsize=(4.6 * len(outcomes), 5), squeeze=False)
    for ax, o in zip(axes[0], outcomes):
        g = h[h["outcome"] == o].sort_values("estimate").reset_index(drop=True)
        sc = 100.0 if is_share(o) else 1.0
        sig = g["p"] < settings["alpha"]
        y = np.arange(len(g))
        for yi, r, s in zip(y, g.itertuples(), sig):
            ax.plot([r.ci_low * sc, r.ci_high * sc], [yi, yi], color="#d62728" if s else "#999999", lw=1)
        ax.plot(g["estimate"] * sc, y, "o", color="black", ms=2.5)
        ax.axvline(0, color="black", lw=0.8)
        est = tables.get("trial_estimand")
        if est is not None:
            e = float(est.set_index("outcome").loc[o, "estimand"]) * sc
            ax.axvline(e, color="#2ca02c", lw=2, label=f"trial estimand {e:+.2f}")
        if truth is not None:
            t = float(truth.set_index("outcome").loc[o, "true_effect"]) * sc
            ax.axvline(t, color="#1f77b4", lw=2, ls="--", label=f"everyone vs no one {t:+.2f}")
        if est is not None or truth is not None:
            ax.legend(frameon=False, fontsize=8, loc="lower right")
        ax.set_yticks([])
        ax.set_xlabel(f"trained minus untrained ({OUTCOMES[o][1]})")
        ax.set_title(OUTCOMES[o][0], fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Estimates from {h['replication'].nunique()} emulated trials of {design['clinicians']} "
                 f"clinicians x {design['patients_per_clinician']} patients (95% CIs; red = p < "
                 f"{settings['alpha']:g})", fontsize=10)
    fig.tight_layout()
    return fig, ("Each line is one emulated trial at the headline design: the cluster-level estimate of the "
                 "training effect with its 95% interval, sorted; red where p < alpha. The green line is the trial's "
                 "estimand (trained minus untrained first clinicians in the half-trained service, from all its "
                 "clinicians); the dashed blue line is the effect of training the whole service (everybody vs "
                 "nobody trained), which the trial does not estimate.")


# ---------------------------------------------------------------------------- command line
DESIGN_KEYS = ("clinicians", "patients_per_clinician", "design.clinicians", "design.patients_per_clinician",
               "outcomes", "alpha", "scenario")


def design_overrides(settings: dict, overrides: Sequence[str]) -> dict:
    """Apply ``key=value`` overrides (YAML values, e.g. ``clinicians=[10,20]``) to trial settings."""
    import yaml

    out = {**settings, "design": dict(settings["design"])}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.removeprefix("trial.").removeprefix("extra.trial.").lstrip("+")
        if not sep or key not in DESIGN_KEYS:
            raise ValueError(f"trial override {item!r}: use key=value with key one of {', '.join(DESIGN_KEYS)}")
        parsed = yaml.safe_load(value)
        if key.startswith("design."):
            out["design"][key.split(".", 1)[1]] = parsed
        else:
            out[key] = parsed
    for key in ("clinicians", "patients_per_clinician", "outcomes"):
        if not isinstance(out[key], list):
            out[key] = [out[key]]
    return trial_settings({"trial": out})


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m analysis.trial RUN_DIR [clinicians=[10,20] ...]``: re-analyse a saved trial run."""
    import argparse
    import sys

    from analysis.rundata import RunData

    ap = argparse.ArgumentParser(prog="python -m analysis.trial",
                                 description="Re-analyse the emulated trials of a saved run for another design "
                                             "grid (no new simulation: a design only samples the run's tables).")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("overrides", nargs="*", help=f"key=value, key one of {', '.join(DESIGN_KEYS)}")
    args = ap.parse_args(argv)
    try:
        run = RunData.load(args.run_dir)
        settings = design_overrides(trial_settings(run.extra), args.overrides)
        tables = analyse(run, args.run_dir / "analysis", settings)
    except (FileNotFoundError, ValueError) as err:
        print(f"python -m analysis.trial: {err}", file=sys.stderr)
        return 2
    pd.set_option("display.width", 200)
    print("Estimand (trained minus untrained, first clinician's arm, half-trained service) and the mean "
          "trial estimate at the headline design:")
    cols = ["outcome", "trials", "estimand", "estimand_all_patients", "mean_estimate", "bias", "bias_ci_low",
            "bias_ci_high", "unbiased", "coverage"] + (["service_effect"] if "service_effect" in
                                                        tables["trial_estimand"] else [])
    print(tables["trial_estimand"][cols].round(4).to_string(index=False))
    print("\nPower [95% Wilson interval] by clinicians (rows) and patients per clinician (m):")
    print(power_grid(tables["trial_power"]).to_string(index=False))
    print(f"\nwrote {args.run_dir / 'analysis'}/trial_*.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
