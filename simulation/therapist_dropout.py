"""A clinician's own effect on dropout, beyond the alliance (issue 14, validation target V1).

Therapists differ in how many of their patients drop out even after case mix is
controlled (Zimmermann et al. 2017: 5.7% of dropout variance; Xiao et al. 2017: 9.5%).
In the model clinicians differed in dropout only through their alliance skill, which
gives about 2% (V1). ``therapist_dropout.logit_sd`` (schema default 0 = off; A uses 0.45, B 0)
gives each clinician a normal shift of the per-contact dropout log-odds, drawn from the
clinician's own stream, so the same person has the same shift in every scenario.
"""

from __future__ import annotations

from . import rng


def therapist_dropout_shift(streams: "rng.Streams", clinician_id: int, sd: float) -> float:
    """One clinician's dropout log-odds shift: ``sd`` x a normal from the clinician's own stream (CRN)."""
    return float(sd * streams.generator(rng.THERAPIST_DROPOUT, clinician_id).standard_normal())
