"""Which modules run compiled, and a warning when a compiled build is older than its source.

setup.py compiles the modules named in ``COMPILED`` with Cython when the install has a C
compiler (it reads this list). An extension module shadows its ``.py``: after an edit to
one of these files without a rebuild, Python would go on running the old code, so
importing the package warns about it (``make`` rebuilds; so does ``pip install -e .``).

``ALLIANCE_SIM_PURE=1`` in the environment runs these modules from their ``.py`` files
even where they are compiled (same results, slower): for debuggers, coverage and
profilers, and to check that both give the same tables. At install time the same
variable skips compilation.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from pathlib import Path

# The hot path: agents, session step, rupture models, service, event loop, random tapes,
# capacity index, policies and the anxiety formula. Typed (Cython pure-Python mode) or compiled as plain Python.
COMPILED = ("entities", "rupture", "session", "service", "events", "rng", "capacity", "lazyheap", "policies", "anxiety")

_PKG = Path(__file__).resolve().parent
_EXT = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _origin(name: str) -> Path:
    spec = importlib.util.find_spec(f"{__package__}.{name}")
    return Path(spec.origin)


def compiled_modules() -> list[str]:
    """The modules of ``COMPILED`` that import as C extensions in this installation."""
    return [m for m in COMPILED if _origin(m).name.endswith(_EXT)]


def stale_modules() -> list[str]:
    """Compiled modules older than their ``.py`` or ``.pxd`` (edited since the build).

    Only in a source checkout (setup.py beside the package), where edits happen; an
    installed copy's file times are those of its unpacking, not of its build.
    """
    if not (_PKG.parent / "setup.py").exists():
        return []
    stale = []
    for m in compiled_modules():
        built = _origin(m).stat().st_mtime
        sources = [_PKG / f"{m}.py", _PKG / f"{m}.pxd"]
        if any(s.exists() and s.stat().st_mtime > built for s in sources):
            stale.append(m)
    return stale


def warn_if_stale() -> None:
    """Warn when a compiled module is older than its source, since the run would use old code."""
    stale = stale_modules()
    if stale:
        files = ", ".join(f"simulation/{m}.py" for m in stale)
        were = "was edited after it was" if len(stale) == 1 else "were edited after they were"
        warnings.warn(f"alliance-sim: {files} {were} compiled; the old compiled code runs until you rebuild "
                      "(`make`, or `pip install -e .`)", RuntimeWarning, stacklevel=2)


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Finds the compiled modules' ``.py`` files before their extensions."""

    def find_spec(self, fullname, path=None, target=None):
        """Load a compiled module's .py source instead of its extension (ALLIANCE_SIM_PURE=1)."""
        package, _, name = fullname.rpartition(".")
        if package == __package__ and name in COMPILED:
            return importlib.util.spec_from_file_location(fullname, _PKG / f"{name}.py")
        return None


def run_pure_if_asked() -> None:
    """With ``ALLIANCE_SIM_PURE`` set, import the hot path from source (call before it is imported)."""
    if os.environ.get("ALLIANCE_SIM_PURE") and not any(isinstance(f, _SourceFirst) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFirst())
