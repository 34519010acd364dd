"""STAR questionnaires (patient and clinician versions) derived from the session table.

The Scale to Assess the Therapeutic Relationship (McGuire-Snieckus, McCabe, Catty,
Hansson & Priebe 2007, Psychol Med 37:85-95) has a patient version (STAR-P) and a
clinician version (STAR-C), each 12 items scored 0-4 (total 0-48) in three subscales:

* STAR-P: positive collaboration (6 items, 0-24), positive clinician input (3, 0-12),
  non-supportive clinician input (3, 0-12, reverse-scored: 12 = none);
* STAR-C: positive collaboration (6, 0-24), positive clinician input (3, 0-12),
  emotional difficulties (3, 0-12, reverse-scored: 12 = none).

With ``alliance.instrument=STAR`` the session step rates on the total's scale
(``alliance.scale_min=0``, ``scale_max=48``): ``alliance_patient`` and
``alliance_clinician`` are each rater's view on the total's scale (latent alliance + rater
bias + session error, clipped and scaled; what rating-based policies read), before STAR's
own scale and item scoring. This module scores the questionnaire from them
after the run, vectorised over the table, so the compiled session step is unchanged:
every item of a subscale centres on the rater's rating as STAR shows it -- ``1 - slope x
(1 - rating)`` on 0-1, the STAR scale's own compression towards its top (``star.patient_slope``,
``star.clinician_slope``; 1 = none) -- shifted by how far the subscale's
component stands from the composite alliance (collaboration: goals and tasks; clinician
input, non-supportive input and emotional difficulties: bond), plus item noise of SD
``star.item_sd`` item points, rounded and clipped to 0-4. The noise comes from
:func:`simulation.rng.keyed_normals` keyed by (patient, clinician, session index), so a
session gets the same items in every scenario, chunk and streamed part file.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np
import pandas as pd

from . import rng

if TYPE_CHECKING:  # pragma: no cover
    from .config import Config

STAR = "STAR"
ITEM_MAX = 4  # items are scored 0-4
ITEMS = 12
SCALE = (0.0, float(ITEM_MAX * ITEMS))  # the total's range, 0-48
# (column, items, component): component "gt" = mean of goals and tasks, "b" = bond.
PATIENT_SUBSCALES = (("star_p_collaboration", 6, "gt"), ("star_p_clinician_input", 3, "b"),
                     ("star_p_non_supportive", 3, "b"))
CLINICIAN_SUBSCALES = (("star_c_collaboration", 6, "gt"), ("star_c_clinician_input", 3, "b"),
                       ("star_c_emotional_difficulties", 3, "b"))
COLUMNS = tuple(c for c, _, _ in PATIENT_SUBSCALES) + ("star_p_total",) + tuple(
    c for c, _, _ in CLINICIAN_SUBSCALES) + ("star_c_total",)


def uses_star(cfg: "Config") -> bool:
    """Whether the run rates the relationship on STAR (and its session table gets the STAR columns)."""
    return cfg.alliance.instrument == STAR


def session_derivation(cfg: "Config", replication: int) -> Optional[Callable[[pd.DataFrame], pd.DataFrame]]:
    """What the session recorder applies to each table it builds: the STAR columns under STAR, else nothing."""
    return partial(add_star_columns, cfg=cfg, replication=int(replication)) if uses_star(cfg) else None


def on_star_scale(rating: np.ndarray, slope: float) -> np.ndarray:
    """A rater's view (0-1 of the scale) as STAR shows it: ``slope`` of its shortfall from a perfect relationship."""
    if slope == 1.0:  # no compression: the rating as is (bit-identical to scoring without the slope)
        return rating
    return 1.0 - slope * (1.0 - rating)


def add_star_columns(df: pd.DataFrame, cfg: "Config", replication: int) -> pd.DataFrame:
    """Append the STAR-P and STAR-C subscale and total columns (NaN where a session was not rated)."""
    lo, span = cfg.alliance.scale_min, cfg.alliance.scale_max - cfg.alliance.scale_min
    latent = df["alliance_latent"].to_numpy(np.float64)
    comp = {"gt": 0.5 * (df["goals"].to_numpy(np.float64) + df["tasks"].to_numpy(np.float64)) - latent,
            "b": df["bond"].to_numpy(np.float64) - latent}
    z = rng.keyed_normals(cfg.run.seed, replication, rng.STAR_ITEMS,
                          [df["patient_id"].to_numpy(), df["clinician_id"].to_numpy(),
                           df["session_index"].to_numpy()], 2 * ITEMS)
    sd = cfg.star.item_sd
    for rater, subscales, total_column, offset, slope in (
            ("alliance_patient", PATIENT_SUBSCALES, "star_p_total", 0, cfg.star.patient_slope),
            ("alliance_clinician", CLINICIAN_SUBSCALES, "star_c_total", ITEMS, cfg.star.clinician_slope)):
        rating = on_star_scale((df[rater].to_numpy(np.float64) - lo) / span, slope)  # 0-1: NaN where not rated
        total = np.zeros(len(df))
        k = offset
        for column, items, component in subscales:
            level = ITEM_MAX * (rating + comp[component])
            scores = np.clip(np.rint(level[:, None] + sd * z[:, k:k + items]), 0, ITEM_MAX).sum(axis=1)
            df[column] = scores  # NaN propagates from unrated sessions
            total = total + scores
            k += items
        df[total_column] = total
    return df
