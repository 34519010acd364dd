"""What the session step, the policies, the workforce and the tables may ask of the service.

:class:`simulation.service.Service` implements every protocol here. The modules that use
the service see it only through these (they never import ``service.py``), so a new
policy or staffing rule is written against a handful of methods rather than the whole
service, and ``simulation/`` has no import cycle (``tests/test_architecture.py`` checks
both). A protocol names everything its user may touch: anything else on the service,
and every private member, is off limits outside ``service.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import simpy

    from .capacity import FreeClinicians
    from .config import Config, DisciplineConfig
    from .entities import Clinician, Dyad, Patient
    from .recorder import SessionRecorder
    from .anxiety import Questionnaire
    from .rng import Streams, Tape


@runtime_checkable
class Clock(Protocol):
    """The run's simpy environment and the day it stops: shared by everything that books events."""

    env: simpy.Environment
    end_day: float


@runtime_checkable
class PolicyPort(Clock, Protocol):
    """What an allocation, reassignment or on-leave policy may ask of the service."""

    def reassign(self, dyad: Dyad, cause: str, priority: bool = False, queue: bool = True) -> bool:
        """End ``dyad`` and put its patient back in line (``queue``) or leave them to the caller."""

    def requeue(self, patient: Patient, discipline: int, priority: bool) -> None:
        """Put a patient in line for ``discipline`` (ahead of new referrals with ``priority``)."""

    def start_dyad(self, patient: Patient, clinician: Clinician, carried: Optional[float] = None) -> Dyad:
        """Open a dyad now (``carried``: team trust carried over from an earlier dyad)."""

    def has_dyad(self, patient: Patient, discipline: int) -> bool:
        """Whether the patient already has a clinician of ``discipline``."""

    def alternatives(self, patient: Patient, discipline: int, current: Clinician) -> list[Clinician]:
        """Clinicians in post of the patient's team and ``discipline``, other than ``current``, not avoided."""

    def free_clinicians(self, team: int, discipline: int) -> FreeClinicians:
        """The index of the clinicians in post below their cap of one team and discipline."""

    def patient_uniform(self, patient: Patient, k: int) -> float:
        """A per-patient uniform for policies (k=0: allocation), the same in every scenario."""

    def patient_normal(self, patient: Patient, clinician_id: int) -> float:
        """A per-(patient, clinician) standard normal, the same in every scenario."""


@runtime_checkable
class SessionPort(Clock, Protocol):
    """What the session step (simulation.session) may ask of the service."""

    disciplines: Sequence[DisciplineConfig]
    primary: int  # index of the discipline whose attended sessions the course cap counts
    recorder: SessionRecorder
    anxiety: Optional[Questionnaire]  # the anxiety questionnaire scored at each attended session (None: none)

    def discharge(self, patient: Patient, reason: str) -> None:
        """End every dyad of the patient and record the exit."""

    def reassign(self, dyad: Dyad, cause: str, priority: bool = False, queue: bool = True) -> bool:
        """End ``dyad`` and put its patient back in line (see :class:`PolicyPort`)."""

    def absence_cover(self, clinician: Clinician, day: float) -> Optional[Clinician]:
        """A present colleague who covers an absent clinician's session, or None (cancelled)."""

    def extend_tape(self, tape: Tape) -> None:
        """Draw more sessions onto a dyad's tape, in place."""


@runtime_checkable
class StaffPort(Clock, Protocol):
    """What the workforce (turnover and absence, simulation.workforce) may ask of the service."""

    clinicians: Sequence[Clinician]  # every clinician so far, in id order (read only)

    def retire(self, clinician: Clinician) -> None:
        """Take a clinician out of post."""

    def new_clinician(self, team: int, discipline: int, day: float) -> Clinician:
        """Draw and enrol a new clinician in a post."""

    def fill(self, team: int, discipline: int) -> None:
        """Allocate waiting patients while free slots exist."""

    def change_vacancies(self, delta: int) -> None:
        """Count a post vacated (+1) or filled (-1)."""

    def clinician_tenure_uniform(self, clinician: Clinician) -> float:
        """The clinician's own uniform for time in post, the same in every scenario."""

    def absence_stream(self, clinician: Clinician) -> np.random.Generator:
        """The clinician's own sickness-absence random stream."""


@runtime_checkable
class RunRecord(Protocol):
    """What :func:`simulation.tables.build_tables` reads from a finished run."""

    cfg: Config
    scenario: str
    replication: int
    end_day: float
    disciplines: Sequence[DisciplineConfig]
    patients: Sequence[Patient]
    clinicians: Sequence[Clinician]
    timeseries: list
    caseload_samples: list  # (day, discipline, clinicians in post, mean caseload) per sample and discipline
    reassignment_log: list
    streams: Streams  # the replication's random streams (the follow-up assessments' noise)

    def session_table(self) -> Optional[pd.DataFrame]:
        """The session table in memory, or None when it is off or was streamed to part files."""
