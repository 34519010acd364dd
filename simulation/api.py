"""Python entry points: compose a config with overrides and run it, no Hydra runtime.

    from simulation.api import run
    res = run(["service.clinicians=12", "run.replications=3"])
    res.patients.head()
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from .config import Config, register_schema, to_config
from .errors import NO_VALUE, ConfigError
from .experiment import Experiment, load_experiment, merge_overrides, override_key
from .rundir import run_dir_lock
from .runner import Results, Scenario, run_scenarios, write_run
from .summary import summarise
from .parameters import with_values
from .validate import validate

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``configs/config.yaml`` with overrides (works inside or outside a Hydra app)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_schema()
    if GlobalHydra.instance().is_initialized():
        return hydra_compose(config_name="config", overrides=list(overrides))
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def _override_list(overrides: object, arg: str = "overrides") -> list[str]:
    """The overrides as a list of strings, or ConfigError naming the argument."""
    if isinstance(overrides, (str, bytes)) or not isinstance(overrides, (list, tuple)):
        raise ConfigError(arg, overrides, "a list of override strings, e.g. ['run.replications=3']")
    for o in overrides:
        if not isinstance(o, str):
            raise ConfigError(arg, list(overrides), "a list of override strings, e.g. ['run.replications=3'] "
                                                    f"({o!r} is not a string)")
    from .config_errors import check_override_text

    return [check_override_text(o) for o in overrides]


def load_config(overrides: Sequence[str] = ()) -> Config:
    """A validated typed :class:`Config`; bad input raises :class:`ConfigError`."""
    from .bounds import warn_implausible
    from .config_errors import check_known_keys, from_composition

    overrides = _override_list(overrides)
    try:
        cfg = compose(overrides)
        check_known_keys(cfg, overrides)
        typed = to_config(cfg)
    except ConfigError:
        raise
    except Exception as exc:  # Hydra/OmegaConf composition errors: unknown key, bad type, bad option
        raise from_composition(exc, overrides) from None
    validate(typed)
    warn_implausible(typed)
    return typed


def build_scenarios(overrides: Sequence[str] = ()) -> tuple[Optional[Experiment], list[Scenario]]:
    """Scenarios for these overrides: the experiment's, or the single configured one."""
    overrides = [o for o in _override_list(overrides) if not override_key(o).startswith("hydra")]
    top = load_config(overrides)
    if not top.experiment:
        scenarios = [Scenario(top.run.name, top, list(overrides))]
        check_scenarios(scenarios)
        return None, scenarios
    exp = load_experiment(top.experiment)
    scenarios = []
    for name, sc_over in exp.scenarios.items():
        merged = merge_overrides(exp.overrides, overrides, sc_over, [f"run.name={name}"])
        try:
            cfg = load_config(merged)
        except ConfigError as err:
            raise ConfigError(f"experiment {exp.name}, scenario {name}: {err.key}", err.value, err.allowed) from None
        scenarios.append(Scenario(name, cfg, merged))
    check_scenarios(scenarios)
    return exp, scenarios


def check_scenarios(scenarios: Sequence[Scenario]) -> None:
    """Checks across a run's scenarios: equal replications, and an estimated size this machine can hold."""
    from .resources import check_memory

    if len({s.config.run.replications for s in scenarios}) != 1:
        raise ConfigError("run.replications", [s.config.run.replications for s in scenarios],
                          "the same number of replications in every scenario")
    base = scenarios[0].config.run
    check_memory([s.config for s in scenarios], base.replications, base.workers, base.max_memory_gb)


def run(overrides: Sequence[str] = (), out_dir: Optional[str | Path] = None,
        progress: bool = False) -> Results:
    """Run the configured experiment (or single scenario) and return its tables.

    With ``out_dir`` the tables, summary and manifest are written there (and finished
    chunks are reused on a rerun); without it nothing touches the disk. The directory is
    locked while the run writes it: another process gets RunDirInUse (a ConfigError).
    """
    if out_dir is not None and (not isinstance(out_dir, (str, PathLike)) or not str(out_dir).strip()):
        raise ConfigError("out_dir", out_dir, "a non-empty directory path (str or pathlib.Path), or None to "
                                              "keep the tables in memory only")
    if not isinstance(progress, bool):
        raise ConfigError("progress", progress, "true or false")
    exp, scenarios = build_scenarios(overrides)
    return run_built(exp, scenarios, out_dir=out_dir, progress=progress)


