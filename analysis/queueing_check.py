"""Verification against queueing theory: degenerate configurations with known answers.

With ruptures off, attendance certain, no recovery discharge, no reneging, and a dropout
hazard that is the same after every contact, a patient's stay in a caseload slot is
fixed by two numbers: the number of sessions ``N`` is geometric (dropout probability
``q`` after each session) truncated at the course length ``K`` (then the patient
completes), and the slot is held from allocation until the last session,
``S = d + (N - 1) * tau`` days (``d`` the first-appointment delay, ``tau`` the session
interval). Nothing else depends on the alliance, so arrivals are Poisson and stays are
i.i.d. and independent of arrivals. Then

* one clinician with a caseload cap of 1 is an **M/G/1** queue: the mean time on the
  waiting list is Pollaczek–Khinchine's ``Wq = lambda E[S^2] / (2 (1 - rho))`` and the
  mean list length is ``Lq = lambda Wq``;
* a cap far above demand is an **M/G/inf** system: nobody waits and the number in care
  is Poisson with mean ``lambda E[S]`` (variance equal to the mean).

``S`` is discrete, so ``E[S]`` and ``E[S^2]`` are exact finite sums.

Run ``python -m analysis.queueing_check [--replications R] [--horizon DAYS]`` to print
theory against simulation with 95% intervals (the tests run a smaller version).
"""

from __future__ import annotations

import argparse
import math
from typing import Sequence

import numpy as np
import pandas as pd

from simulation.summary import mean_ci

Q, K, DELAY, TAU = 0.25, 12, 1.0, 1.0
RHO = 0.6  # M/G/1 utilisation
MGINF_RATE = 1.0  # M/G/inf referrals per day


def degenerate(q: float = Q, k: int = K, delay: float = DELAY, tau: float = TAU) -> list[str]:
    """Overrides that reduce the service to Poisson arrivals and i.i.d. stays (see module doc)."""
    return [
        "rupture=none", "service.renege_per_week=0", f"service.first_appointment_delay_days={delay}",
        f"service.disciplines.0.session_interval_days={tau}",
        "attendance.dna_intercept=-30", "attendance.dna_engagement=0", "attendance.dna_alliance=0",
        "attendance.dna_unresolved=0", "attendance.dna_wait_per_week=0",
        f"dropout.intercept={math.log(q / (1 - q))}", "dropout.early_boost=0", "dropout.alliance=0",
        "dropout.unresolved=0", "dropout.after_dna=0", "dropout.wait_per_week=0", "dropout.engagement=0",
        "dropout.transition_policy=0", "dropout.transition_patient_request=0", "dropout.transition_turnover=0",
        "therapist_dropout.logit_sd=0", "outcome.min_sessions_recovery_discharge=1000",
        f"population.max_sessions_low={k}", f"population.max_sessions_high={k}",
        "output.sessions=false", "run.progress=false",
    ]


def stay_moments(q: float = Q, k: int = K, delay: float = DELAY, tau: float = TAU) -> tuple[float, float, float]:
    """E[N], E[S], E[S^2] for N ~ geometric(q) truncated at k, S = delay + (N-1) tau."""
    n = np.arange(1, k + 1)
    pn = (1 - q) ** (n - 1) * q
    pn[-1] = (1 - q) ** (k - 1)
    s = delay + (n - 1) * tau
    return float((pn * n).sum()), float((pn * s).sum()), float((pn * s * s).sum())


def mg1_overrides(rho: float = RHO) -> tuple[list[str], dict[str, float]]:
    """Overrides for the single-slot service and its theoretical values (per day)."""
    en, es, es2 = stay_moments()
    lam = rho / es
    wq = lam * es2 / (2 * (1 - rho))
    over = degenerate() + ["service.clinicians=1", "service.disciplines.0.caseload_cap=1",
                           "service.disciplines.0.comfortable_caseload=1", f"service.referrals_per_week={lam * 7}"]
    return over, {"lambda": lam, "mean_sessions": en, "mean_wait_days": wq, "mean_waiting": lam * wq}


