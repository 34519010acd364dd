"""The service: referrals, waiting lists, caseloads and the dyads' sessions, in simpy.

One :class:`Service` simulates one scenario × replication and returns its tables. It
never prints or writes files. The session step, the policies, the workforce and the
tables see it only through the protocols of :mod:`simulation.ports`. Each dyad is a chain of session events (one reusable simpy
event, see :mod:`simulation.events`); referrals are a chain too; time-series samples,
turnover and absence are simpy processes around them, and reneging is applied lazily
from a heap of renege days.
"""

from __future__ import annotations

import gc
import math
import threading
from contextlib import contextmanager
from collections import deque
from dataclasses import replace
from typing import Optional

import cython
import numpy as np
import pandas as pd
import simpy

from . import anxiety, rng
from .clinician_view import ClinicianView
from .config import Config, DisciplineConfig
from .capacity import FreeClinicians
from .entities import NAN, Clinician, Dyad, Patient
from .events import Wake, run_until
from .lazyheap import LazyHeap
from .policies import make_policies, make_reallocation, style_fit
from .therapist_dropout import therapist_dropout_shift
from .recorder import SessionRecorder
from .star import session_derivation
from .rupture import make_rupture_model
from .session import SessionStep, update_team_alliance
from .involuntary import Compulsion
from .teams import team_layout

# Columns of a patient's attribute row (standard normals, then uniforms).
PZ_SEVERITY, PZ_CAPACITY, PZ_SENSITIVITY, PZ_ENGAGEMENT, PZ_RESPONSE, PZ_RATING, PZ_MEASURE, PZ_STYLE = range(8)
PU_RENEGE, PU_INTENSITY, PU_ALLOCATION, PU_TEAM, PU_SPARE = range(5)
# Clinician attribute row.
CZ_ALLIANCE, CZ_OUTCOME, CZ_DETECTION, CZ_REPAIR, CZ_RATER, CZ_STYLE = range(6)
CU_TRAINING, CU_TENURE, CU_SPARE = range(3)
MAX_STYLE = 4
MATCH_WIDTH = 512  # per-patient normals for fit-estimate noise, indexed by clinician id


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _low_intensity_prob(share: float, stepping: float, severity_z: float) -> float:
    """Stepped care: chance of the short course, lower for more severe patients."""
    if stepping == 0.0 or share <= 0.0 or share >= 1.0:
        return share
    return 1.0 / (1.0 + math.exp(-(_logit(share) - stepping * severity_z)))


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextmanager
def paused_gc():
    """Pause Python's cyclic garbage collector while the event loop runs.

    Patients, clinicians and dyads live until the tables are built and the session
    step creates no reference cycles, so the collector's passes only rescan live state:
    a tenth or more of the run time, growing with the run. Reference counting still frees
    everything at once. (Re-enabling costs one pass over the objects made meanwhile,
    about 3% of a run; freezing them instead would keep a finished run's cycles alive
    into the next run.) Nested and threaded runs (Dask workers) share one pause.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


def disciplines_of(cfg: Config) -> list[DisciplineConfig]:
    """The service's disciplines, with ``service.clinicians`` applied to the first (or, with a
    ``service.team_list``, each count the sum of the teams' posts)."""
    ds = [replace(d) for d in cfg.service.disciplines]
    if cfg.service.team_list:
        return [replace(d, count=sum(int(t.posts.get(d.name, 0)) for t in cfg.service.team_list)) for d in ds]
    if cfg.service.clinicians is not None:
        ds[0] = replace(ds[0], count=int(cfg.service.clinicians))
    return ds


