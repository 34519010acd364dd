"""alliance-sim: discrete-event simulation of therapeutic alliance in mental health services."""

__version__ = "0.1.0"

from .build import warn_if_stale as _warn_if_stale  # noqa: E402

_warn_if_stale()
