"""Issue 18's bad-input classes: every refusal is one line and exit 2, never a traceback or a hang.

The fuzz (hypothesis) drives the command's own entry point in-process: override strings
with schema keys and nasty values, and experiment files of random shapes. Each example
must either be refused with one line (a ConfigError, exit 2) or run correctly. A handful
of real subprocess calls check the installed command end to end.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import api, cli
from simulation.errors import ConfigError
from simulation.resources import estimate
from simulation.validate import schema_keys

EXE = str(Path(sys.executable).parent / "alliance-sim")
TINY = ["experiment=null", "run.replications=1", "run.horizon_days=30", "run.warmup_days=0", "run.progress=false",
        "output.sessions=false"]


def cli_check(argv: list[str], capsys) -> tuple[int, str]:
    """What the command does before Hydra starts: argv rewriting and the check of every job."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cli._precheck(cli.normalise_argv(argv))
    except ConfigError as err:
        with pytest.raises(SystemExit) as info:
            cli._fail(err)
        return info.value.code, capsys.readouterr().err
    return 0, capsys.readouterr().err


def assert_one_line_refusal(code: int, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alliance-sim: invalid config: "), err


# ----------------------------------------------------------------- regressions, in-process
@pytest.mark.parametrize("argv,words", [
    (["'service.disciplines[0].caseload_cap=100000000000000000000'"], "caseload_cap"),
    (["run.name=é"], "run.name"),
    (["service.name=café"], "quote text"),
    (["sérvice.clinicians=3"], "ASCII"),
    (["service.clinicians=${oc.decode:abc}"], "interpolation"),
    (["service.name=${foo"], "interpolation"),
    (["run.name=" + "a" * 5000], "at most 100 characters"),
    (["run.backend=dask", "run.dask.address=not an address"], "tcp://host:8786"),
    (["-m", "run.seed=interval(0,1)"], "optimising sweeper"),
    (["-m", "run.warmup_days=range(0,600)", "run.horizon_days=1000,200"], "warm-up no longer"),
    (["-m", "experiment=default,/nonexistent/list.yaml"], "experiment"),
])
def test_refused_in_one_line(argv, words, capsys):
    argv = [a.strip("'") for a in argv]
    multirun = [a for a in argv if a == "-m"]
    code, err = cli_check(multirun + TINY + [a for a in argv if a != "-m"], capsys)
    assert_one_line_refusal(code, err)
    assert words in err


def test_bracket_key_form_is_accepted_as_the_dotted_form():
    cfg = api.load_config(["service.disciplines[0].caseload_cap=25"])
    assert cfg.service.disciplines[0].caseload_cap == 25


def test_sweep_above_512_combinations_checks_the_interacting_combination():
    # 600 x 2 jobs: every single value is valid; only warm-up > 200 with horizon 200 is not.
    _, fixed, sweeps = cli._sweep_plan(["-m"] + TINY + ["run.warmup_days=range(0,600)", "run.horizon_days=1000,200"])
    with pytest.raises(ConfigError) as info:
        cli.check_sweep(fixed, sweeps)
    assert info.value.key == "run.warmup_days" and info.value.value > 200
    _, fixed, sweeps = cli._sweep_plan(["-m"] + TINY + ["run.seed=range(0,30)", "service.clinicians=range(3,23)"])
    assert cli.check_sweep(fixed, sweeps) == 600


@pytest.mark.parametrize("text,words", [
    ("a: [1, 2\n", "readable YAML"),
    ("- a\n- b\n", "holds a list"),
    ("hello\n", "holds a string"),
    ("5\n", "holds a number"),
    ("baseline: [x]\n", "baseline"),
    ("extra: 5\n", "extra"),
    ("foo: 1\n", "not an experiment key"),
    ("scenarios: {a: 5}\n", "scenarios.a"),
    ("scenarios: [a]\n", "scenarios"),
    ("overrides: run.seed=3\n", "overrides"),
    ("kpis: [no_such_kpi]\n", "kpis"),
])
def test_experiment_file_of_the_wrong_shape_is_refused(tmp_path, text, words, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, err = cli_check(TINY[1:] + [f"experiment={path}"], capsys)
    assert_one_line_refusal(code, err)
    assert words in err


@pytest.mark.parametrize("call,key", [
    (lambda: api.run("not a list"), "overrides"),
    (lambda: api.load_config(None), "overrides"),
    (lambda: api.load_config([1, 2]), "overrides"),
    (lambda: api.run(TINY, out_dir=123), "out_dir"),
    (lambda: api.run(TINY, out_dir=""), "out_dir"),
    (lambda: api.run(TINY, progress="yes"), "progress"),
])
def test_api_names_the_wrong_argument(call, key):
    with pytest.raises(ConfigError) as info:
        call()
    assert info.value.key == key


def test_output_dir_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    for out in (f, f / "sub"):
        with pytest.raises(ConfigError) as info:
            api.run(TINY, out_dir=out)
        assert info.value.key == "out_dir"
    with pytest.raises(ConfigError) as info:
        cli._check_dirs(["hydra.run.dir=" + str(f)])
    assert info.value.key == "hydra.run.dir"


def test_unreachable_scheduler_is_one_line_not_a_30_s_wait():
    with pytest.raises(ConfigError) as info:
        api.run(TINY + ["run.backend=dask", "run.dask.address=tcp://127.0.0.1:1"])
    assert info.value.key == "run.dask.address" and "Dask scheduler" in info.value.allowed


def test_full_disk_mid_run_prints_one_line_saying_chunks_are_kept(tmp_path, capsys):
    cli._RUN["dir"] = tmp_path
    with pytest.raises(SystemExit) as info:
        cli._io_failure(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "patients.parquet")))
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 1 and len(err) == 1
    assert "No space left on device" in err[0] and "finished chunks are kept" in err[0]


