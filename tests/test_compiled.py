"""The compiled hot path (Cython) is in use where it can be, and changes no result.

The modules in ``simulation/build.py`` are compiled by setup.py; ``entities``,
``rupture``, ``session`` and ``service`` carry Cython pure-Python-mode types: one source, run
compiled when the install had a C compiler and as Python otherwise. These tests check
that the C declarations match the Python ones, that a compiled install really runs the
compiled modules (and not stale ones), that the uncompiled source gives the same tables
bit for bit, and that a rupture model written in Python still plugs into the compiled step.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.machinery
import os
import pickle
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
import pytest

import simulation
from simulation import build, entities, session
from simulation.api import load_config
from simulation.rupture import NONE, REPAIR_NONE, RUPTURE_MODELS, RuptureModel, register
from simulation.service import Service

PKG = Path(simulation.__file__).resolve().parent
ROOT = PKG.parent
COMPILED = build.compiled_modules() == list(build.COMPILED)

# Small runs that go through every branch of the session step: ruptures, repairs,
# two-dyad patients, absence with cover, reassignment by the alliance-threshold policy.
CASES = {
    "talking_therapy": ["service=talking_therapy", "run.warmup_days=60", "run.horizon_days=400",
                        "policy=alliance_threshold"],
    "community_team": ["reference=community_team", "turnover=community_team", "turnover.absence_cover=true",
                       "run.warmup_days=60", "run.horizon_days=400"],
}


def _tables(overrides: list[str]) -> dict:
    return Service(load_config(overrides), 3, "check").run()


def test_compiled_modules_is_what_actually_imports():
    """The list in the manifest is the modules that imported as C extensions."""
    ext = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    imported = [m for m in build.COMPILED if importlib.import_module(f"simulation.{m}").__file__.endswith(ext)]
    assert build.compiled_modules() == imported


@pytest.mark.skipif(not COMPILED, reason="the hot path is not compiled here")
def test_an_edited_source_makes_the_import_warn(tmp_path):
    """A stale extension would silently run old code; the package says so on import."""
    src = PKG / "session.py"
    before = src.stat().st_mtime
    try:
        os.utime(src, (before, Path(session.__file__).stat().st_mtime + 10))
        assert build.stale_modules() == ["session"]
        with pytest.warns(RuntimeWarning, match="session.py was edited after it was compiled"):
            build.warn_if_stale()
    finally:
        os.utime(src, (before, before))
    assert build.stale_modules() == []


def test_pxd_declares_every_field_in_order_with_its_type():
    """entities.pxd is the C layout of the dataclasses: a field missing there, or typed
    differently, would silently change what the compiled step reads."""
    text = (PKG / "entities.pxd").read_text()
    # Field types as the dataclass reports them: the annotation uncompiled, and for fields
    # with a default Cython's own C name compiled.
    c_types = {"cython.double": "double", "double": "double", "cython.long": "long", "long": "long",
               "cython.bint": "bint", "bint": "bint", "bool": "bint", "list": "list", "Patient": "Patient", "Clinician": "Clinician"}
    for cls in (entities.Clinician, entities.Patient, entities.Dyad):
        body = re.search(rf"cdef class {cls.__name__}:\n((?:    .*\n)+)", text).group(1)
        declared = re.findall(r"cdef public (\w+) (\w+)", body)
        expected = [(c_types.get(str(f.type), "object"), f.name) for f in dataclasses.fields(cls)]
        assert declared == expected, cls.__name__


@pytest.mark.skipif(os.environ.get("ALLIANCE_SIM_PURE") is not None, reason="pure-Python install asked for")
def test_a_compiler_means_the_hot_path_is_compiled():
    """With a C compiler the install must have built the extensions (a broken build falls back
    to Python silently, so this is where it shows)."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) on this machine: the package runs uncompiled")
    assert build.compiled_modules() == list(build.COMPILED)


@pytest.mark.skipif(not COMPILED, reason="the hot path is not compiled here")
def test_compiled_modules_are_not_older_than_their_sources():
    """A stale extension shadows an edited .py: rebuild with `make` (or `pip install -e .`)."""
    assert build.stale_modules() == []


@pytest.mark.skipif(not COMPILED, reason="the hot path is not compiled here: nothing to compare")
def test_uncompiled_source_gives_identical_tables(tmp_path):
    """The same .py files run as Python (ALLIANCE_SIM_PURE=1): every table equal, values and
    dtypes, to the compiled run (the C arithmetic rounds as Python's does)."""
    out = tmp_path / "pure.pkl"
    script = (
        "import pickle\n"
        "from simulation import build\n"
        "from simulation.api import load_config\n"
        "from simulation.service import Service\n"
        "assert build.compiled_modules() == [], build.compiled_modules()\n"
        f"cases = {CASES!r}\n"
        "out = {k: Service(load_config(v), 3, 'check').run() for k, v in cases.items()}\n"
        f"pickle.dump(out, open({str(out)!r}, 'wb'))\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "ALLIANCE_SIM_PURE": "1"},
                   check=True, timeout=600)
    pure = pickle.loads(out.read_bytes())
    for name, overrides in CASES.items():
        compiled = _tables(overrides)
        assert len(compiled["sessions"]) > 1000
        for table, df in compiled.items():
            pd.testing.assert_frame_equal(df, pure[name][table], check_exact=True, obj=f"{name}.{table}")


class _EveryoneReports(RuptureModel):
    """A model written in Python: no ruptures, but every attended session reports one."""

    calls = 0

    def at_session(self, dyad, clinician, patient, u, j, feedback):
        type(self).calls += 1
        return NONE, REPAIR_NONE, 1


def test_a_rupture_model_written_in_python_is_called_by_the_compiled_step():
    register("test_everyone_reports")(_EveryoneReports)
    try:
        _EveryoneReports.calls = 0
        t = _tables(CASES["talking_therapy"][:3] + ["rupture.model=test_everyone_reports"])
    finally:
        RUPTURE_MODELS.pop("test_everyone_reports")
    s = t["sessions"]
    attended = s[s["attended"]]
    covered = 0  # no absence in this service: every attended session went through the model
    assert _EveryoneReports.calls == len(attended) + covered > 1000
    assert attended["rupture_reported"].all()
    assert (attended["rupture"] == "none").all()
    assert not s.loc[~s["attended"], "rupture_reported"].any()
