"""What the page asks of the model: settings in, runs through ``simulation.api``, figures and tables out.

No Streamlit here (the benchmark and the tests call it directly). Every config key, KPI and
figure name the page uses is in the mappings just below, so a renamed key changes here only.
"""

from __future__ import annotations

import io
import json
import math
import re
import shlex
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

# ----------------------------------------------------------------------------- names (edit here on a rename)
KEYS = {
    "reference": "reference",  # config group: talking_therapy (A) | community_team (B)
    "experiment": "experiment",
    "seed": "run.seed",
    "replications": "run.replications",
    "horizon_days": "run.horizon_days",
    "workers": "run.workers",
    "progress": "run.progress",
    "name": "run.name",
    "sessions": "output.sessions",
    "repair_skill": "clinicians.repair_logit_mean",
    "trained_share": "intervention.training_share",
    "monitoring_every": "intervention.monitoring_every",
    "rupture_sensitivity": "rupture.sensitivity",
    "primary_posts": "service.clinicians",  # posts of the first discipline (None: disciplines[0].count)
    "disciplines": "service.disciplines",  # list of disciplines, each with the two fields below
    "discipline_name": "name",
    "discipline_posts": "count",
    "turnover": "turnover.annual_rate",
    "reassignment": "policy.reassignment",
    "on_leave": "policy.on_leave",
}
REFERENCES = {"talking_therapy": "A: talking therapy (outpatient, weekly)",
              "community_team": "B: community mental health team"}
KPIS = {
    "dropout": "dropout_rate",
    "recovery": "reliable_recovery_rate",
    "repaired": "repair_share",
    "ruptured": "rupture_patient_share",
    "sessions": "mean_sessions",
    "wait": "mean_wait_weeks",
    "waiting": "mean_waiting",
    "caseload": "mean_caseload",
    "utilisation": "utilisation",
    "reassignments": "reassignments_per_100",
}
SCREEN_DPI = 100  # figures on the page: a screen needs less than the report's print resolution
FIGURES = {"differences": "differences", "kpis": "kpis", "retention": "retention",
           "by_rupture": "retention_by_rupture", "trajectories": "trajectories", "service": "service"}
TEACH_KPIS = ("dropout", "recovery", "repaired", "ruptured")
# The teach view's figures, in the order drawn (the numbers above them come first).
TEACH_FIGURES = ("by_rupture", "trajectories", "differences")
PLAN_KPIS = ("dropout", "recovery", "wait", "waiting", "caseload", "utilisation", "reassignments")
USUAL, YOURS = "usual_care", "your_settings"  # teach-view scenarios
CURRENT, PLAN = "current", "plan"  # plan-view scenarios
# The teach view: reference A, 2 measured years, session table on (for the rupture figures).
TEACH_BASE = (f"{KEYS['reference']}=talking_therapy", f"{KEYS['horizon_days']}=730", f"{KEYS['sessions']}=true",
              f"{KEYS['progress']}=false", f"{KEYS['workers']}=1")
TEACH_REPLICATIONS = 4
# The page runs a teach run's chunks (2 scenarios x replications) on warm spawned processes, one per core;
# 8 chunks gain little beyond 4 processes, and each holds 300–350 MB after a run and its figures (measured).
APP_WORKERS_MAX = 4
PLAN_REPLICATIONS = 4
RUN_TABLE_EXCLUDE = ("chunks",)  # left out of the downloaded zip: per-chunk copies of the tables

_COMPOSE = threading.Lock()  # Hydra's compose API is a process-wide singleton
_DRAW = threading.Lock()  # matplotlib's pyplot is not thread-safe (several browsers, one server)


# ----------------------------------------------------------------------------- errors and settings
def error_line(err: Exception) -> str:
    """The one line the CLI prints for this mistake (ConfigError), or the error's own message."""
    from simulation.cli import format_error
    from simulation.errors import ConfigError

    if isinstance(err, ConfigError):
        return format_error(err)
    return f"alliance-sim: {err}"


def parse_settings(text: str) -> tuple[str, ...]:
    """``key=value`` settings typed into the page, split as a shell would."""
    from simulation.errors import ConfigError

    try:
        return tuple(shlex.split(text or ""))
    except ValueError as exc:
        raise ConfigError("settings", text, f"key=value pairs separated by spaces ({exc})") from None


