"""A saved run directory, read back: tables, manifest and what the experiment asked for."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from analysis.labels import readable, scenario_label
from simulation.io import read_manifest
from simulation.kpis import default_kpis, is_kpi, kpi_columns
from simulation.runner import load_run


@dataclass
class RunData:
    """One run directory's tables and manifest, with what its experiment asked for."""

    run_dir: Path
    tables: dict[str, pd.DataFrame]
    manifest: dict
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # files beside the tables (calibration)
    # Tables analysis derives from the run (e.g. the trial emulation), computed once and shared by the
    # report's sections and figures.
    analysis_tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: str | Path) -> "RunData":
        """Read a finished run directory (FileNotFoundError if it has no manifest)."""
        run_dir = Path(run_dir)
        if not (run_dir / "manifest.json").exists():
            raise FileNotFoundError(f"{run_dir} has no manifest.json: not a finished run directory")
        tables = load_run(run_dir)
        extra = {}
        calib = run_dir / "calibration.csv"
        if calib.exists():
            extra["calibration"] = pd.read_csv(calib)
        return cls(run_dir=run_dir, tables=tables, manifest=read_manifest(run_dir), extra_tables=extra)

    @classmethod
    def from_results(cls, res) -> "RunData":
        """A run held in memory (``simulation.api`` Results), so figures draw without a run directory."""
        if res.manifest.get("completed"):  # written to disk: the manifest has it all
            return cls(run_dir=Path(res.run_dir), tables=dict(res.tables), manifest=res.manifest)
        exp = getattr(res, "experiment", None)
        manifest = {
            "completed": True,
            "seed": res.scenarios[0].config.run.seed if res.scenarios else None,
            "scenarios": {s.name: {"overrides": list(s.overrides), "config": dataclasses.asdict(s.config)}
                          for s in res.scenarios},
            "experiment": exp.name if exp else None, "baseline": exp.baseline if exp else None,
            "description": exp.description if exp else "", "kpis": exp.kpis if exp else [],
            "figures": exp.figures if exp else [], "experiment_extra": exp.extra if exp else {},
            **res.manifest,
        }
        return cls(run_dir=Path(res.run_dir or "."), tables=dict(res.tables), manifest=manifest)

    # -------------------------------------------------------------- what was run
    @property
    def experiment(self) -> str:
        """The experiment's name (or "(single scenario)")."""
        return self.manifest.get("experiment") or "(single scenario)"

    @property
    def title(self) -> str:
        """The experiment's human title: ``extra.title``, else derived from its name."""
        t = self.extra.get("title")
        if t:
            return str(t)
        name = self.manifest.get("experiment")
        return readable(name) if name else "Single scenario"

    @property
    def scenarios(self) -> list[str]:
        """Scenario names in the experiment's order."""
        # The kpis table keeps the experiment's order (manifest.json sorts its keys).
        names = list(dict.fromkeys(self.tables["kpis"]["scenario"])) if "kpis" in self.tables else []
        names = names or list(self.manifest.get("scenarios", {}))
        return [s for s in names if s not in self.sensitivity_scenarios]

    @property
    def sensitivity_scenarios(self) -> set[str]:
        """Scenarios added only for the sensitivity analysis (left out of the KPI and difference tables)."""
        pts = self.extra.get("sensitivity_points") or []
        return {n for p in pts for n in (p["scenario"], p["reference"]) if str(n).startswith("sens_")}

    def label(self, scenario: Optional[str]) -> str:
        """A scenario's human label (``extra.labels``, else derived from its name)."""
        return scenario_label(str(scenario), self.extra.get("labels"))

    @property
    def baseline(self) -> Optional[str]:
        """The scenario the others are compared with."""
        b = self.manifest.get("baseline")
        return b if b in self.scenarios else (self.scenarios[0] if self.scenarios else None)

    @property
    def extra(self) -> dict:
        """The experiment's ``extra`` settings."""
        return dict(self.manifest.get("experiment_extra") or {})

    @property
    def kpi_names(self) -> list[str]:
        """The experiment's KPIs as kpis-table columns (per-discipline names expanded)."""
        asked = list(self.manifest.get("kpis") or [])
        cols = list(self.tables.get("kpis", pd.DataFrame()).columns)
        return kpi_columns(default_kpis(asked), cols) or kpi_columns(default_kpis(), cols)

    @property
    def all_kpis(self) -> list[str]:
        """Every KPI column of the kpis table."""
        return [c for c in self.tables.get("kpis", pd.DataFrame()).columns if is_kpi(c)]

    @property
    def replications(self) -> int:
        """Replications per scenario."""
        k = self.tables.get("kpis")
        return int(k.groupby("scenario").size().max()) if k is not None and len(k) else 0

    @property
    def seed(self):
        """The run's master seed."""
        return self.manifest.get("seed")

    @property
    def landmark_session(self) -> int:
        """Retention by rupture status: the landmark attended session (``extra.landmark_session``, default 3)."""
        return int(self.extra.get("landmark_session", 3))

    @property
    def rupture_scenario(self) -> Optional[str]:
        """The scenario whose patients feed the rupture-status figures (``extra.rupture_scenario``, else baseline)."""
        s = self.extra.get("rupture_scenario")
        return s if s in self.scenarios else self.baseline

    def config(self, scenario: Optional[str] = None) -> dict:
        """A scenario's resolved configuration (the baseline's by default)."""
        sc = self.manifest.get("scenarios", {})
        name = scenario or self.baseline
        return (sc.get(name) or {}).get("config", {})

    def overrides(self, scenario: str) -> list[str]:
        """A scenario's override list."""
        return list((self.manifest.get("scenarios", {}).get(scenario) or {}).get("overrides", []))

    def has(self, table: str) -> bool:
        """Whether the run saved a non-empty ``table``."""
        return table in self.tables and len(self.tables[table]) > 0