# ----------------------------------------------------------------- fuzz
KEYS = [k.replace("[].", ".0.") for k in schema_keys() if k != "experiment"]
NASTY = st.one_of(
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str),
    st.sampled_from(["1e308", "-1e308", "1e-300", "nan", "inf", "-inf", "'nan'", "0", "-1", "", "null", "true",
                     "[1,2", "]", "[]", "[1e308]", "{a: 1}", "${oc.decode:'[1'}", "${run.seed}", "${nope}", "${",
                     "é", "日本", "'ü'", "a b", "\\", "'", "10**20", "tcp://x:1"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=12),
)
KEY = st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS).map(lambda k: k.replace(".0.", "[0].")),
                st.text(min_size=1, max_size=8))


def _outcome(overrides: list[str]) -> None:
    """Refused with a one-line ConfigError, or run to the end (when small enough to run in a test)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, scenarios = api.build_scenarios(overrides)
            cfgs = [s.config for s in scenarios]
            est = estimate(cfgs, cfgs[0].run.replications)
            if est.patients <= 2000 and cfgs[0].run.backend == "local" and not cfgs[0].output.stream_sessions \
                    and not cfgs[0].output.dir and cfgs[0].run.workers == 1:
                api.run(overrides)
    except ConfigError as err:
        assert "\n" not in str(err) and str(err).startswith("invalid config: ")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=KEY, value=NASTY)
def test_fuzz_override_strings(key, value):
    _outcome(TINY + [f"{key}={value}"])


SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
SHAPES = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.sampled_from(["description", "overrides", "baseline", "scenarios", "kpis",
                                               "figures", "extra", "a"]), st.text(max_size=5)), inner, max_size=4)),
    max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=SHAPES, raw=st.one_of(st.none(), st.text(max_size=30)))
def test_fuzz_experiment_files(tmp_path_factory, data, raw):
    path = tmp_path_factory.mktemp("exp") / "fuzz.yaml"
    path.write_text(raw if raw is not None else yaml.safe_dump(data), encoding="utf-8")
    _outcome(TINY[1:] + [f"experiment={path}"])


# ----------------------------------------------------------------- the installed command
@pytest.mark.parametrize("args", [
    ["service.disciplines.0.caseload_cap=100000000000000000000"],
    ["service.disciplines[0].caseload_cap=0"],
    ["run.name=é"],
    ["experiment=/nonexistent/x.yaml"],
    ["-m", "run.seed=interval(0,1)"],
    ["run.backend=dask", "run.dask.address=not an address"],
])
def test_command_refuses_in_one_line(args, tmp_path):
    multirun = [a for a in args if a == "-m"]
    out = subprocess.run([EXE] + multirun + TINY + [a for a in args if a != "-m"]
                         + [f"hydra.run.dir={tmp_path}/r", f"hydra.sweep.dir={tmp_path}/s"],
                         capture_output=True, text=True, timeout=300)
    assert_one_line_refusal(out.returncode, out.stderr)


def test_command_warns_on_an_implausible_value_and_runs(tmp_path):
    out = subprocess.run([EXE] + TINY + ["turnover.annual_rate=10", f"output.dir={tmp_path}/o",
                                         f"hydra.run.dir={tmp_path}/r"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "alliance-sim: WARNING: turnover.annual_rate=10" in out.stderr and "did you mean 0.10" in out.stderr
    assert out.stderr.count("turnover.annual_rate=10") == 1


def test_report_rerun_line_repeats_the_experiment_path_as_given(tmp_path):
    exp = tmp_path / "my_figure.yaml"
    exp.write_text("scenarios:\n  base: []\n  more: [service.clinicians=12]\n")
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api.run(TINY[1:] + [f"experiment={exp}"], out_dir=out)
        from analysis.report import build_report

        build_report(out)
    text = (out / "report.md").read_text()
    assert f"alliance-sim experiment={exp} " in text and "experiment=my_figure " not in text


def test_overflow_at_run_time_becomes_one_line_naming_the_implausible_keys(monkeypatch):
    def overflow(*args, **kwargs):
        raise OverflowError("math range error")

    monkeypatch.setattr(api, "run_scenarios", overflow)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError) as info:
            api.run(TINY + ["dropout.wait_per_week=-5"])
    assert "\n" not in str(info.value) and "dropout.wait_per_week" in info.value.allowed


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only /sys (Linux)")
def test_run_directory_on_a_read_only_file_system_is_refused_before_the_run(capsys):
    for argv, key in ((["hydra.run.dir=/sys/alliance-sim-x"], "hydra.run.dir"),
                      (["-m", "hydra.sweep.dir=/sys/alliance-sim-y"], "hydra.sweep.dir")):
        with pytest.raises(ConfigError) as info:
            cli._check_dirs(argv)
        assert info.value.key == key and "write" in info.value.allowed
    with pytest.raises(ConfigError) as info:
        api.run(TINY, out_dir="/sys/alliance-sim-z")
    assert info.value.key == "out_dir"
