"""alliance-sim: discrete-event simulation of therapeutic alliance in mental health services."""

__version__ = "0.1.0"

from .build import run_pure_if_asked as _run_pure_if_asked  # noqa: E402
from .build import warn_if_stale as _warn_if_stale  # noqa: E402

_run_pure_if_asked()
_warn_if_stale()
