"""Follow-up assessments MECCA measured, derived from the patients' state after a run.

DIALOG (Priebe et al. 2007, Br J Psychiatry 191:420, the MECCA trial) asks patients to
rate their satisfaction with life domains and with their care on 1-7 items. The model
derives the two outcomes the trial reported and the simulator needs, once per patient at
the end of follow-up (discharge or the end of the run), vectorised over the table and
outside the per-session hot path:

* ``mansa`` (1-7): subjective quality of life on the Manchester Short Assessment of
  Quality of Life (mean of its 12 satisfaction items; Priebe et al. 1999, Int J Soc
  Psychiatry 45:7). It falls with latent severity (``intervention.mansa_per_severity_sd``
  MANSA points per population SD) and rises by ``intervention.dialog_mansa_gain`` per
  DIALOG session held (needs raised and addressed; the gain is fitted to MECCA's
  primary outcome, target 14a).
* ``treatment_satisfaction`` (1-7, DIALOG's treatment items): rises with the latent
  alliance of the last rated session (``intervention.satisfaction_per_alliance`` points
  per unit of the 0-1 alliance above ``alliance.reference``). DIALOG reaches it through
  the alliance (its goals/tasks lift) and directly: in each session the patient rates the
  three aspects of care (medication, practical help, meetings with professionals) and asks
  for more or different help, and what the two agree to change in the care adds
  ``intervention.dialog_satisfaction_gain`` points per DIALOG session held (a stated
  plausible range, not fitted). MECCA's secondary outcome checks both routes together
  (target MECCA-b, validation).

Noise: one pair of standard normals per patient id from the ``ASSESSMENT`` stream of the
replication (row i depends on i only), so scenarios share them (common random numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import rng

MANSA_RANGE = (1.0, 7.0)
SATISFACTION_RANGE = (1.0, 7.0)
COLUMNS = ("dialog_sessions", "mansa", "treatment_satisfaction")


def enabled(cfg) -> bool:
    """Whether a run assesses its patients (DIALOG is configured): A and B without it keep their tables."""
    return cfg.intervention.dialog_every_days > 0


def assessment_noise(streams: "rng.Streams", n: int) -> np.ndarray:
    """Standard normals (n x 2: MANSA, satisfaction) for patient ids 0..n-1, the same rows in every scenario."""
    return streams.generator(rng.ASSESSMENT).standard_normal((n, 2))


def assess(latent_final_severity: np.ndarray, alliance_last: np.ndarray, dialog_sessions: np.ndarray,
           noise: np.ndarray, cfg) -> tuple[np.ndarray, np.ndarray]:
    """MANSA and treatment satisfaction (1-7) per patient from final severity, last alliance and DIALOG sessions held."""
    iv, pop = cfg.intervention, cfg.population
    sev_z = (latent_final_severity - pop.severity_mean) / pop.severity_sd
    mansa = (iv.mansa_mean + iv.mansa_per_severity_sd * sev_z + iv.dialog_mansa_gain * dialog_sessions
             + iv.mansa_sd * noise[:, 0])
    sat = (iv.satisfaction_mean + iv.satisfaction_per_alliance * (alliance_last - cfg.alliance.reference)
           + iv.dialog_satisfaction_gain * dialog_sessions + iv.satisfaction_sd * noise[:, 1])
    return np.clip(mansa, *MANSA_RANGE), np.clip(sat, *SATISFACTION_RANGE)


def add_assessments(patients: pd.DataFrame, ps: list, cfg, streams: "rng.Streams") -> pd.DataFrame:
    """Append ``dialog_sessions``, ``mansa`` and ``treatment_satisfaction`` to one replication's patients table."""
    ids = patients["patient_id"].to_numpy(np.int64)
    n = int(ids.max()) + 1 if len(ids) else 0
    noise = assessment_noise(streams, n)[ids] if n else np.zeros((0, 2))
    sessions = np.fromiter((p.dialog_sessions for p in ps), dtype=np.int64, count=len(ps))
    alliance = np.fromiter((p.alliance_last for p in ps), dtype=np.float64, count=len(ps))
    mansa, sat = assess(patients["latent_final_severity"].to_numpy(float), alliance, sessions, noise, cfg)
    out = patients.copy()
    out["dialog_sessions"] = sessions
    out["mansa"] = mansa
    out["treatment_satisfaction"] = sat
    return out