def get_value(cfg, key: str) -> Any:
    """A dotted key's value in a typed Config."""
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


@lru_cache(maxsize=32)
def _composed(overrides: tuple[str, ...]):
    from simulation.api import load_config

    return load_config(list(overrides))


def base_config(overrides: tuple[str, ...]):
    """The composed, validated Config for these overrides, composed once per distinct list (cached)."""
    with _COMPOSE:
        return _composed(tuple(overrides))


def vary(cfg, values: dict[str, Any]):
    """``cfg`` with these dotted keys set and validated (no new composition)."""
    from simulation.api import with_values

    return with_values(cfg, values)


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_WORDS = {"null", "true", "false", "nan", "inf", "none", "yes", "no", "on", "off"}


def literal(v: Any) -> str:
    """A value written as a Hydra override literal (lists and mappings included)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{literal(x)}" for k, x in v.items()) + "}"
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _WORDS:  # as a user would type it (same error text as the CLI)
        return s
    s = s.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{s}'"


def overrides_of(values: dict[str, Any]) -> list[str]:
    """``key=value`` overrides for these values (what the CLI would be given)."""
    return [f"{k}={literal(v)}" for k, v in values.items()]


# ----------------------------------------------------------------------------- figures and tables
@dataclass
class Figure:
    """A drawn figure: title, PNG bytes and caption (or why it was skipped: png None)."""

    name: str
    title: str
    png: Optional[bytes]
    caption: str


def figure_title(name: str) -> str:
    """A figure's title, as its registry entry gives it (the report uses the same)."""
    from analysis.figures import FIGURES

    entry = FIGURES.get(name)
    return entry.title if entry is not None else name.replace("_", " ").capitalize()


def draw_figures(run, names: list[str]) -> list[Figure]:
    """Draw figures with the CLI's own figure functions (``analysis.figures.render``), at screen resolution."""
    from analysis.figures import render

    out = []
    with _DRAW, tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path, caption = render(run, name, Path(tmp), dpi=SCREEN_DPI)
            out.append(Figure(name, figure_title(name), path.read_bytes() if path else None, caption))
    return out


class _Drawn:
    """A figure drawn on first request in this process (the Future-like stand-in when there is no pool)."""

    def __init__(self, run, name: str) -> None:
        self._run, self._name, self._fig = run, name, None

    def result(self) -> Figure:
        """The drawn figure (drawn once)."""
        if self._fig is None:
            self._fig = draw_figures(self._run, [self._name])[0]
            self._run = None
        return self._fig


def submit_figures(run, names: list[str], pool=None) -> dict[str, Any]:
    """Start drawing these figures on ``pool``'s processes at once; name -> Future (``.result()`` a Figure)."""
    # The workers run the same draw_figures (so the PNG bytes are the same as drawn here); the
    # run is pickled once for all of them. Without a pool each figure is drawn here when asked for.
    if pool is None:
        return {n: _Drawn(run, n) for n in names}
    import copy
    import pickle

    from analysis.figures import FIGURES as REGISTRY

    blobs: dict[bool, bytes] = {}
    out = {}
    for n in names:
        sessions = n not in REGISTRY or "sessions" in REGISTRY[n].needs  # the session table is most of a run
        if sessions not in blobs:
            part = run if sessions else copy.copy(run)
            if not sessions:
                part.tables = {k: v for k, v in run.tables.items() if k != "sessions"}
            blobs[sessions] = pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
        out[n] = pool.submit(_draw_pickled, blobs[sessions], n)
    return out


def _draw_pickled(blob: bytes, name: str) -> Figure:
    """In a worker: unpickle the run and draw one figure."""
    import pickle

    return draw_figures(pickle.loads(blob), [name])[0]


def kpi_names(keys) -> list[str]:
    """KPI column names for the page's short names."""
    return [KPIS[k] for k in keys]


def kpi_table_columns(run, keys) -> list[str]:
    """The kpis-table columns for the page's short names (a per-discipline KPI gives one per discipline)."""
    from simulation.kpis import kpi_columns

    return kpi_columns(kpi_names(keys), list(run.tables["kpis"].columns))


