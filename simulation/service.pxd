# Compile-time types the service (simulation/service.py) uses from other modules: its
# per-patient code (referral, allocation, dyads, discharge) reads the agents as C structs.
from simulation.entities cimport Clinician, Dyad, Patient
