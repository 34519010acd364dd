"""The page (analysis/app): each view driven with Streamlit's AppTest, and the engine it calls."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from analysis.app import engine  # noqa: E402
from analysis.labels import kpi_label  # noqa: E402
from analysis.report import build_report, kpi_table  # noqa: E402
from analysis.rundata import RunData  # noqa: E402
from simulation.api import load_config, run, with_values  # noqa: E402
from simulation.cli import format_error  # noqa: E402
from simulation.errors import ConfigError  # noqa: E402

MAIN = Path(engine.__file__).with_name("main.py")
SHORT = "run.horizon_days=240 run.warmup_days=60"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def open_view(view: str) -> AppTest:
    """The page as a browser would first see it, switched to ``view``."""
    at = AppTest.from_file(str(MAIN), default_timeout=600)
    at.run()
    if view != "Teach":
        at.radio(key="view").set_value(view).run()
    assert not at.exception
    return at


def elements(node, kind: str) -> list:
    """Every element of a type (e.g. "Image") anywhere under ``node``."""
    found = [node] if type(node).__name__ == kind else []
    for child in getattr(node, "children", {}).values():
        found += elements(child, kind)
    return found


def dig(cfg: dict, key: str):
    """A dotted key's value in a manifest's config dict."""
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


def cli_error(*overrides: str) -> str:
    """The line the ``alliance-sim`` command prints for these overrides (it must refuse them)."""
    out = subprocess.run([sys.executable, "-m", "simulation.cli", *overrides], capture_output=True, text=True,
                         cwd=str(MAIN.parents[2]), timeout=300)
    assert out.returncode == 2, out.stderr
    return out.stderr.strip()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small experiment saved with its report, as the CLI writes it; and its overrides."""
    out = tmp_path_factory.mktemp("app") / "run"
    over = ["experiment=interventions", "run.replications=2", *SHORT.split()]
    run(over, out_dir=out)
    build_report(out)
    return out, over


# ----------------------------------------------------------------------------- teach view
def test_teach_view_runs_and_shows_dropout_beside_usual_care():
    at = open_view("Teach")
    at.text_input(key="teach_extra").set_value(SHORT)
    at.slider(key="teach_repair").set_value(2.0)
    at.slider(key="teach_trained").set_value(50)
    at.toggle(key="teach_rom").set_value(True)
    at.slider(key="teach_reps").set_value(2)
    at.button(key="teach_run").click().run()
    assert not at.exception and not at.error
    shown = {m.label: m.value for m in at.metric}
    res = at.session_state["teach_result"]
    s = res.settings
    assert (s.repair_skill, s.trained_share, s.monitoring, s.replications) == (2.0, 0.5, True, 2)
    dropout, recovery = res.headlines[:2]
    assert dropout.kpi == engine.KPIS["dropout"] and recovery.kpi == engine.KPIS["recovery"]
    # The page's numbers are the public API's: the same overrides through simulation.api.run.
    _, (usual, yours) = engine.teach_scenarios(s)
    for name, sc in (("usual care", usual), ("your settings", yours)):
        kpis = run(sc.overrides).kpis
        for h in (dropout, recovery):
            assert shown[f"{h.label}, {name}"] == f"{100 * kpis[h.kpi].mean():.1f}%"
    assert shown[f"{dropout.label}: difference"].endswith(" pp")
    # The figures drawn by analysis.figures, each with its plain-language note.
    assert len(elements(at.main, "Image")) == len(engine.TEACH_FIGURES)
    notes = " ".join(m.value for m in at.markdown)
    for word in ("**Rupture.**", "**Repair.**", "**V-shape.**"):
        assert word in notes


def test_teach_view_bad_value_shows_the_cli_line_and_cannot_run():
    at = open_view("Teach")
    at.text_input(key="teach_extra").set_value("run.replications=abc").run()
    assert not at.exception
    assert [e.value for e in at.error] == [cli_error("run.replications=abc")]
    assert at.button(key="teach_run").disabled
    at.text_input(key="teach_extra").set_value("").run()
    assert not at.error and not at.button(key="teach_run").disabled


def test_teach_defaults_are_the_reference_and_a_new_seed_can_be_drawn():
    cfg = load_config(list(engine.TEACH_BASE))
    d = engine.teach_defaults()
    assert d.seed == engine.get_value(cfg, engine.KEYS["seed"])
    assert d.repair_skill == engine.get_value(cfg, engine.KEYS["repair_skill"])
    assert not d.monitoring and d.trained_share == 0.0
    at = open_view("Teach")
    at.text_input(key="teach_extra").set_value(SHORT)
    at.slider(key="teach_reps").set_value(2)
    at.toggle(key="teach_new_seed").set_value(True)
    at.button(key="teach_run").click().run()
    assert not at.exception
    assert at.session_state["teach_result"].settings.seed != d.seed


