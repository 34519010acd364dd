"""Python entry points: compose a config with overrides and run it, no Hydra runtime.

    from simulation.api import run
    res = run(["service.clinicians=12", "run.replications=3"])
    res.patients.head()
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from .config import Config, register_schema, to_config
from .errors import ConfigError
from .experiment import Experiment, load_experiment, merge_overrides, override_key
from .rundir import run_dir_lock
from .runner import Results, Scenario, run_scenarios, write_run
from .summary import summarise
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


def load_config(overrides: Sequence[str] = ()) -> Config:
    """A validated typed :class:`Config`; bad input raises :class:`ConfigError`."""
    from .config_errors import check_known_keys, from_composition

    try:
        cfg = compose(overrides)
        check_known_keys(cfg, overrides)
        typed = to_config(cfg)
    except ConfigError:
        raise
    except Exception as exc:  # Hydra/OmegaConf composition errors: unknown key, bad type, bad option
        raise from_composition(exc, overrides) from None
    return validate(typed)


def build_scenarios(overrides: Sequence[str] = ()) -> tuple[Optional[Experiment], list[Scenario]]:
    """Scenarios for these overrides: the experiment's, or the single configured one."""
    overrides = [o for o in overrides if not override_key(o).startswith("hydra")]
    top = load_config(overrides)
    if not top.experiment:
        return None, [Scenario(top.run.name, top, list(overrides))]
    exp = load_experiment(top.experiment)
    scenarios = []
    for name, sc_over in exp.scenarios.items():
        merged = merge_overrides(exp.overrides, overrides, sc_over, [f"run.name={name}"])
        try:
            cfg = load_config(merged)
        except ConfigError as err:
            raise ConfigError(f"experiment {exp.name}, scenario {name}: {err.key}", err.value, err.allowed) from None
        scenarios.append(Scenario(name, cfg, merged))
    if len({s.config.run.replications for s in scenarios}) != 1:
        raise ConfigError("run.replications", [s.config.run.replications for s in scenarios],
                          "the same number of replications in every scenario")
    return exp, scenarios


def run(overrides: Sequence[str] = (), out_dir: Optional[str | Path] = None,
        progress: bool = False) -> Results:
    """Run the configured experiment (or single scenario) and return its tables.

    With ``out_dir`` the tables, summary and manifest are written there (and finished
    chunks are reused on a rerun); without it nothing touches the disk. The directory is
    locked while the run writes it: another process gets RunDirInUse (a ConfigError).
    """
    exp, scenarios = build_scenarios(overrides)
    base = scenarios[0].config
    run_dir = Path(out_dir) if out_dir is not None else (Path(base.output.dir) if base.output.dir else None)
    with run_dir_lock(run_dir):  # one run per directory, from its first chunk to its manifest
        res = run_scenarios(scenarios, base.run.replications, run_dir=run_dir, workers=base.run.workers,
                            backend=base.run.backend, dask_address=base.run.dask.address, progress=progress)
        res.tables["summary"] = summarise(res.tables["kpis"], baseline=exp.baseline if exp else None,
                                          scenario_order=[s.name for s in scenarios])
        res.experiment = exp
        if run_dir is not None:
            write_run(res, run_dir, fmt=base.output.format,
                      extra={"experiment": exp.name if exp else None,
                             "baseline": exp.baseline if exp else None,
                             "description": exp.description if exp else "",
                             "kpis": exp.kpis if exp else [], "figures": exp.figures if exp else [],
                             "experiment_extra": exp.extra if exp else {}})
    return res


def config_yaml(cfg: Config) -> str:
    """The typed config as YAML (what the manifest records, for reading)."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))
