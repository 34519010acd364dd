"""alliance-sim: discrete-event simulation of therapeutic alliance in mental health services."""

__version__ = "0.1.0"