# ----------------------------------------------------------------------------- plan view
def test_plan_view_runs_a_plan_and_offers_the_run_directory():
    at = open_view("Plan")
    at.text_input(key="plan_extra").set_value(SHORT)
    at.number_input(key="plan_posts_talking_therapy__therapist").set_value(8)
    at.slider(key="plan_turnover_talking_therapy_").set_value(20)
    at.number_input(key="plan_reps").set_value(2)
    at.button(key="plan_run").click().run()
    assert not at.exception and not at.error
    res = at.session_state["plan_result"]
    table = at.dataframe[0].value
    assert set(table["scenario"]) == {engine.PLAN.capitalize()}  # the scenario as the report labels it
    assert kpi_label(engine.KPIS["waiting"]) in set(table["KPI"])
    assert len(elements(at.main, "Image")) == 2  # waiting list over time, differences
    names = zipfile.ZipFile(io.BytesIO(res.zip_bytes)).namelist()
    for f in ("report.html", "report.md", "kpis.csv", "manifest.json", "what_if.yaml", "figures/service.png"):
        assert any(n.endswith("/" + f) for n in names), f
    assert not any("/chunks/" in n for n in names)
    # Two fewer therapists on a service run near capacity: a longer waiting list (paired over replications).
    saved = RunData.load(res.run_dir)
    k = saved.tables["kpis"].set_index(["scenario", "replication"])[engine.KPIS["waiting"]]
    assert (k[engine.PLAN] > k[engine.CURRENT]).all()
    plan_cfg = saved.config(engine.PLAN)
    assert dig(plan_cfg, engine.KEYS["primary_posts"]) == 8 and dig(plan_cfg, engine.KEYS["turnover"]) == 0.2


def test_plan_view_bad_service_file_shows_the_cli_line(tmp_path):
    bad = tmp_path / "my_service.yaml"
    bad.write_text("clinicans: 3\n")
    at = open_view("Plan")
    at.text_input(key="plan_path").set_value(str(bad)).run()
    assert not at.exception
    assert [e.value for e in at.error] == [cli_error("service.clinicans=3")]
    assert not [b for b in at.button if b.key == "plan_run"]


def test_service_file_gives_the_same_config_as_the_config_group():
    text = (CONFIGS / "service" / "community_team.yaml").read_text()
    got = load_config(["reference=talking_therapy", *engine.service_file_overrides(text)])
    assert got.service == load_config(["service=community_team"]).service
    text = (CONFIGS / "reference" / "community_team.yaml").read_text()
    got = load_config(["reference=talking_therapy", *engine.service_file_overrides(text)])
    assert got == load_config(["reference=community_team"])


def test_plan_staffing_of_a_two_discipline_service_reaches_the_config():
    s = engine.PlanSettings(reference="community_team", posts=(10, 3), turnover=0.1)
    base = engine.base_config(s.source())
    assert engine.staffing(base) == [("care_coordinator", 12), ("psychiatrist", 2)]
    changed = load_config([*s.source(), *engine.plan_overrides(s, base)])
    assert engine.staffing(changed) == [("care_coordinator", 10), ("psychiatrist", 3)]
    assert engine.get_value(changed, engine.KEYS["turnover"]) == 0.1
    assert engine.plan_overrides(engine.PlanSettings(reference="community_team"), base) == []


# ----------------------------------------------------------------------------- explore view
def test_explore_view_browses_a_run_directory(saved, tmp_path):
    out, _ = saved
    at = open_view("Explore")
    at.text_input(key="explore_path").set_value(str(out)).run()
    assert not at.exception and not at.error
    assert len(elements(at.main, "Image")) == len(list((out / "figures").glob("*.png"))) > 0
    assert "kpis" in at.selectbox(key="explore_table").options
    at.selectbox(key="explore_table").set_value("patients").run()
    assert len(at.dataframe[0].value) > 0
    at.text_input(key="explore_path").set_value(str(tmp_path / "nowhere")).run()
    assert not at.exception
    assert at.error[0].value == f"alliance-sim: {tmp_path / 'nowhere'} is not a directory on this machine"


# ----------------------------------------------------------------------------- what the page relies on
def test_with_values_equals_composing_the_same_overrides():
    values = {engine.KEYS["repair_skill"]: 1.5, engine.KEYS["trained_share"]: 0.5,
              engine.KEYS["monitoring_every"]: 2}
    assert with_values(load_config([]), values) == load_config(engine.overrides_of(values))
    with pytest.raises(ConfigError) as got:
        with_values(load_config([]), {"run.replications": 0})
    with pytest.raises(ConfigError) as want:
        load_config(["run.replications=0"])
    assert format_error(got.value) == format_error(want.value)


def test_run_data_from_memory_matches_the_saved_run(saved):
    out, over = saved
    disk = RunData.load(out)
    mem = RunData.from_results(run(over))
    assert mem.scenarios == disk.scenarios and mem.baseline == disk.baseline
    assert mem.kpi_names == disk.kpi_names and mem.extra == disk.extra
    assert kpi_table(mem, mem.kpi_names).equals(kpi_table(disk, disk.kpi_names))
    assert mem.config(mem.baseline) == disk.config(disk.baseline)


def test_plan_run_reports_progress_up_to_done(tmp_path):
    seen = []
    s = engine.PlanSettings(reference="talking_therapy", extra=tuple(SHORT.split()), posts=(9,), replications=3)
    res = engine.run_plan(s, tmp_path, lambda f, text: seen.append((f, text)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and seen[-1] == (1.0, "done")
    assert any(t.startswith("simulated ") and t.endswith(" of 6 runs (scenario x replication)") for _, t in seen)
    assert res.command.startswith("alliance-sim experiment=what_if.yaml reference=talking_therapy ")
