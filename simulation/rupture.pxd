# C declarations of the rupture models in simulation/rupture.py (Cython's pure-Python mode:
# a class declared here has all its attributes declared here). They let the compiled
# session step call ``at_session`` directly and read the configuration as C doubles.
from simulation.entities cimport Clinician, Dyad, Patient

cdef double _logistic(double x)
cdef void _unresolve(Dyad dyad, Patient patient)

cdef class RuptureModel:
    cdef public object cfg
    cdef public double reference
    cpdef tuple at_session(self, Dyad dyad, Clinician clinician, Patient patient, object u, long j,
                           bint feedback)

cdef class NoRuptures(RuptureModel):
    pass

cdef class StandardRuptures(RuptureModel):
    cdef public double intercept, sensitivity, strain, alliance, erosion, monitoring_gain
    cdef public double repair_reserve, repair_gain, false_report_prob, report_prob
    cdef public double withdrawal_share, severity_min, sev_span, log_w_factor, log_decay
    cdef public tuple w_impact, c_impact
    cdef public double corrective_propensity, corrective_bond
    cdef void _restore(self, Dyad dyad, Patient patient)