def interval_table(run, keys) -> "pd.DataFrame":  # noqa: F821
    """Each KPI per scenario, mean [95% interval], as the report's KPI table."""
    from analysis.report import kpi_table

    return kpi_table(run, kpi_table_columns(run, keys))


def difference_table(run, keys) -> "pd.DataFrame":  # noqa: F821
    """Paired differences from the baseline with intervals, as the report's table."""
    from analysis.report import difference_table as table
    from analysis.stats import comparisons, default_pairs

    comp = comparisons(run.tables["kpis"], default_pairs(run.scenarios, run.baseline), kpi_table_columns(run, keys))
    return table(run, comp)


@dataclass
class Headline:
    """One KPI as big numbers: mean and interval per scenario, and the paired difference with its interval."""

    kpi: str
    label: str
    baseline_mean: str
    baseline_ci: str
    other_mean: str
    other_ci: str
    diff: str
    diff_ci: str
    excludes_zero: bool


def headline(run, key: str, scenario: str) -> Headline:
    """A KPI's value per scenario and the paired difference of ``scenario`` from the baseline."""
    from analysis.labels import kpi_label
    from analysis.report import fmt_ci, fmt_value
    from analysis.stats import compare
    from simulation.summary import kpi_ci

    kpi = KPIS[key]
    k = run.tables["kpis"]
    cells = []
    for s in (run.baseline, scenario):  # the KPI's own interval (bounded for proportions), as in the report
        m, lo, hi = kpi_ci(kpi, k.loc[k["scenario"] == s, kpi].to_numpy())
        cells += [fmt_value(kpi, m), f"95% interval {fmt_value(kpi, lo)} to {fmt_value(kpi, hi)}"]
    c = compare(k, scenario, run.baseline, [kpi]).iloc[0]
    scale, unit = (100.0, " pp") if _proportion(kpi) else (1.0, "")
    lo, hi = c["paired_ci_low"], c["paired_ci_high"]
    return Headline(kpi, kpi_label(kpi), *cells, f"{scale * c['diff']:+.1f}{unit}",
                    f"paired 95% interval {fmt_ci(kpi, lo, hi)}",
                    bool(math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)))


def _proportion(kpi: str) -> bool:
    from analysis.labels import is_proportion

    return is_proportion(kpi)


# ----------------------------------------------------------------------------- teach view
@dataclass(frozen=True)
class TeachSettings:
    """The teach view's controls (a hashable key for the page's cache)."""

    repair_skill: float
    trained_share: float
    monitoring: bool
    rupture_sensitivity: float
    replications: int
    seed: int
    extra: tuple[str, ...] = ()


def teach_defaults(extra: tuple[str, ...] = ()) -> TeachSettings:
    """The controls' starting values: reference A as calibrated, nobody trained, no monitoring."""
    cfg = base_config(TEACH_BASE + tuple(extra))
    return TeachSettings(repair_skill=float(get_value(cfg, KEYS["repair_skill"])),
                         trained_share=float(get_value(cfg, KEYS["trained_share"])),
                         monitoring=int(get_value(cfg, KEYS["monitoring_every"])) > 0,
                         rupture_sensitivity=float(get_value(cfg, KEYS["rupture_sensitivity"])),
                         replications=TEACH_REPLICATIONS, seed=int(get_value(cfg, KEYS["seed"])), extra=tuple(extra))


def teach_scenarios(s: TeachSettings):
    """Usual care (the reference) and the chosen settings, on the same patients and random numbers."""
    from simulation.experiment import Experiment
    from simulation.runner import Scenario

    base = base_config(TEACH_BASE + s.extra)
    common = {KEYS["seed"]: int(s.seed), KEYS["replications"]: int(s.replications),
              KEYS["rupture_sensitivity"]: float(s.rupture_sensitivity)}
    yours = {KEYS["repair_skill"]: float(s.repair_skill), KEYS["trained_share"]: float(s.trained_share),
             KEYS["monitoring_every"]: 1 if s.monitoring else 0}
    shared = [*TEACH_BASE, *s.extra, *overrides_of(common)]
    scen = [Scenario(USUAL, vary(base, {**common, KEYS["name"]: USUAL}), [*shared, f"{KEYS['name']}={USUAL}"]),
            Scenario(YOURS, vary(base, {**common, **yours, KEYS["name"]: YOURS}),
                     [*shared, *overrides_of(yours), f"{KEYS['name']}={YOURS}"])]
    exp = Experiment(name="teach", description="The page's teach view: usual care (reference A) beside your settings.",
                     baseline=USUAL, scenarios={sc.name: sc.overrides for sc in scen}, kpis=kpi_names(TEACH_KPIS),
                     figures=[FIGURES[f] for f in TEACH_FIGURES],
                     extra={"landmark_session": 3, "rupture_scenario": YOURS})
    return exp, scen