class Service:
    """One replication of one scenario."""

    def __init__(self, cfg: Config, replication: int, scenario: Optional[str] = None,
                 sessions_dir: Optional[str] = None):
        self.cfg = cfg
        self.replication = int(replication)
        self.scenario = scenario if scenario is not None else cfg.run.name
        self.env = simpy.Environment()
        self.streams = rng.Streams(cfg.run.seed, replication)
        self.warmup = float(cfg.run.warmup_days)
        self.end_day = self.warmup + float(cfg.run.horizon_days)
        self.disciplines = disciplines_of(cfg)
        self.discipline_index = {d.name: i for i, d in enumerate(self.disciplines)}
        self.care = [self.discipline_index[name] for name in cfg.service.care_model]
        self.care_weights = list(cfg.service.care_weights)
        self.primary = self.care[0]
        self.teams = team_layout(cfg, self.disciplines)
        self.n_teams = self.teams.n_teams
        self.recorder = SessionRecorder(cfg.output.sessions, session_derivation(cfg, replication))
        self.session_stream = None  # set when the session table is streamed to part files
        if sessions_dir is not None and cfg.output.sessions:
            from .streaming import SessionStream

            self.session_stream = SessionStream(self.recorder, sessions_dir, cfg.output.stream_rows,
                                                self.scenario, self.replication)
        self.rupture = make_rupture_model(cfg.rupture, cfg.alliance.reference, cfg.intervention.monitoring_detection_gain)
        self.allocation, self.reassignment, self.on_leave = make_policies(cfg.policy, self)
        self.reallocation = make_reallocation(cfg.policy, self, self.allocation)  # who takes a moved patient
        dc = cfg.dropout
        self.transition_risk = {"patient_request": dc.transition_patient_request, "policy": dc.transition_policy,
                                "turnover": dc.transition_turnover}  # one-off dropout risk of a move, by cause
        self.tapes = rng.TapeSource(self.streams, self._tape_sessions())
        # The anxiety questionnaire scored at referral and each attended session (None: no anxiety measure).
        self.anxiety = anxiety.Questionnaire(cfg.population, self.streams) if anxiety.enabled(cfg.population) else None
        # The clinicians' stable per-dyad rating offsets (None, and nothing drawn, when alliance.clinician_stable_share is 0).
        al = cfg.alliance
        self.clinician_view = (ClinicianView(al.clinician_error_sd, al.clinician_stable_share, self.streams,
                                             len(self.disciplines)) if al.clinician_stable_share > 0 else None)
        self.step = SessionStep(cfg, self, self.rupture, self.reassignment)

        style_dims = int(cfg.clinicians.style_dims)
        self.style_dims = style_dims
        self._patient_z = rng.BatchedRows(self.streams, rng.PATIENTS, (0,), PZ_STYLE + MAX_STYLE,
                                          lambda g, n, w: g.standard_normal((n, w)), rng.PATIENT_BATCH)
        self._patient_u = rng.BatchedRows(self.streams, rng.PATIENTS, (1,), 5,
                                          lambda g, n, w: g.random((n, w)), rng.PATIENT_BATCH)
        self._match_z = rng.BatchedRows(self.streams, rng.POLICY, (0,), MATCH_WIDTH,
                                        lambda g, n, w: g.standard_normal((n, w)), rng.PATIENT_BATCH)
        self._clin_z = rng.BatchedRows(self.streams, rng.CLINICIANS, (0,), CZ_STYLE + MAX_STYLE,
                                       lambda g, n, w: g.standard_normal((n, w)), rng.CLINICIAN_BATCH)
        self._clin_u = rng.BatchedRows(self.streams, rng.CLINICIANS, (1,), 3,
                                       lambda g, n, w: g.random((n, w)), rng.CLINICIAN_BATCH)
        # Approach preferences (drawn only when population.preference_share > 0): a patient's
        # (has one, which, known to allocation) uniforms, a clinician's approach uniform.
        self.preferences = cfg.population.preference_share > 0
        self._pref_p = rng.BatchedRows(self.streams, rng.PREFERENCE, (0,), 3,
                                       lambda g, n, w: g.random((n, w)), rng.PATIENT_BATCH)
        self._pref_c = rng.BatchedRows(self.streams, rng.PREFERENCE, (1,), 1,
                                       lambda g, n, w: g.random((n, w)), rng.CLINICIAN_BATCH)

        # Care under compulsion (involuntary.*): only built, and drawn, when some referrals are under a CTO.
        self.compulsion = (Compulsion(cfg.involuntary, self.env, self.streams, self.end_day)
                           if cfg.involuntary.share > 0 else None)

        self.patients: list[Patient] = []
        self.clinicians: list[Clinician] = []
        self.dyads_created = 0
        self.reassignment_log: list[tuple] = []  # (patient_id, day, cause, from_clinician, handover)
        self.timeseries: list[tuple] = []
        self.caseload_samples: list[tuple] = []  # (day, discipline, clinicians in post, mean caseload)
        # waiting[(team, discipline)]: FIFO of patients needing a dyad; priority first.
        self.waiting: dict[tuple[int, int], deque] = {}
        self.priority: dict[tuple[int, int], deque] = {}
        self.n_waiting = 0  # referred, not yet started, not exited
        self.n_in_care = 0
        self.vacancies = 0
        self.workforce = None  # simulation.workforce.Workforce when turnover or absence is on
        self.by_team_discipline: dict[tuple[int, int], list[Clinician]] = {}
        # free[(team, discipline)]: clinicians in post below their cap, in id order. Kept
        # up to date as caseloads change, so an allocation never scans the whole team.
        self.free: dict[tuple[int, int], FreeClinicians] = {}
        # Waiting patients' renege days, (day, patient id): reneging is applied lazily (see
        # expire_reneges) instead of one simpy event per referral.
        self._reneges = LazyHeap(self._still_waiting)
        for t in range(self.n_teams):
            for d in range(len(self.disciplines)):
                self.waiting[(t, d)] = deque()
                self.priority[(t, d)] = deque()
                self.by_team_discipline[(t, d)] = []
                self.free[(t, d)] = FreeClinicians()
        self._build_staff()

    # ------------------------------------------------------------------ construction
    def _tape_sessions(self) -> list[int]:
        """Sessions drawn up front per dyad tape, per discipline: the primary discipline's
        course cap (plus DNAs), and no more sessions than fit in ``max_days_in_care`` at the
        discipline's interval (a psychiatrist seen every 8 weeks for 3 years needs ~20, not 64)."""
        pop = self.cfg.population
        course = max(8, min(64, int(max(pop.max_sessions_low, pop.max_sessions_high) * 1.3) + 2))
        max_days = self.cfg.service.max_days_in_care
        out = []
        for d, disc in enumerate(self.disciplines):
            n = course if d == self.primary else 64
            if max_days is not None:
                n = min(n, max(8, int(max_days / disc.session_interval_days) + 2))
            out.append(n)
        return out

    def _build_staff(self) -> None:
        """Fill every post at day 0, each discipline's posts dealt out over the teams in turn."""
        for d in range(len(self.disciplines)):
            for team in self.teams.placement(d):
                self.new_clinician(team=team, discipline=d, day=0.0)

    def new_clinician(self, team: int, discipline: int, day: float) -> Clinician:
        """Draw a clinician (row = its id, so the same post gets the same person across scenarios)."""
        cid = len(self.clinicians)
        z = self._clin_z.row(cid)
        u = self._clin_u.row(cid)
        cc = self.cfg.clinicians
        rc = self.cfg.intervention
        disc = self.disciplines[discipline]
        cap = self.teams.caps[team][discipline]
        trained = bool(u[CU_TRAINING] < rc.training_share)
        det = cc.detection_logit_mean + cc.detection_logit_sd * z[CZ_DETECTION]
        rep = cc.repair_logit_mean + cc.repair_logit_sd * z[CZ_REPAIR]
        if trained:
            det += rc.training_detection_gain
            rep += rc.training_repair_gain
        c = Clinician(
            id=cid, team=team, discipline=discipline,
            alliance_skill=float(cc.alliance_skill_sd * z[CZ_ALLIANCE]),
            outcome_skill=float(math.exp(cc.outcome_skill_sd * z[CZ_OUTCOME] - 0.5 * cc.outcome_skill_sd ** 2)),
            detection_logit=float(det), repair_logit=float(rep),
            rater_bias=float(cc.rater_bias_mean + cc.rater_bias_sd * z[CZ_RATER]),
            style=tuple(float(v) for v in z[CZ_STYLE:CZ_STYLE + self.style_dims]),
            caseload_cap=cap, comfortable_caseload=min(int(disc.comfortable_caseload), cap),
            start_day=float(day), trained=trained,
        )
        # DIALOG users: the clinician's spare uniform, so the same people across scenarios (CRN).
        c.dialog = bool(rc.dialog_every_days > 0 and u[CU_SPARE] < rc.dialog_share)
        if self.cfg.therapist_dropout.logit_sd > 0.0:  # 0 (B, schema default): nothing drawn
            c.dropout_shift = therapist_dropout_shift(self.streams, cid, self.cfg.therapist_dropout.logit_sd)
        self.clinicians.append(c)
        self.by_team_discipline[(team, discipline)].append(c)
        self.free[(team, discipline)].join(c)
        return c

    def retire(self, c: Clinician) -> None:
        """Take a clinician out of post (turnover): no longer allocated patients."""
        c.active = False
        self.free[(c.team, c.discipline)].leave(c)

    def clinician_tenure_uniform(self, clinician: Clinician) -> float:
        """The clinician's own uniform for time in post (the same person leaves on the same day in every scenario)."""
        return float(self._clin_u.row(clinician.id)[CU_TENURE])

    def absence_stream(self, clinician: Clinician) -> np.random.Generator:
        """The clinician's own sickness-absence stream (common random numbers across scenarios)."""
        return self.streams.generator(rng.ABSENCE, clinician.id)

    def extend_tape(self, tape: rng.Tape) -> None:
        """Draw more sessions onto a dyad's tape in place, for a dyad that outlives it."""
        self.tapes.extend(tape)

    def change_vacancies(self, delta: int) -> None:
        """Count a post vacated (+1) or filled (-1): the timeseries' vacancies."""
        self.vacancies += delta

    def patient_uniform(self, patient: Patient, k: int) -> float:
        """A per-patient uniform for policies (k=0: allocation)."""
        return float(self._patient_u.row(patient.id)[PU_ALLOCATION if k == 0 else PU_SPARE])

    def patient_normal(self, patient: Patient, clinician_id: int) -> float:
        """A per-(patient, clinician) normal, e.g. noise in an estimate of their fit."""
        return float(self._match_z.row(patient.id)[clinician_id % MATCH_WIDTH])

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, pd.DataFrame]:
        """Simulate to the end of the horizon and return the tables."""
        self.simulate()
        return self.tables()

    def simulate(self) -> None:
        """Start referrals, monitoring and the workforce, and run the event loop to the end."""
        env = self.env
        self.start_referrals()
        env.process(self._sampler())
        if self.session_stream is not None:
            env.process(self.session_stream.process(env))
        if self.cfg.turnover.annual_rate > 0 or self.cfg.turnover.absence_per_year > 0:
            from .workforce import start_workforce

            self.workforce = start_workforce(self, self.cfg.turnover, self.on_leave)
        with paused_gc():
            run_until(env, self.end_day)  # env.run(until=...), compiled
        self.expire_reneges(self.end_day)  # reneges due before the end that nothing looked at

    def start_referrals(self) -> None:
        """Poisson referrals, a chain of events; inter-arrival draws are shared across
        scenarios (scaled by the rate): the gap before referral i is draw i."""
        rate_per_day = self.teams.total_referrals_per_week / 7.0
        if rate_per_day <= 0:
            return
        gaps = rng.BatchedRows(self.streams, rng.ARRIVALS, (0,), 1024,
                               lambda g, n, w: g.standard_exponential((n, w)), 1)
        env = self.env
        end_day = self.end_day
        patients = self.patients

        def book(wake: Wake) -> None:
            i = len(patients)
            gap = float(gaps.row(i // 1024)[i % 1024]) / rate_per_day
            if env.now + gap < end_day:
                wake.book(gap)

        def arrive(wake: Wake) -> None:
            self._refer(len(patients))
            book(wake)

        book(Wake(env, arrive))

    def _refer(self, pid: int) -> None:
        cfg = self.cfg
        pop = cfg.population
        z = self._patient_z.row(pid).tolist()  # Python floats: no numpy scalars below
        u = self._patient_u.row(pid).tolist()
        day = self.env.now
        sev = pop.severity_mean + pop.severity_sd * float(z[PZ_SEVERITY])
        sev = min(pop.severity_max, max(pop.severity_min, sev))
        observed = min(pop.severity_max, max(0.0, round(sev + pop.measurement_sd * float(z[PZ_MEASURE]))))
        oc = cfg.outcome
        response = oc.response_rate * math.exp(oc.response_sd * float(z[PZ_RESPONSE]) - 0.5 * oc.response_sd ** 2)
        renege = cfg.service.renege_per_week / 7.0
        renege_day = day - math.log(max(1e-300, float(u[PU_RENEGE]))) / renege if renege > 0 else math.inf
        low = float(u[PU_INTENSITY]) < _low_intensity_prob(pop.low_intensity_share, pop.low_intensity_severity,
                                                          float(z[PZ_SEVERITY]))
        p: Patient = Patient(
            id=pid, referral_day=day, group=pop.group,
            baseline_severity=sev, baseline_observed=float(observed), severity=sev,
            capacity_z=pop.capacity_logit_mean + pop.capacity_logit_sd * float(z[PZ_CAPACITY]),
            sensitivity_z=pop.sensitivity_logit_mean + pop.sensitivity_logit_sd * float(z[PZ_SENSITIVITY]),
            engagement_z=pop.engagement_logit_mean + pop.engagement_logit_sd * float(z[PZ_ENGAGEMENT]),
            response_rate=response,
            rating_bias=cfg.alliance.patient_bias_mean + cfg.alliance.patient_bias_sd * float(z[PZ_RATING]),
            style=tuple(z[PZ_STYLE:PZ_STYLE + self.style_dims]),
            max_sessions=int(pop.max_sessions_low if low else pop.max_sessions_high),
            measured=day >= self.warmup,
            renege_day=renege_day,
            dyad_seq=[0] * len(self.disciplines),
        )
        p.team = self.teams.team_of(float(u[PU_TEAM]))
        p.last_observed = p.baseline_observed
        if self.anxiety is not None:
            self.anxiety.at_referral(p)
        if self.compulsion is not None:
            self.compulsion.at_referral(p)
        self.patients.append(p)
        self.n_waiting += 1
        for d in self.care:
            self.waiting[(p.team, d)].append(p)
        for d in self.care:
            self.fill(p.team, d)
        if not p.started and renege_day < self.end_day:  # allocated at once: can never renege
            self._reneges.push((renege_day, pid), self.n_waiting)

    def _still_waiting(self, entry: tuple[float, int]) -> bool:
        p = self.patients[entry[1]]
        return not p.started and not p.exited

    def expire_reneges(self, until: float) -> None:
        """Apply every renege due by ``until``: a patient still waiting on their renege day
        leaves the list on that day.

        Nothing in the model looks at a waiting patient between referral and allocation
        except allocation itself and the time-series sampler, and both call this first; so
        the outcome is the same as one simpy event per referral, without a heap entry per
        referral among the session events (which made the cost per session grow with
        the length of the run).
        """
        reneges = self._reneges
        if not reneges.items or reneges.items[0][0] > until:
            return  # the earliest day, stale or not, is still ahead: nothing is due
        while (entry := reneges.first()) is not None and entry[0] <= until:
            reneges.pop()
            self.n_waiting -= 1
            self._exit(self.patients[entry[1]], "left_waiting_list", entry[0])

    # ------------------------------------------------------------------ capacity
    def fill(self, team: int, d: int) -> None:
        """Allocate waiting patients (priority queue first) while free slots exist.

        A patient moved away from a clinician by a voluntary reassignment is never
        allocated back to them; if only such clinicians are free, the patient keeps their
        place and the next patient in line is served.
        """
        key = (team, d)
        queues = (self.priority[key], self.waiting[key])
        free_now = self.free[key].in_order
        if not free_now:
            return
        self.expire_reneges(self.env.now)
        while free_now:
            free = free_now.copy()
            pick = None
            for q in queues:
                while q and (q[0].exited or self.has_dyad(q[0], d)):
                    q.popleft()
                for i, patient in enumerate(q):
                    if patient.exited or self.has_dyad(patient, d):
                        continue
                    options = [c for c in free if c.id not in patient.avoid] if patient.avoid else free
                    if options:
                        pick = (q, i, patient, options)
                        break
                if pick is not None:
                    break
            if pick is None:
                return
            q, i, patient, options = pick
            if i == 0:
                q.popleft()
            else:
                del q[i]
            if self.preferences:
                options = self.accommodate(patient, options)
            moved = d in patient.carried  # a moved patient: policy.reassignment_allocation chooses
            clinician = (self.reallocation if moved else self.allocation).choose(patient, options)
            self.start_dyad(patient, clinician, carried=patient.carried.pop(d, None))

    def preference(self, p: Patient) -> int:
        """The approach (0 or 1) the patient prefers, or -1 for none (``population.preference_share``)."""
        u = self._pref_p.row(p.id)
        return int(u[1] < 0.5) if u[0] < self.cfg.population.preference_share else -1

    def approach(self, c: Clinician) -> int:
        """The clinician's approach (0 or 1, half each), the same person in every scenario."""
        return int(self._pref_c.row(c.id)[0] < 0.5)

    def accommodate(self, p: Patient, options: list[Clinician]) -> list[Clinician]:
        """The free clinicians of the patient's preferred approach when allocation knows the
        preference (``policy.preference_accuracy``) and one is free; else all of ``options``."""
        want = self.preference(p)
        if want < 0 or self._pref_p.row(p.id)[2] >= self.cfg.policy.preference_accuracy:
            return options
        liked = [c for c in options if self.approach(c) == want]
        return liked or options

    @staticmethod
    def has_dyad(p: Patient, d: int) -> bool:
        """Whether the patient already has a clinician of discipline ``d`` (one dyad per discipline)."""
        dy: Dyad
        for dy in p.dyads:
            if dy.discipline == d:
                return True
        return False

    def alternatives(self, p: Patient, d: int, current: Clinician) -> list[Clinician]:
        """Who else could see the patient in discipline ``d``: clinicians in post of the
        patient's team, other than ``current``, whom the patient has not been moved away from."""
        return [c for c in self.by_team_discipline[(p.team, d)]
                if c.active and c is not current and c.id not in p.avoid]

    def free_clinicians(self, team: int, d: int) -> FreeClinicians:
        """The index of the clinicians in post below their cap in one team and discipline
        (for allocation policies that would otherwise scan them)."""
        return self.free[(team, d)]

    def requeue(self, p: Patient, d: int, priority: bool) -> None:
        """Put a patient back in line for discipline ``d``, ahead of new referrals with
        ``priority``; the next :meth:`fill` of the team serves them."""
        key = (p.team, d)
        (self.priority[key] if priority else self.waiting[key]).append(p)

    def _set_caseload(self, c: Clinician, delta: int) -> None:
        over: cython.long
        c.caseload += delta
        if c.caseload > c.max_caseload:
            c.max_caseload = c.caseload
        self.free[(c.team, c.discipline)].caseload_changed(c, delta)
        over = c.caseload - c.comfortable_caseload
        c.strain = over / c.comfortable_caseload if over > 0 else 0.0

    def start_dyad(self, p: Patient, c: Clinician, carried: Optional[float] = None) -> Dyad:
        """Open a dyad: potential from the *new* clinician's fit (a failed dyad's mismatch does not carry over), start from scratch or carried trust."""
        # Carried trust: a share alliance.transfer_share, or policy.handover_transfer_share after a handover.
        al = self.cfg.alliance
        d = c.discipline
        seq = p.dyad_seq[d]
        p.dyad_seq[d] += 1
        tape = self.tapes.tape(p.id, d, seq)
        z = tape.z
        fit = al.fit_sd * style_fit(p.style, c.style)
        if self.preferences and (want := self.preference(p)) >= 0:
            met = self.approach(c) == want
            fit += (0.5 if met else -0.5) * al.preference_shift
            if p.preference_met < 0:
                p.preference_met = int(met)  # the first dyad's (what a preference trial compares)
        base = (al.potential_intercept + al.potential_capacity * p.capacity_z + c.alliance_skill + fit
                + self.disciplines[d].alliance_shift + p.potential_offset)
        pots = [1.0 / (1.0 + math.exp(-(base + al.component_sd * z[k]))) for k in range(3)]
        ts = p.carried_share.pop(d, al.transfer_share) if p.carried_share else al.transfer_share
        if carried is None:
            start = [al.initial_share * pk for pk in pots]
        else:
            start = [ts * carried + (1 - ts) * al.initial_share * pk for pk in pots]
        w = self.care_weights[self.care.index(d)] if d in self.care else 0.0
        dyad: Dyad = Dyad(id=self.dyads_created, patient=p, clinician=c, discipline=d, tape=tape, weight=w,
                          start_day=self.env.now, goals=start[0], tasks=start[1], bond=start[2],
                          potential_goals=pots[0], potential_tasks=pots[1], potential_bond=pots[2])
        wg, wt, wb = al.weights
        dyad.alliance = wg * dyad.goals + wt * dyad.tasks + wb * dyad.bond
        if self.clinician_view is not None:
            dyad.clinician_view = self.clinician_view.offset(p.id, d, seq)
        self.dyads_created += 1
        self._set_caseload(c, +1)
        c.patients_held.add(dyad)
        p.dyads.append(dyad)
        if not p.started:
            p.started = True
            p.queue_days = self.env.now - p.referral_day
            p.first_clinician_id = c.id
            self.n_waiting -= 1
            self.n_in_care += 1
            p.in_care = True
        update_team_alliance(p)
        if p.team_relationship != p.team_relationship:  # NaN: the first dyad sets the team relationship
            p.team_relationship = p.team_alliance
        delay = self.cfg.service.first_appointment_delay_days
        self.step.start(dyad, delay)
        return dyad

    def end_dyad(self, dyad: Dyad) -> None:
        """Close a dyad and free the clinician's slot (refilled by the caller)."""
        if not dyad.active:
            return
        dyad.active = False
        d = dyad.discipline
        c: Clinician = dyad.clinician
        self._set_caseload(c, -1)
        c.patients_held.discard(dyad)
        p: Patient = dyad.patient
        p.dyads.remove(dyad)
        if d == self.primary:
            p.primary_before += dyad.attended  # the course cap counts sessions over all dyads
        if dyad.unresolved:
            p.unresolved -= 1
        if p.dyads:
            update_team_alliance(p)

    def reassign(self, dyad: Dyad, cause: str, priority: bool = False, queue: bool = True) -> bool:
        """End a dyad and put the patient back in line for the same discipline.

        The transition carries a one-off dropout risk by cause (``dropout.transition_<cause>``,
        times ``policy.handover_risk_ratio`` after a handover), drawn from the old dyad's tape
        (synchronised across scenarios). The new dyad starts from carried-over team trust; what
        the failed dyad's ratings revealed about fit is kept for re-matching. A handover
        (``policy.handover``) is held whenever the patient goes straight to a colleague
        (``queue``): not when held for a replacement, as the outgoing clinician has gone. A
        voluntary move (cause "policy" or "patient_request") never returns the patient to the
        clinician they left. The caller (a policy) chooses whether the patient queues ahead of
        new referrals (``priority``); with ``queue`` false the patient joins no queue and the
        caller keeps them. Returns whether the patient is still in care.
        """
        p = dyad.patient
        c = dyad.clinician
        d = dyad.discipline
        pol = self.cfg.policy
        trust = p.team_alliance
        self.end_dyad(dyad)
        p.reassignments += 1
        handover = bool(pol.handover) and queue
        self.reassignment_log.append((p.id, self.env.now, cause, c.id, handover))
        risk = self.transition_risk[cause] * (pol.handover_risk_ratio if handover else 1.0)
        u = dyad.tape.u[rng.HEADER_UNIFORM - 1]
        if u < risk:
            self.discharge(p, "dropout")
            self.fill(c.team, c.discipline)
            return False
        p.carried[d] = trust
        if handover:
            p.carried_share[d] = pol.handover_transfer_share
        if dyad.ratings > 0:
            p.revealed[d] = (c.style, self._revealed_fit(dyad))
        if cause != "turnover":
            p.avoid = p.avoid | {c.id}
        if not queue:
            return True
        self.requeue(p, d, priority)
        self.fill(c.team, c.discipline)
        if c.team != p.team:
            self.fill(p.team, d)
        return True

    def _revealed_fit(self, dyad: Dyad) -> float:
        """The dyad's fit (style-fit SD units) as its mean patient rating shows it, for re-matching."""
        # The rating's shortfall on the logit scale from an average dyad's potential, over fit_sd.
        al = self.cfg.alliance
        if al.fit_sd <= 0.0:
            return 0.0
        a = ((dyad.rating_sum / dyad.ratings - al.scale_min) / (al.scale_max - al.scale_min)
             - al.patient_bias_mean)
        a = min(0.98, max(0.02, a))
        average = al.potential_intercept + self.disciplines[dyad.discipline].alliance_shift
        return max(-3.0, min(3.0, (math.log(a / (1.0 - a)) - average) / al.fit_sd))

    def discharge(self, p: Patient, reason: str) -> None:
        """End all of a patient's dyads and record the exit; refill freed slots."""
        if p.exited:
            return
        dy: Dyad
        freed = [(dy.clinician.team, dy.discipline) for dy in p.dyads]
        for dy in list(p.dyads):
            self.end_dyad(dy)
        if p.in_care:
            self.n_in_care -= 1
            p.in_care = False
        self._exit(p, reason)
        for team, d in freed:
            self.fill(team, d)

    def _exit(self, p: Patient, reason: str, day: Optional[float] = None) -> None:
        p.exited = True
        p.anxiety_errors = None  # release the pre-drawn anxiety errors: no measurement follows an exit
        p.exit_day = self.env.now if day is None else day
        p.exit_reason = reason

    def absence_cover(self, c: Clinician, day: float) -> Optional[Clinician]:
        """A colleague who covers ``c``'s session on ``day``: same team and discipline, in
        post, not absent, least loaded relative to cap (ties to the lowest id); None when
        cover is off or nobody is available (the session is then cancelled)."""
        if not self.cfg.turnover.absence_cover:
            return None
        present = [o for o in self.by_team_discipline[(c.team, c.discipline)]
                   if o is not c and o.active and o.absent_until <= day]
        if not present:
            return None
        return min(present, key=lambda o: (o.caseload / o.caseload_cap, o.id))

    # ------------------------------------------------------------------ monitoring
    def _sampler(self):
        env = self.env
        dt = float(self.cfg.output.timeseries_interval_days)
        while True:
            self.expire_reneges(env.now)
            active = [c for c in self.clinicians if c.active]
            mean_caseload = sum(c.caseload for c in active) / len(active) if active else NAN
            self.timeseries.append((env.now, self.n_waiting, self.n_in_care, self.vacancies, mean_caseload))
            for d in range(len(self.disciplines)):  # per discipline: caps differ (30 vs 180 in reference B)
                held = [c.caseload for c in active if c.discipline == d]
                self.caseload_samples.append((env.now, d, len(held), sum(held) / len(held) if held else NAN))
            if env.now + dt > self.end_day:
                return
            yield env.timeout(dt)

    # ------------------------------------------------------------------ tables
    def tables(self) -> dict[str, pd.DataFrame]:
        """The run's tables (simulation.tables)."""
        from .tables import build_tables

        return build_tables(self)

    def session_table(self) -> Optional[pd.DataFrame]:
        """The session table in memory; None when it is off, or streamed to part files (closed here)."""
        if not self.cfg.output.sessions:
            return None
        if self.session_stream is not None:
            self.session_stream.close()  # the rest goes to the chunk's part files, not into memory
            return None
        return self.recorder.frame()
