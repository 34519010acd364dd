"""Build: compile the hot path with Cython when a C compiler is available.

``entities``, ``rupture`` and ``session`` are written in Cython's pure-Python mode: the
same files run as ordinary Python. With a compiler (gcc or clang, and the Python
headers) pip builds them into C extensions, about 1.5x faster; without one the build
warns and the package installs as pure Python with identical results.
``ALLIANCE_SIM_PURE=1`` at install time skips compilation on purpose.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

COMPILED = ["entities", "rupture", "session", "service", "events", "rng", "capacity", "lazyheap", "policies"]


class OptionalBuildExt(build_ext):
    """Build the extensions, but fall back to pure Python if the C compiler fails."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler, no headers: install uncompiled
            _warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            _warn(exc)


def _warn(exc: Exception) -> None:
    print(f"alliance-sim: compiling the hot path failed ({exc}); installing it as pure Python "
          "(same results, slower)", file=sys.stderr)


def extensions() -> list:
    if os.environ.get("ALLIANCE_SIM_PURE"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    # No fused multiply-add: the compiled arithmetic rounds exactly as Python's does.
    flags = ["-O2", "-ffp-contract=off"] if os.name != "nt" else []
    exts = [Extension(f"simulation.{m}", [f"simulation/{m}.py"], extra_compile_args=flags) for m in COMPILED]
    return cythonize(exts, compiler_directives={"language_level": 3}, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