@dataclass
class TeachResult:
    """What the teach view shows first: big numbers and tables (figures follow, drawn one by one)."""

    settings: TeachSettings
    headlines: list[Headline]
    kpis: Any
    differences: Any
    figures: list[str]  # names, drawn with draw_figures(run, [name])
    seconds_run: float


def simulate_teach(s: TeachSettings, pool=None):
    """Run usual care and the chosen settings in memory (``simulation.api.run_built``, on ``pool`` if given)."""
    from analysis.rundata import RunData
    from simulation.api import run_built

    exp, scen = teach_scenarios(s)
    return RunData.from_results(run_built(exp, scen, pool=pool))


def teach_pool():
    """The page's warm worker processes (one per usable core, at most APP_WORKERS_MAX), or None on one core."""
    import os

    from simulation.workers import WarmPool

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = min(cores, APP_WORKERS_MAX)
    return WarmPool(n, warm=_warm_worker) if n >= 2 else None


def _warm_worker() -> None:
    """In each new worker of the page's pool: the imports a first run and its figures need."""
    import simulation.runner  # noqa: F401  (the compiled hot path, pandas, numpy)
    import analysis.figures  # noqa: F401  (matplotlib, the figure registry)
    import analysis.survival  # noqa: F401
    import lifelines  # noqa: F401  (Kaplan–Meier, imported lazily by analysis.survival)


def teach_numbers(run, s: TeachSettings, seconds: float = float("nan")) -> TeachResult:
    """The big numbers and tables of a teach run."""
    return TeachResult(s, [headline(run, k, YOURS) for k in TEACH_KPIS], interval_table(run, TEACH_KPIS),
                       difference_table(run, TEACH_KPIS), list(run.manifest.get("figures") or []), seconds)


def run_teach(s: TeachSettings, pool=None) -> tuple[TeachResult, list[Figure], dict[str, float]]:
    """A whole teach run as the page does it, timed: simulate, start the figures, numbers, then the figures."""
    # With ``pool`` the chunks and the figures run on its processes (CPU seconds here are this
    # process's only); without it everything runs here, one after the other.
    t0 = time.perf_counter()
    c0 = time.process_time()
    run = simulate_teach(s, pool)
    drawing = submit_figures(run, list(run.manifest.get("figures") or []), pool)  # drawn while the numbers are made
    res = teach_numbers(run, s, time.perf_counter() - t0)
    t1, c1 = time.perf_counter(), time.process_time()
    figs = [drawing[n].result() for n in res.figures]
    t2, c2 = time.perf_counter(), time.process_time()
    return res, figs, {"numbers_wall": t1 - t0, "numbers_cpu": c1 - c0, "figures_wall": t2 - t1,
                       "figures_cpu": c2 - c1, "total_wall": t2 - t0, "total_cpu": c2 - c0}


# ----------------------------------------------------------------------------- plan view


def _groups() -> set[str]:
    from simulation.config import Config

    return {f.name for f in fields(Config)} - {"experiment"}


def service_file_overrides(text: str, name: str = "service file") -> list[str]:
    """Overrides from a planner's YAML (a ``service`` file, or ``service:``/``turnover:``... sections)."""
    # The overrides then go through the normal config path (composition and validation), so a
    # mistake in the file gets the CLI's one-line message; keys the file leaves out keep the
    # reference's values.
    from simulation.errors import ConfigError

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(name, "(file)", f"YAML that parses ({first})") from None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ConfigError(name, type(data).__name__, "a YAML mapping of service keys (as in configs/service/*.yaml)")
    out: list[str] = []
    defaults = data.pop("defaults", None) or []
    for d in defaults if isinstance(defaults, list) else []:
        if isinstance(d, dict):
            for k, v in d.items():
                group = str(k).replace("override", "").strip().lstrip("/")
                out.append(f"{group}={v}")
    grouped = data and all(k in _groups() and isinstance(v, (dict, type(None))) for k, v in data.items())
    sections = data if grouped else {"service": data}
    for group, body in sections.items():
        out.extend(_flatten(str(group), body))
    return out