def mginf_overrides(lam: float = MGINF_RATE) -> tuple[list[str], dict[str, float]]:
    """Overrides that make the service an M/G/inf queue (no caps binding), for the check."""
    _, es, _ = stay_moments()
    over = degenerate() + ["service.clinicians=1", "service.disciplines.0.caseload_cap=100000",
                           "service.disciplines.0.comfortable_caseload=100000", f"service.referrals_per_week={lam * 7}"]
    return over, {"lambda": lam, "mean_in_care": lam * es, "dispersion": 1.0}


# --------------------------------------------------------------------------- waiting list, exactly
def list_intervals(p: pd.DataFrame, end: float) -> tuple[np.ndarray, np.ndarray]:
    """When each patient joined and left the waiting list (referral to allocation, reneging or the end)."""
    start = p["referral_day"].to_numpy(dtype=float)
    stop = np.where(p["queue_days"].notna(), start + p["queue_days"].fillna(0).to_numpy(dtype=float),
                    np.where(p["exit_reason"] == "left_waiting_list", p["exit_day"].to_numpy(dtype=float), end))
    return start, stop


def exact_time_average(start: np.ndarray, stop: np.ndarray, a: float, b: float) -> float:
    """Time-average number of open intervals over [a, b], computed exactly (no sampling)."""
    overlap = np.clip(np.minimum(stop, b) - np.maximum(start, a), 0, None)
    return float(overlap.sum() / (b - a))


def count_at(start: np.ndarray, stop: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Number of open intervals at each of ``days``."""
    return ((start[None, :] <= days[:, None]) & (stop[None, :] > days[:, None])).sum(axis=1)


# --------------------------------------------------------------------------- per-replication estimates
def mg1_estimates(res, warmup: float) -> dict[str, pd.Series]:
    """Simulated waits and list lengths of the single-server case, per replication."""
    p = res.patients
    ts = res.timeseries[res.timeseries["day"] >= warmup]
    started = p[p["measured"] & p["queue_days"].notna()]
    ended = p[p["measured"] & (p["exit_reason"] != "censored")]
    return {"mean_wait_days": started.groupby("replication")["queue_days"].mean(),
            "mean_waiting": ts.groupby("replication")["waiting"].mean(),
            "mean_sessions": ended.groupby("replication")["sessions_attended"].mean()}


def mginf_estimates(res, warmup: float) -> dict[str, pd.Series]:
    """Simulated mean number in care of the infinite-server case, per replication."""
    ts = res.timeseries[res.timeseries["day"] >= warmup].groupby("replication")["in_treatment"]
    return {"mean_in_care": ts.mean(), "dispersion": ts.var() / ts.mean()}


def compare(theory: dict[str, float], estimates: dict[str, pd.Series], system: str) -> pd.DataFrame:
    """Theory beside simulation with a 95% interval, and whether theory falls inside."""
    rows = []
    for key, values in estimates.items():
        mean, lo, hi = mean_ci(values.to_numpy())
        rows.append({"system": system, "quantity": key, "theory": theory[key], "simulated": mean,
                     "ci_low": lo, "ci_high": hi, "inside": bool(lo <= theory[key] <= hi),
                     "replications": len(values)})
    return pd.DataFrame(rows)


def run_checks(replications: int = 8, horizon: float = 15000, warmup: float = 500,
               mginf_horizon: float = 1500) -> pd.DataFrame:
    """Run every queueing check and return the comparison table."""
    from simulation.api import run

    over, theory = mg1_overrides()
    res = run(over + [f"run.replications={replications}", f"run.horizon_days={horizon}", f"run.warmup_days={warmup}"])
    out = [compare(theory, mg1_estimates(res, warmup), "M/G/1")]
    over, theory = mginf_overrides()
    res = run(over + [f"run.replications={replications}", f"run.horizon_days={mginf_horizon}",
                      "run.warmup_days=100"])
    out.append(compare(theory, mginf_estimates(res, 100), "M/G/inf"))
    return pd.concat(out, ignore_index=True)


def main(argv: Sequence[str] | None = None) -> None:
    """python -m analysis.queueing_check: print the queueing-theory verification table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replications", type=int, default=8)
    ap.add_argument("--horizon", type=float, default=15000, help="M/G/1 measured days per replication")
    args = ap.parse_args(argv)
    table = run_checks(args.replications, args.horizon)
    with pd.option_context("display.width", 140, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
