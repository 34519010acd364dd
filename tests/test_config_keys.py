"""Every config key does something, moved keys say where they went, and the front doors
(``alliance-sim --help``, ``make run KEY=VALUE``) tell a new user the truth."""

from __future__ import annotations

import ast
import dataclasses
import os
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from simulation.api import load_config
from simulation.config import Config
from simulation.config_errors import MOVED, field_hint
from simulation.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "alliance-sim")

# Schema files: they declare and check keys, so a key read only there does nothing.
SCHEMA_FILES = {"simulation/config.py", "simulation/validate.py"}
# Leaf keys legitimately read by no attribute access in simulation/ or analysis/, with why.
NOT_READ_BY_MODEL: dict[str, str] = {
    "population.severity_scale": "a label naming the questionnaire (PHQ-9, HoNOS) for readers of the config and "
                                 "the manifest; the numbers that use the scale are severity_max, caseness, ...",
}


def leaf_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every leaf key path of the schema (list items of dataclasses as ``[]``)."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint, key = hints[f.name], f"{prefix}{f.name}"
        args = typing.get_args(hint)
        if dataclasses.is_dataclass(hint):
            out += leaf_keys(hint, key + ".")
        elif typing.get_origin(hint) is list and args and dataclasses.is_dataclass(args[0]):
            out += leaf_keys(args[0], key + "[].")
        else:
            out.append(key)
    return out


def attributes_read(files: list[Path]) -> set[str]:
    """Names read as attributes (``x.name``, or ``getattr(x, "name")``) anywhere in these files."""
    names: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                names.add(node.attr)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                  and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
                names.add(str(node.args[1].value))
    return names


def model_files() -> list[Path]:
    """Python sources of simulation/ and analysis/ except the schema files."""
    files = sorted((ROOT / "simulation").rglob("*.py")) + sorted((ROOT / "analysis").rglob("*.py"))
    return [f for f in files if str(f.relative_to(ROOT)) not in SCHEMA_FILES]


def unread_keys(schema: type = Config) -> list[str]:
    """Leaf keys of ``schema`` whose name no model code reads."""
    read = attributes_read(model_files())
    return [k for k in leaf_keys(schema) if k.rsplit(".", 1)[-1] not in read and k not in NOT_READ_BY_MODEL]


def test_every_schema_key_is_read_by_model_code():
    """A key that no code outside the schema reads does nothing: wire it in or remove it."""
    unread = unread_keys()
    assert not unread, (f"config keys read by no code in simulation/ or analysis/ (outside config.py and "
                        f"validate.py): {', '.join(unread)}; read them, remove them, or list them in "
                        f"NOT_READ_BY_MODEL with a reason")
    stale = [k for k in NOT_READ_BY_MODEL if k not in leaf_keys()]
    assert not stale, f"NOT_READ_BY_MODEL lists keys the schema no longer has: {stale}"


def test_the_unread_key_check_catches_a_new_unused_key():
    """By construction: a schema with one more, unread, key fails the check."""
    @dataclasses.dataclass
    class Extra(Config):
        nobody_reads_this_key_xyz: float = 0.0  # noqa: the point of the test

    assert unread_keys(Extra) == ["nobody_reads_this_key_xyz"]


def test_population_trait_distributions_are_applied():
    """engagement/sensitivity mean and SD shift and scale the patients' scores (they once were ignored)."""
    from simulation.api import run

    base = ["experiment=null", "run.replications=1", "run.horizon_days=120", "run.warmup_days=0",
            "run.progress=false", "output.sessions=false"]
    a = run(base).patients
    b = run(base + ["population.engagement_logit_mean=-3"]).patients
    c = run(base + ["population.sensitivity_logit_mean=1", "population.sensitivity_logit_sd=0.5"]).patients
    # Same patients (common random numbers); far lower engagement gives more DNAs, higher
    # sensitivity more ruptures per attended session.
    assert len(a) == len(b) == len(c)
    assert (a["baseline_severity"].to_numpy() == b["baseline_severity"].to_numpy()).all()
    assert b["dnas"].sum() > 1.5 * a["dnas"].sum()

    def per_session(p):
        return p["ruptures"].sum() / p["sessions_attended"].sum()

    assert per_session(c) > 1.2 * per_session(a)


def test_readme_caseload_cap_command_changes_the_cap():
    """README: `alliance-sim reference=community_team service.disciplines.0.caseload_cap=25`."""
    from simulation.api import run

    res = run(["experiment=null", "reference=community_team", "service.disciplines.0.caseload_cap=25",
               "run.replications=1", "run.warmup_days=0", "run.horizon_days=30", "run.progress=false",
               "output.sessions=false"])
    caps = res.clinicians.groupby("discipline")["caseload_cap"].unique().to_dict()
    assert list(caps["care_coordinator"]) == [25] and list(caps["psychiatrist"]) == [180]