def _flatten(prefix: str, value: Any) -> list[str]:
    if isinstance(value, dict) and value:
        return [o for k, v in value.items() for o in _flatten(f"{prefix}.{k}", v)]
    return [f"{prefix}={literal(value)}"]


@dataclass(frozen=True)
class PlanSettings:
    """The plan view's controls: where the service comes from and what the plan changes."""

    reference: str = "community_team"
    service_file: tuple[str, ...] = ()  # overrides from a service YAML (service_file_overrides)
    posts: tuple[int, ...] = ()  # per discipline, in the config's order (empty: unchanged)
    turnover: Optional[float] = None  # leavers per clinician-year (None: unchanged)
    reassignment: Optional[str] = None
    on_leave: Optional[str] = None
    replications: int = PLAN_REPLICATIONS
    seed: Optional[int] = None
    extra: tuple[str, ...] = ()

    def source(self) -> tuple[str, ...]:
        """Overrides that define the current service (reference, file, typed settings)."""
        return (f"{KEYS['reference']}={self.reference}", *self.service_file, *self.extra)


def staffing(cfg) -> list[tuple[str, int]]:
    """(discipline, posts) of a config, as the service counts them."""
    disc = get_value(cfg, KEYS["disciplines"])
    primary = get_value(cfg, KEYS["primary_posts"])
    out = [(getattr(d, KEYS["discipline_name"]), int(getattr(d, KEYS["discipline_posts"]))) for d in disc]
    if primary is not None and out:
        out[0] = (out[0][0], int(primary))
    return out


def plan_overrides(s: PlanSettings, cfg) -> list[str]:
    """The plan scenario's overrides: only what differs from the current service."""
    out = []
    now = staffing(cfg)
    if s.posts and tuple(s.posts) != tuple(n for _, n in now):
        if len(s.posts) != len(now):
            from simulation.errors import ConfigError

            raise ConfigError("posts", list(s.posts), f"one number per discipline ({', '.join(n for n, _ in now)})")
        primary = get_value(cfg, KEYS["primary_posts"])
        disc = [{f.name: getattr(d, f.name) for f in fields(d)} for d in get_value(cfg, KEYS["disciplines"])]
        for d, n in zip(disc, s.posts):
            d[KEYS["discipline_posts"]] = int(n)
        if primary is not None:
            out.append(f"{KEYS['primary_posts']}={int(s.posts[0])}")
        if len(disc) > 1 or primary is None:
            out.append(f"{KEYS['disciplines']}={literal(disc)}")
    for key, v in (("turnover", s.turnover), ("reassignment", s.reassignment), ("on_leave", s.on_leave)):
        if v is not None and v != get_value(cfg, KEYS[key]):
            out.append(f"{KEYS[key]}={literal(v)}")
    return out


def write_plan_experiment(s: PlanSettings, path: Path) -> Path:
    """The experiment file of a plan (current vs plan), as a user would write for the CLI."""
    cfg = base_config(s.source())
    exp = {"description": "What-if from the page's plan view: the current service against the plan "
                          "(staffing, turnover and policies), on the same patients and random numbers.",
           "baseline": CURRENT, "scenarios": {CURRENT: [], PLAN: plan_overrides(s, cfg)},
           "kpis": kpi_names(PLAN_KPIS),
           "figures": [FIGURES[f] for f in ("differences", "service", "kpis", "retention")]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(exp, sort_keys=False))
    return path


@dataclass
class PlanResult:
    """A finished plan run: its directory, the differences, the waiting-list figure and the zip."""

    run_dir: Path
    command: str
    differences: Any
    kpis: Any
    figures: list[Figure]
    zip_bytes: bytes
    seconds: float
    messages: list[str] = field(default_factory=list)


