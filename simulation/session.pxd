# Compile-time types the session step (simulation/session.py) uses from other modules.
from simulation.entities cimport Clinician, Dyad, Patient
from simulation.rupture cimport RuptureModel
from simulation.events cimport Wake
from simulation.anxiety cimport score as anxiety_formula
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize

# One row of the session table as the recorder stores it (recorder.ROW, "=iiiidbddddddbbbbdd").
cdef packed struct SessionRow:
    int patient_id
    int clinician_id
    int dyad_id
    int session_index
    double day
    signed char attended
    double alliance_latent
    double goals
    double tasks
    double bond
    double alliance_patient
    double alliance_clinician
    signed char rupture
    signed char repair
    signed char rupture_reported
    signed char unresolved
    double severity
    double anxiety_observed

# Tape layout constants (set from simulation.rng in session.py).
cdef double NAN
cdef long HU, HZ, NU, NZ, U_ATTEND, U_DROPOUT, U_GAIN, U_POLICY, U_SPARE
cdef long Z_GOALS, Z_TASKS, Z_BOND, Z_PATIENT, Z_CLINICIAN, Z_SYMPTOM, Z_MEASURE
# What a contact returns (SessionStep.contact).
cdef int MISSED, ATTENDED, ENDED