def run_built(exp: Optional[Experiment], scenarios: Sequence[Scenario], out_dir: Optional[str | Path] = None,
              progress: bool = False, pool=None) -> Results:
    """Run scenarios already built (by :func:`build_scenarios` or :func:`with_values`); ``pool``: a warm executor."""
    from .resources import check_scheduler, check_writable_dir

    scenarios = list(scenarios)
    base = scenarios[0].config
    run_dir = Path(out_dir) if out_dir is not None else (Path(base.output.dir) if base.output.dir else None)
    if run_dir is not None:
        check_writable_dir("out_dir" if out_dir is not None else "output.dir", run_dir)
    if base.run.backend == "dask" and base.run.dask.address:
        check_scheduler(base.run.dask.address)
    with run_dir_lock(run_dir):  # one run per directory, from its first chunk to its manifest
        try:
            res = run_scenarios(scenarios, base.run.replications, run_dir=run_dir, workers=base.run.workers,
                                backend=base.run.backend, dask_address=base.run.dask.address, progress=progress,
                                pool=pool)
        except (ArithmeticError, ValueError) as exc:
            if isinstance(exc, ConfigError) or not _is_arithmetic(exc):
                raise
            raise arithmetic_error(exc, scenarios) from None
        res.tables["summary"] = summarise(res.tables["kpis"], baseline=exp.baseline if exp else None,
                                          scenario_order=[s.name for s in scenarios])
        res.experiment = exp
        if run_dir is not None:
            write_run(res, run_dir, fmt=base.output.format,
                      extra={"experiment": exp.name if exp else None,
                             "experiment_source": exp.source if exp else None,
                             "baseline": exp.baseline if exp else None,
                             "description": exp.description if exp else "",
                             "kpis": exp.kpis if exp else [], "figures": exp.figures if exp else [],
                             "experiment_extra": exp.extra if exp else {}})
    return res


def _is_arithmetic(exc: BaseException) -> bool:
    """Whether a run failed on arithmetic (overflow, NaN or infinity reaching an integer, a math domain)."""
    if isinstance(exc, ArithmeticError):
        return True
    text = str(exc)
    return any(t in text for t in ("math domain", "NaN", "infinity", "math range"))


def arithmetic_error(exc: BaseException, scenarios: Sequence[Scenario]) -> ConfigError:
    """A one-line error naming the parameters most likely behind an overflow at run time."""
    import traceback

    from .bounds import implausible, numeric_fields

    suspects = [m.split(":", 1)[0] for s in scenarios for m in implausible(s.config)]
    if not suspects:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "simulation" in f.filename]
        line = frames[-1].line if frames else ""
        suspects = [key for key, _, name in numeric_fields(Config) if line and f".{name}" in line]
    named = ", ".join(dict.fromkeys(suspects)) or "the numeric parameters"
    return ConfigError("parameters", NO_VALUE,
                       f"the model's arithmetic left the finite range at run time ({type(exc).__name__}: {exc}); "
                       f"check {named}")


# --------------------------------------------------------------------------- compose once, vary many times
def prepare(overrides: Sequence[str] = ()) -> Config:
    """Compose and validate once (about 0.3 s); vary it with :func:`with_values` and run it with :func:`run_config`."""
    return load_config([o for o in overrides if not override_key(o).startswith("hydra")])


def run_config(cfg: Config, replications: Sequence[int] | int = 1, scenario: Optional[str] = None,
               values: Optional[dict] = None) -> dict:
    """The tables of ``cfg`` (optionally with ``values`` set) for these replication ids, serially, no disk.

    ``replications`` is a count (ids 0..n-1, as a run uses) or explicit ids, e.g. the
    fit's ids from 10_000 that never overlap a report's. Same tables as :func:`run` with
    the same overrides, without Hydra's composition cost per call.
    """
    from .runner import gather, run_chunk

    if values:
        cfg = with_values(cfg, values)
    reps = range(int(replications)) if isinstance(replications, int) else [int(r) for r in replications]
    name = scenario if scenario is not None else cfg.run.name
    return gather([run_chunk(cfg, name, r) for r in reps])


def config_yaml(cfg: Config) -> str:
    """The typed config as YAML (what the manifest records, for reading)."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))