def run_plan(s: PlanSettings, workdir: Path,
             on_progress: Callable[[float, str], None] = lambda f, t: None) -> PlanResult:
    """Run current vs plan into ``workdir/run`` (tables, report), reporting progress; zip it."""
    from analysis.report import build_report
    from analysis.rundata import RunData
    from simulation.api import build_scenarios, run_built

    t0 = time.perf_counter()
    run_dir = Path(workdir) / "run"
    exp_file = write_plan_experiment(s, run_dir / "what_if.yaml")
    overrides = [f"{KEYS['experiment']}={exp_file}", *s.source(), f"{KEYS['replications']}={int(s.replications)}",
                 f"{KEYS['progress']}=false"]
    if s.seed is not None:
        overrides.append(f"{KEYS['seed']}={int(s.seed)}")
    on_progress(0.0, "checking the configuration")
    with _COMPOSE:
        exp, scen = build_scenarios(overrides)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["res"] = run_built(exp, scen, out_dir=run_dir)
        except BaseException as exc:  # handed to the caller's thread
            box["err"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    manifest = run_dir / "manifest.json"
    while True:
        worker.join(0.25)
        done, total = _chunks_done(manifest)
        if total:
            on_progress(0.9 * done / total, f"simulated {done} of {total} runs (scenario x replication)")
        if not worker.is_alive():
            break
    if "err" in box:
        raise box["err"]
    on_progress(0.9, "writing the report")
    with _DRAW:
        build_report(run_dir)
    run = RunData.load(run_dir)
    on_progress(0.97, "packing the run directory")
    figs = [Figure(n, figure_title(n), (run_dir / "figures" / f"{n}.png").read_bytes()
                   if (run_dir / "figures" / f"{n}.png").exists() else None, "")
            for n in (FIGURES["service"], FIGURES["differences"])]
    shown = [f"{KEYS['experiment']}={exp_file.name}" if o == overrides[0] else o for o in overrides
             if not o.startswith(KEYS["progress"])]
    command = "alliance-sim " + " ".join(shlex.quote(o) for o in shown)
    res = PlanResult(run_dir, command, difference_table(run, PLAN_KPIS), interval_table(run, PLAN_KPIS), figs,
                     zip_run(run_dir), time.perf_counter() - t0)
    on_progress(1.0, "done")
    return res


def _chunks_done(manifest: Path) -> tuple[int, int]:
    try:
        m = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return 0, 0
    return int(m.get("chunks_done", m.get("chunks_total", 0))), int(m.get("chunks_total", 0))


def zip_run(run_dir: Path) -> bytes:
    """The run directory (tables, manifest, report, figures, experiment file) as one zip, chunks left out."""
    buf = io.BytesIO()
    run_dir = Path(run_dir)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(run_dir.rglob("*")):
            rel = p.relative_to(run_dir)
            if p.is_file() and rel.parts[0] not in RUN_TABLE_EXCLUDE:
                z.write(p, str(Path(run_dir.name) / rel))
    return buf.getvalue()


# ----------------------------------------------------------------------------- explore view
@dataclass
class Explored:
    """A saved run directory for browsing: manifest facts, report page, figures and tables."""

    run: Any
    report_html: Optional[str]
    figures: list[Figure]
    tables: list[str]


def explore(path: str) -> Explored:
    """Open a run directory written by the CLI or the plan view."""
    from analysis.rundata import RunData

    p = Path(path).expanduser()
    if not p.is_dir():
        raise FileNotFoundError(f"{p} is not a directory on this machine")
    run = RunData.load(p)
    report = p / "report.html"
    figs = [Figure(f.stem, figure_title(f.stem), f.read_bytes(), "") for f in sorted((p / "figures").glob("*.png"))]
    names = list(run.manifest.get("figures") or [])
    figs.sort(key=lambda f: names.index(f.name) if f.name in names else len(names))
    return Explored(run, report.read_text() if report.exists() else None, figs, sorted(run.tables))


def latest_run(root: Path = Path("outputs")) -> Optional[Path]:
    """The newest finished run directory under ``outputs/`` (a starting point for the explore view)."""
    found = sorted(root.glob("*/*/manifest.json"), key=lambda m: m.stat().st_mtime)
    return found[-1].parent if found else None
