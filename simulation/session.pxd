# Compile-time types the session step (simulation/session.py) uses from other modules.
from simulation.entities cimport Clinician, Dyad, Patient
from simulation.rupture cimport RuptureModel