# --------------------------------------------------------------------------- moved keys
def test_moved_keys_point_at_existing_new_keys():
    for old, new in MOVED.items():
        assert field_hint(old) is None, f"{old} is still a schema key"
        for key in new:
            assert field_hint(key) is not None, f"{old} -> {key}: not a schema key"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_key_raises_config_error_naming_the_new_key(old):
    with pytest.raises(ConfigError) as info:
        load_config([f"{old}=2"])
    err = info.value
    assert err.key == old and err.value == "2"
    assert err.allowed.startswith(f"moved to {MOVED[old][0]}") and f"{MOVED[old][0]}=2" in err.allowed
    assert "\n" not in str(err)


def test_old_key_with_plus_or_under_a_group_option_names_the_new_key():
    with pytest.raises(ConfigError, match="moved to intervention.training_share"):
        load_config(["+rupture.training_share=0.3"])
    with pytest.raises(ConfigError, match="moved to policy.alliance_threshold.threshold or "
                                          "policy.patient_request.threshold"):
        load_config(["policy=alliance_threshold", "policy.threshold=2.5"])


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args, f"hydra.run.dir={tmp_path / 'h'}"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)


@pytest.mark.parametrize("args,line", [
    (["rupture.training_share=0.3"], "alliance-sim: invalid config: rupture.training_share='0.3': moved to "
                                     "intervention.training_share; e.g. intervention.training_share=0.3"),
    (["policy=patient_request", "policy.threshold=2.5"],
     "alliance-sim: invalid config: policy.threshold='2.5': moved to policy.alliance_threshold.threshold or "
     "policy.patient_request.threshold (each reassignment policy has its own section); "
     "e.g. policy.alliance_threshold.threshold=2.5"),
])
def test_cli_old_key_prints_one_line_naming_the_new_key(args, line, tmp_path):
    proc = _cli(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == line
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "h").exists(), "nothing may run before the check"


# --------------------------------------------------------------------------- --help
def test_help_starts_with_experiments_groups_and_common_keys(tmp_path):
    from simulation.cli_help import COMMON_KEYS, groups
    from simulation.experiment import available

    proc = subprocess.run([EXE, "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    hydra = out.index("Powered by Hydra")  # Hydra's own page comes after ours
    page = out[:hydra]
    assert page.startswith("alliance-sim: ")
    for name in available():
        assert f"\n  {name} " in page
    assert "\n  default " in page and "What `alliance-sim` (and `make run`) runs" in page
    for g in groups():
        assert f"\n  {g} " in page
    assert "repair_training" in page and "community_team" in page and "talking_therapy*" in page
    for key, _ in COMMON_KEYS:
        assert key in page


def test_help_page_common_keys_are_real_keys():
    from simulation.cli_help import COMMON_KEYS

    for example, _ in COMMON_KEYS:
        key = example.split("=", 1)[0]
        assert field_hint(key) is not None, f"{key} is not a schema key"
        if "PATH" not in example:
            load_config([example])  # each example is a valid override


# --------------------------------------------------------------------------- make run
def _make_dry_run(*args: str) -> subprocess.CompletedProcess:
    # A clean environment: under `make test` the outer ARGS reaches this make (in MAKEFLAGS and as a variable).
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "ARGS", "PYTHON")}
    return subprocess.run(["make", "-n", "run", *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def _run_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(".venv/bin/alliance-sim")]
    assert len(lines) == 1, proc.stdout + proc.stderr
    return lines[0]


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@needs_make
def test_make_run_forwards_config_overrides_in_order():
    proc = _make_dry_run("experiment=repair_and_dropout", "run.replications=2", "service.care_weights=[0.5, 0.5]",
                         "+rupture.x=1", "ARGS=run.seed=7 -m")
    assert proc.returncode == 0, proc.stderr
    assert _run_line(proc) == (".venv/bin/alliance-sim 'experiment=repair_and_dropout' 'run.replications=2' "
                               "'service.care_weights=[0.5, 0.5]' '+rupture.x=1' run.seed=7 -m")


@needs_make
def test_make_run_with_args_only_and_with_nothing():
    assert _run_line(_make_dry_run("ARGS=reference=community_team")) == \
        ".venv/bin/alliance-sim  reference=community_team"
    assert _run_line(_make_dry_run()).split() == [".venv/bin/alliance-sim"]


@needs_make
def test_make_run_stops_on_a_word_that_is_not_a_config_override():
    proc = _make_dry_run("experiment=default", "replications=2")
    assert proc.returncode != 0
    assert "replications=2 is neither a config key" in proc.stderr and 'ARGS="..."' in proc.stderr
    assert ".venv/bin/alliance-sim" not in proc.stdout
