"""One dyad's sessions: attendance, alliance, rupture/repair, symptoms, exits.

This is the hot path (hundreds of millions of calls in a sweep). It is written in Cython's
pure-Python mode: the annotations (``cython.double``, ``cython.cfunc``) make it C when the
package is built with a compiler, and it runs unchanged as Python without one. Each
parameter is stored once, as a typed attribute of :class:`SessionStep`; each session
reads a fixed block of its dyad's tape; the session is packed into the recorder's
buffer. No pandas, no dicts, no numpy scalars.

The step sees the service only through :class:`simulation.ports.SessionPort`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cython
from cython.cimports.libc.math import exp  # C's exp compiled, math.exp otherwise: the same libm value

from . import rng
from .anxiety import score as anxiety_formula  # a C call when compiled (session.pxd cimports it)
from .entities import Clinician, Dyad, Patient
from .events import Wake
from .clinician_view import session_sd
from .recorder import ROW
from .rupture import NONE, REPAIR_NONE, RuptureModel

if TYPE_CHECKING:  # pragma: no cover
    from .config import Config
    from .policies import ReassignmentPolicy
    from .ports import SessionPort

# Tape layout (rng); C constants when compiled (declared in session.pxd).
NAN = float("nan")
HU, HZ, NU, NZ = rng.HEADER_UNIFORM, rng.HEADER_NORMAL, rng.N_UNIFORM, rng.N_NORMAL
U_ATTEND, U_DROPOUT, U_GAIN, U_POLICY, U_SPARE = rng.U_ATTEND, rng.U_DROPOUT, rng.U_GAIN, rng.U_POLICY, rng.U_SPARE
Z_GOALS, Z_TASKS, Z_BOND = rng.Z_GOALS, rng.Z_TASKS, rng.Z_BOND
Z_PATIENT, Z_CLINICIAN, Z_SYMPTOM, Z_MEASURE = (rng.Z_PATIENT_RATING, rng.Z_CLINICIAN_RATING, rng.Z_SYMPTOM,
                                               rng.Z_MEASURE)
# What a contact returns to the session that made it.
MISSED, ATTENDED, ENDED = 0, 1, 2
if cython.compiled and cython.sizeof(SessionRow) != ROW.size:  # record() writes recorder.ROW's bytes
    raise ImportError(f"session.pxd's SessionRow is {cython.sizeof(SessionRow)} bytes, recorder.ROW {ROW.size}")


@cython.cfunc
def record(buf: bytearray, patient_id: cython.int, clinician_id: cython.int, dyad_id: cython.int,
           index: cython.int, day: cython.double, attended: cython.schar, alliance: cython.double,
           goals: cython.double, tasks: cython.double, bond: cython.double, rated_patient: cython.double,
           rated_clinician: cython.double, rupture: cython.schar, repair: cython.schar,
           reported: cython.schar, unresolved: cython.schar, severity: cython.double,
           anxiety: cython.double) -> cython.void:
    """Append one session row to the recorder's buffer (the layout of ``recorder.ROW``).

    Compiled, the row is written in place as a packed C struct (``session.pxd``): no Python
    objects for its 18 values. Uncompiled, ``struct.pack`` writes the same bytes.
    """
    row: cython.pointer(SessionRow)
    end: cython.Py_ssize_t
    if cython.compiled:
        end = PyByteArray_GET_SIZE(buf)
        PyByteArray_Resize(buf, end + cython.sizeof(SessionRow))
        row = cython.cast(cython.pointer(SessionRow), PyByteArray_AS_STRING(buf) + end)
        row.patient_id, row.clinician_id, row.dyad_id, row.session_index = patient_id, clinician_id, dyad_id, index
        row.day, row.attended, row.alliance_latent = day, attended, alliance
        row.goals, row.tasks, row.bond = goals, tasks, bond
        row.alliance_patient, row.alliance_clinician = rated_patient, rated_clinician
        row.rupture, row.repair, row.rupture_reported, row.unresolved = rupture, repair, reported, unresolved
        row.severity = severity
        row.anxiety_observed = anxiety
    else:
        buf.extend(ROW.pack(patient_id, clinician_id, dyad_id, index, day, attended, alliance, goals, tasks,
                            bond, rated_patient, rated_clinician, rupture, repair, reported, unresolved, severity,
                            anxiety))


@cython.ccall
def update_team_alliance(p: Patient) -> cython.void:
    """The patient's relationship with the team: weighted mean over current dyads.

    Also the team weight of the dyads with an unresolved rupture, which scales the
    unresolved-rupture terms of the DNA and dropout hazards (so a zero-weight dyad
    cannot drive attendance or dropout). Without dyads both keep their last values.
    """
    dyads: list = p.dyads
    dy: Dyad
    tw: cython.double = 0.0
    ta: cython.double = 0.0
    tu: cython.double = 0.0
    w: cython.double
    if len(dyads) == 1:
        dy = dyads[0]
        p.team_alliance = dy.alliance
        p.unresolved_share = 1.0 if dy.unresolved else 0.0
        return
    for dy in dyads:  # one pass, summed in dyad order as sum() would
        w = dy.weight
        tw += w
        ta += w * dy.alliance
        if dy.unresolved:
            tu += w
    if tw > 0:
        p.team_alliance = ta / tw
        p.unresolved_share = tu / tw
    elif dyads:
        ta = 0.0
        tu = 0.0
        for dy in dyads:
            ta += dy.alliance
            if dy.unresolved:
                tu += 1.0
        p.team_alliance = ta / len(dyads)
        p.unresolved_share = tu / len(dyads)


@cython.cclass
class SessionStep:
    """The session parameters of a run, each stored once, and the dyads' chains of sessions."""

    service: object  # a simulation.ports.SessionPort
    rupture: RuptureModel
    reassignment: object  # the run's simulation.policies.ReassignmentPolicy
    buffer: bytearray  # the recorder's row buffer (the same bytearray for the whole run)
    recording: cython.bint
    wg: cython.double
    wt: cython.double
    wb: cython.double
    growth: cython.double
    noise: cython.double
    feedback: cython.double
    ref: cython.double
    scale_lo: cython.double
    scale_span: cython.double
    pe_sd: cython.double
    ce_sd: cython.double
    strain_pen: cython.double
    dna0: cython.double
    dna_eng: cython.double
    dna_all: cython.double
    dna_unres: cython.double
    dna_wait: cython.double
    max_dna: cython.long
    do0: cython.double
    do_early: cython.double
    do_decay: cython.double
    do_all: cython.double
    do_unres: cython.double
    do_dna: cython.double
    do_wait: cython.double
    do_eng: cython.double
    alliance_effect: cython.double
    unresolved_response: cython.double
    stalled: cython.double
    sym_sd: cython.double
    gain_p: cython.double
    gain_share: cython.double
    min_recovery: cython.long
    below_run: cython.long
    sev_max: cython.double
    caseness: cython.double
    rc: cython.double
    meas_sd: cython.double
    monitoring: cython.long
    max_days: object  # float, or None for no limit
    primary: cython.long
    intervals: list
    effects: list
    team_weight: cython.double  # alliance.team_weight: weight of the team relationship in what the hazards read
    team_rate: cython.double  # alliance.team_rate: share of its gap to the dyads' composite closed per attended session
    dialog_every: cython.double
    dialog_from: cython.double
    dialog_goals: cython.double
    dialog_tasks: cython.double
    anxiety: object  # the run's anxiety.Questionnaire (GAD-7 at each attended session), or None: no anxiety measure
    anx_on: cython.bint
    anx_mean: cython.double
    anx_slope: cython.double
    anx_ref: cython.double
    anx_error_sd: cython.double
    anx_max: cython.double
    anx_caseness: cython.double

    def __init__(self, cfg: "Config", service: "SessionPort", rupture: RuptureModel,
                 reassignment: "ReassignmentPolicy"):
        self.service = service
        self.rupture = rupture
        self.reassignment = reassignment
        self.buffer = service.recorder.buffer
        self.recording = service.recorder.enabled
        al, at, do, oc, pop = cfg.alliance, cfg.attendance, cfg.dropout, cfg.outcome, cfg.population
        self.wg, self.wt, self.wb = (float(w) for w in al.weights)
        self.growth = al.growth_rate
        self.noise = al.noise_sd
        self.feedback = al.symptom_feedback
        self.ref = al.reference
        self.scale_lo = al.scale_min
        self.scale_span = al.scale_max - al.scale_min
        self.pe_sd = al.patient_error_sd
        self.ce_sd = session_sd(al.clinician_error_sd, al.clinician_stable_share)  # the rest is the dyad's clinician_view
        self.strain_pen = cfg.clinicians.strain_growth_penalty
        self.dna0, self.dna_eng, self.dna_all = at.dna_intercept, at.dna_engagement, at.dna_alliance
        self.dna_unres, self.dna_wait = at.dna_unresolved, at.dna_wait_per_week
        self.max_dna = at.consecutive_dna_discharge
        self.do0, self.do_early, self.do_decay = do.intercept, do.early_boost, do.early_decay
        self.do_all, self.do_unres, self.do_dna = do.alliance, do.unresolved, do.after_dna
        self.do_wait, self.do_eng = do.wait_per_week, do.engagement
        self.alliance_effect = oc.alliance_effect
        self.unresolved_response = oc.unresolved_response
        self.stalled = exp(-oc.unresolved_response)  # response multiplier while a rupture is unresolved
        self.sym_sd = oc.noise_sd
        self.gain_p, self.gain_share = oc.sudden_gain_prob, oc.sudden_gain_share
        self.min_recovery = oc.min_sessions_recovery_discharge
        self.below_run = oc.caseness_discharge_after if oc.caseness_discharge_after > 0 else 10 ** 9
        self.sev_max = pop.severity_max
        self.caseness, self.rc = pop.caseness, pop.reliable_change
        self.meas_sd = pop.measurement_sd
        self.monitoring = cfg.intervention.monitoring_every
        self.max_days = cfg.service.max_days_in_care
        self.primary = service.primary
        self.intervals = [(d.session_interval_days,
                           (d.session_interval_max_days or d.session_interval_days) - d.session_interval_days)
                          for d in service.disciplines]
        self.effects = [d.treatment_effect for d in service.disciplines]
        iv = cfg.intervention
        self.dialog_every = iv.dialog_every_days  # 0: no DIALOG sessions
        self.dialog_from = float(cfg.run.warmup_days)  # DIALOG starts with the measured period (the trial)
        self.dialog_goals, self.dialog_tasks = iv.dialog_goals_gain, iv.dialog_tasks_gain
        self.team_weight = al.team_weight
        self.team_rate = al.team_rate
        q = service.anxiety
        self.anxiety = q
        self.anx_on = q is not None
        if q is not None:  # the questionnaire's constants, passed to anxiety.score (the formula) each session
            self.anx_mean, self.anx_slope, self.anx_ref = q.mean, q.slope, q.severity_mean
            self.anx_error_sd, self.anx_max, self.anx_caseness = q.error_sd, q.max, q.caseness

    @cython.cfunc
    @cython.inline
    def relationship(self, p: Patient) -> cython.double:
        """What attendance, dropout and outcome read: the dyads' composite, blended with the team relationship."""
        if self.team_weight == 0.0:
            return p.team_alliance  # off (reference A): exactly the composite
        return self.team_weight * p.team_relationship + (1.0 - self.team_weight) * p.team_alliance

    def start(self, dyad: Dyad, first_delay: float) -> None:
        """Book the dyad's first session ``first_delay`` days from now; each session books the next.

        A dyad is a chain of session events rather than a simpy process: one reusable
        :class:`Wake` event per dyad is put back on the simpy queue after every session,
        so a session costs one heap push and one callback, not a Timeout object and a
        generator resumption (see :mod:`simulation.events`). A session in the clinician's
        sickness absence is cancelled, or covered by a colleague (:meth:`contact` with the
        colleague, the alliance left alone): ``turnover.absence_cover``.
        """
        svc = self.service
        reassignment = None if self.reassignment.never_moves else self.reassignment.after_session
        c: Clinician = dyad.clinician
        tape = dyad.tape
        # The dyad's constants, typed locals of the closure: C values when compiled.
        interval: cython.double = self.intervals[dyad.discipline][0]
        interval_span: cython.double = self.intervals[dyad.discipline][1]
        end_day: cython.double = svc.end_day

        def session(wake: Wake) -> None:
            """One scheduled session of the dyad (attended, DNA, covered or cancelled), then book the next."""
            now: cython.double
            gap: cython.double
            n: cython.long
            j: cython.long
            k: cython.long
            outcome: cython.int
            uv: cython.double[:]
            if not dyad.active:
                return
            now = wake.at  # the day it was booked for: simpy's clock now
            n = dyad.n
            j = HU + n * NU
            k = HZ + n * NZ
            if j + NU > len(tape.u):
                svc.extend_tape(tape)  # in place, before the view below is taken
            uv = tape.u
            if c.absent_until > now:  # clinician off sick: covered, or cancelled (no tape slot used)
                cover = svc.absence_cover(c, now)
                if cover is None:
                    c.sessions_cancelled += 1
                else:
                    c.sessions_covered += 1
                    if self.contact(dyad, cover, False, uv, j, k, now) == ENDED:
                        return
            else:
                outcome = self.contact(dyad, c, True, uv, j, k, now)
                if outcome == ENDED:
                    return
                if outcome == ATTENDED and reassignment is not None:
                    cause = reassignment(dyad, dyad.last_patient_rating, uv[j + U_POLICY])
                    if cause is not None:
                        svc.reassign(dyad, cause, self.reassignment.priority)
                        return
            gap = interval + interval_span * uv[j + U_SPARE] if interval_span else interval
            if now + gap < end_day:
                wake.book_at(now + gap)

        Wake(svc.env, session).book(first_delay)

    # ------------------------------------------------------------------ one contact
    @cython.cfunc
    def contact(self, dyad: Dyad, seen: Clinician, grow: cython.bint, uv: cython.double[:], j: cython.long,
                k: cython.long, now: cython.double) -> cython.int:
        """One contact of the dyad's patient with ``seen``: attendance, symptoms, course end, dropout.

        Shared by the dyad's own sessions (``grow``: the alliance grows and may rupture,
        both rate it, ``seen`` is the dyad's clinician) and sessions covered during the
        clinician's absence (``seen`` is the colleague; the alliance is left alone and not
        rated). Updates the counters, writes the session row and discharges the patient
        when the contact ends their care. Returns MISSED, ATTENDED or ENDED (discharged).
        """
        p: Patient = dyad.patient
        c: Clinician = dyad.clinician
        zv: cython.double[:]
        x: cython.double
        wait_weeks: cython.double
        rate: cython.double
        fb: cython.double
        pg: cython.double
        pt: cython.double
        pb: cython.double
        g: cython.double
        t: cython.double
        b: cython.double
        a: cython.double = dyad.alliance
        rp: cython.double = NAN
        rc: cython.double = NAN
        obs: cython.double = NAN
        gad: cython.double = NAN
        effect: cython.double = self.effects[dyad.discipline]
        n: cython.long = dyad.n
        na: cython.long
        attended: cython.bint
        kind: cython.int = NONE
        repair: cython.int = REPAIR_NONE
        reported: cython.int = 0
        reason = None
        # Attendance: engagement, the team relationship, unresolved ruptures, the first wait.
        wait_weeks = (now - p.referral_day) / 7.0 if p.contacts == 0 else 0.0
        if p.contacts == 0 and p.sessions_attended == 0 and p.first_session_day != p.first_session_day:
            p.first_session_day = now
        x = (self.dna0 - self.dna_eng * p.engagement_z - self.dna_all * (self.relationship(p) - self.ref)
             + self.dna_unres * p.unresolved_share + self.dna_wait * wait_weeks + p.dna_offset)
        attended = uv[j + U_ATTEND] >= 1.0 / (1.0 + exp(-x))
        dyad.n = n + 1
        if attended:
            zv = dyad.tape.z
            if grow:
                if (self.dialog_every > 0.0 and c.dialog and dyad.discipline == self.primary
                        and now >= self.dialog_from and not now - dyad.last_dialog_day < self.dialog_every):
                    self.dialog_session(dyad, p, now)
                # Alliance moves toward the dyad potential (lifted by symptom improvement).
                rate = self.growth * (1.0 - self.strain_pen * c.strain)
                if rate < 0.0:
                    rate = 0.0
                fb = self.feedback * (p.baseline_severity - p.severity) / p.baseline_severity
                pg = dyad.potential_goals + fb
                pt = dyad.potential_tasks + fb
                pb = dyad.potential_bond + fb
                g = dyad.goals + rate * ((pg if pg < 1.0 else 1.0) - dyad.goals) + self.noise * zv[k + Z_GOALS]
                t = dyad.tasks + rate * ((pt if pt < 1.0 else 1.0) - dyad.tasks) + self.noise * zv[k + Z_TASKS]
                b = dyad.bond + rate * ((pb if pb < 1.0 else 1.0) - dyad.bond) + self.noise * zv[k + Z_BOND]
                dyad.goals = 0.0 if g < 0.0 else (1.0 if g > 1.0 else g)
                dyad.tasks = 0.0 if t < 0.0 else (1.0 if t > 1.0 else t)
                dyad.bond = 0.0 if b < 0.0 else (1.0 if b > 1.0 else b)
                dyad.alliance = self.wg * dyad.goals + self.wt * dyad.tasks + self.wb * dyad.bond
                # Rupture and repair (routine outcome monitoring every ``monitoring`` attended sessions).
                kind, repair, reported = self.rupture.at_session(
                    dyad, c, p, dyad.tape.u, j, self.monitoring > 0 and (dyad.attended + 1) % self.monitoring == 0)
                a = self.wg * dyad.goals + self.wt * dyad.tasks + self.wb * dyad.bond
                dyad.alliance = a
                p.alliance_last = a
                update_team_alliance(p)
                # The relationship with the team follows the dyads slowly; a change of clinician does not reset it.
                p.team_relationship += self.team_rate * (p.team_alliance - p.team_relationship)
                # Observed ratings on the instrument's scale.
                rp = a + p.rating_bias + self.pe_sd * zv[k + Z_PATIENT]
                rc = a + c.rater_bias + dyad.clinician_view + self.ce_sd * zv[k + Z_CLINICIAN]
                rp = self.scale_lo + self.scale_span * (0.0 if rp < 0.0 else (1.0 if rp > 1.0 else rp))
                rc = self.scale_lo + self.scale_span * (0.0 if rc < 0.0 else (1.0 if rc > 1.0 else rc))
                dyad.last_patient_rating = rp
                dyad.rating_sum += rp
                dyad.ratings += 1
            obs = self.symptoms(p, seen.outcome_skill, effect, zv[k + Z_SYMPTOM], zv[k + Z_MEASURE], uv[j + U_GAIN])
            gad = p.anxiety_last  # scored by symptoms() with an anxiety measure, else NaN
            dyad.attended += 1
            p.sessions_attended += 1
            p.consecutive_dnas = 0
            if grow:
                na = p.sessions_attended
                if 3 <= na <= 5:
                    p.early_alliance_sum += rp
                    p.early_alliance_n += 1
                    if na == 3:
                        p.alliance_patient_s3 = rp
                        p.alliance_clinician_s3 = rc
                if reported:
                    p.ruptures_reported += 1
            # Course end: recovery (reliable change, or a run of scores below caseness), or its length.
            # With an anxiety measure "below caseness" means both scores (IAPT caseness: PHQ-9 and GAD-7).
            if (effect > 0.0 and p.sessions_attended >= self.min_recovery and obs < self.caseness
                    and (not self.anx_on or gad < self.anx_caseness)
                    and (p.baseline_observed - obs >= self.rc or p.below_caseness >= self.below_run)):
                reason = "recovered"
            elif dyad.discipline == self.primary and dyad.attended + p.primary_before >= p.max_sessions:
                reason = "completed"
        else:  # a DNA; a run of them discharges
            p.dnas += 1
            p.consecutive_dnas += 1
            if p.consecutive_dnas >= self.max_dna:
                reason = "dna_discharge"
        if self.recording:
            record(self.buffer, p.id, seen.id, dyad.id, n, now, attended, a, dyad.goals, dyad.tasks, dyad.bond,
                   rp, rc, kind, repair, reported, dyad.unresolved, obs, gad)
        # Planned end by time in care, then the dropout hazard.
        if reason is None and self.max_days is not None and now - p.first_session_day >= self.max_days:
            reason = "completed"
        if reason is None:
            x = (self.do0 + self.do_early * exp(-p.contacts / self.do_decay)
                 - self.do_all * (self.relationship(p) - self.ref) - self.do_eng * p.engagement_z
                 + self.do_unres * p.unresolved_share
                 + (0.0 if attended else self.do_dna) + self.do_wait * wait_weeks + p.dropout_offset
                 + c.dropout_shift)
            if uv[j + U_DROPOUT] < 1.0 / (1.0 + exp(-x)):
                reason = "dropout"
        p.contacts += 1
        if reason is not None:
            self.service.discharge(p, reason)
            return ENDED
        return ATTENDED if attended else MISSED

    @cython.cfunc
    def dialog_session(self, dyad: Dyad, p: Patient, now: cython.double) -> cython.void:
        """A DIALOG session: discussing the ratings of life and care lifts the dyad's agreement on goals and tasks."""
        dyad.last_dialog_day = now
        p.dialog_sessions += 1
        dyad.potential_goals += self.dialog_goals * (1.0 - dyad.potential_goals)
        dyad.potential_tasks += self.dialog_tasks * (1.0 - dyad.potential_tasks)

    @cython.cfunc
    def symptoms(self, p: Patient, skill: cython.double, effect: cython.double, zs: cython.double,
                 zm: cython.double, u_gain: cython.double) -> cython.double:
        """Symptom change at an attended session; returns the observed questionnaire score.

        Improvement grows with the relationship (:meth:`relationship`) and stalls while a rupture is unresolved.
        With an anxiety measure the anxiety score of the session is scored too (``p.anxiety_last``), and a
        score below caseness (``p.below_caseness``) needs both below their caseness.
        """
        s: cython.double = p.severity
        r: cython.double
        us: cython.double
        obs: cython.double
        below: cython.bint
        if effect > 0.0:
            r = p.response_rate * skill * effect * exp(self.alliance_effect * (self.relationship(p) - self.ref))
            us = p.unresolved_share  # team weight of dyads with an unresolved rupture
            if us:
                r *= self.stalled if us == 1.0 else exp(-self.unresolved_response * us)
            s = s - (r if r < 1.0 else 1.0) * s + self.sym_sd * zs
            if u_gain < self.gain_p:
                s -= self.gain_share * s
            s = 0.0 if s < 0.0 else (self.sev_max if s > self.sev_max else s)
            p.severity = s
        obs = round(s + self.meas_sd * zm)  # Python's round: half to even
        obs = 0.0 if obs < 0.0 else (self.sev_max if obs > self.sev_max else float(obs))
        p.last_observed = obs
        below = obs < self.caseness
        if self.anx_on:
            below = self.anxiety_score(p, obs) < self.anx_caseness and below
        if below:
            p.below_caseness += 1
        else:
            p.below_caseness = 0
        return obs

    @cython.cfunc
    def anxiety_score(self, p: Patient, obs: cython.double) -> cython.double:
        """The anxiety score of this session (measurement k reads pre-drawn error k), by anxiety.score's formula."""
        m: cython.long = p.sessions_attended + 1  # called before the session is counted
        e: cython.double
        g: cython.double
        if m >= len(p.anxiety_errors):
            self.anxiety.extend(p)  # in place
        e = p.anxiety_errors[m]  # one item of an array('d'): cheaper than taking a memoryview per session
        g = anxiety_formula(obs, p.anxiety_offset, e, self.anx_mean, self.anx_slope, self.anx_ref, self.anx_error_sd,
                            self.anx_max)
        p.anxiety_last = g
        return g
