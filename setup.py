"""Build: compile the hot path with Cython when a C compiler is available.

The modules listed in ``simulation/build.py`` are compiled; ``entities``, ``rupture``,
``session`` and ``service`` carry Cython pure-Python-mode types (and ``.pxd`` files), the
others are compiled as they are. The same files run as ordinary Python: with a compiler
(gcc or clang, and the Python headers) pip builds C extensions, 2-2.5 times as fast;
without one the build warns and the package installs as pure Python with identical results.
``ALLIANCE_SIM_PURE=1`` at install time skips compilation on purpose.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

def _compiled() -> list[str]:
    """The module list in simulation/build.py (read, not imported: the package may not import yet)."""
    import ast

    tree = ast.parse(open(os.path.join("simulation", "build.py")).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED":
            return list(ast.literal_eval(node.value))
    raise RuntimeError("COMPILED not found in simulation/build.py")


COMPILED = _compiled()


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
