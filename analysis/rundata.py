"""A saved run directory, read back: tables, manifest and what the experiment asked for."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from simulation.io import read_manifest
from simulation.kpis import KPI_INFO, KPI_NAMES
from simulation.runner import load_run

# KPIs shown when an experiment does not name its own.
DEFAULT_KPIS = ("dropout_rate", "recovery_rate", "mean_sessions", "mean_wait_weeks", "rupture_patient_share",
                "repair_share")


@dataclass
class RunData:
    """A run's tables and manifest, as the report and the figures read them."""

    run_dir: Path
    tables: dict[str, pd.DataFrame]
    manifest: dict
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: str | Path) -> "RunData":
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
        return self.manifest.get("experiment") or "(single scenario)"

    @property
    def scenarios(self) -> list[str]:
        # The kpis table keeps the experiment's order (manifest.json sorts its keys).
        names = list(dict.fromkeys(self.tables["kpis"]["scenario"])) if "kpis" in self.tables else []
        return names or list(self.manifest.get("scenarios", {}))

    @property
    def baseline(self) -> Optional[str]:
        b = self.manifest.get("baseline")
        return b if b in self.scenarios else (self.scenarios[0] if self.scenarios else None)

    @property
    def extra(self) -> dict:
        return dict(self.manifest.get("experiment_extra") or {})

    @property
    def kpi_names(self) -> list[str]:
        asked = [k for k in (self.manifest.get("kpis") or []) if k in KPI_INFO]
        return asked or list(DEFAULT_KPIS)

    @property
    def all_kpis(self) -> list[str]:
        return [k for k in KPI_NAMES if k in self.tables.get("kpis", pd.DataFrame()).columns]

    @property
    def replications(self) -> int:
        k = self.tables.get("kpis")
        return int(k.groupby("scenario").size().max()) if k is not None and len(k) else 0

    @property
    def seed(self):
        return self.manifest.get("seed")

    def config(self, scenario: Optional[str] = None) -> dict:
        sc = self.manifest.get("scenarios", {})
        name = scenario or self.baseline
        return (sc.get(name) or {}).get("config", {})

    def overrides(self, scenario: str) -> list[str]:
        return list((self.manifest.get("scenarios", {}).get(scenario) or {}).get("overrides", []))

    def has(self, table: str) -> bool:
        return table in self.tables and len(self.tables[table]) > 0
