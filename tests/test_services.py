"""Services as planners describe them: teams one by one, costs, queues that respond to
capacity, and the README's "Model your own service" walk-through run as written."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from simulation.api import load_config, run
from simulation.config import CostConfig
from simulation.costs import cost_per_dropout_avoided
from simulation.errors import ConfigError
from simulation.service import Service
from simulation.validate import validate

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "alliance-sim")
B_SMALL = ["experiment=null", "reference=community_team", "run.replications=1", "run.warmup_days=300",
           "run.horizon_days=300", "run.progress=false"]


def team_list(*teams: tuple[str, float, int, int]) -> str:
    """A ``service.team_list`` override from (name, referrals a week, care coordinators, psychiatrists)."""
    items = ",".join(f"{{name:{n},referrals_per_week:{r},posts:{{care_coordinator:{c},psychiatrist:{p}}}}}"
                     for n, r, c, p in teams)
    return f"service.team_list=[{items}]"


B_RATE = yaml.safe_load((ROOT / "configs" / "service" / "community_team.yaml").read_text())["referrals_per_week"]
EVEN_B = team_list(("north", B_RATE / 2, 6, 1), ("south", B_RATE / 2, 6, 1))  # B's demand, split evenly


def test_equal_teams_described_one_by_one_give_identical_tables():
    """Reference B's even split written as a team_list builds the same clinicians and referrals: bit-identical."""
    a = run(B_SMALL).tables
    b = run(B_SMALL + [EVEN_B]).tables
    for name in ("patients", "clinicians", "timeseries", "caseloads", "reassignments", "sessions"):
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def test_unequal_teams_get_their_posts_caps_and_share_of_referrals():
    cfg = load_config(["reference=community_team", team_list(("north", 3.0, 7, 1), ("south", 1.0, 4, 1)),
                       "+service.team_list.1.caseload_caps.care_coordinator=35"])
    svc = Service(cfg, 0)
    held = pd.DataFrame([(c.team, svc.disciplines[c.discipline].name, c.caseload_cap) for c in svc.clinicians],
                        columns=["team", "discipline", "cap"])
    counts = held.groupby(["team", "discipline"]).size().to_dict()
    assert counts == {(0, "care_coordinator"): 7, (0, "psychiatrist"): 1,
                      (1, "care_coordinator"): 4, (1, "psychiatrist"): 1}
    caps = held.groupby(["team", "discipline"])["cap"].unique().map(list).to_dict()
    assert caps[(0, "care_coordinator")] == [30] and caps[(1, "care_coordinator")] == [35]
    assert caps[(1, "psychiatrist")] == [180]
    # Referrals join a team in proportion to its rate (3 : 1), from each patient's own uniform.
    svc.simulate()
    teams = np.array([p.team for p in svc.patients])
    n = len(teams)
    share = float((teams == 0).mean())
    assert abs(share - 0.75) < 4 * math.sqrt(0.75 * 0.25 / n), (share, n)
    assert n == pytest.approx(4.0 / 7 * svc.end_day, rel=5 * math.sqrt(1 / (4.0 / 7 * svc.end_day)))


@pytest.mark.parametrize("overrides, key", [
    ([team_list(("north", 2.0, 6, 1), ("south", 1.0, 6, 1)), "service.teams=3"], "service.teams"),
    ([team_list(("north", 2.0, 6, 1), ("north", 1.0, 6, 1))], "service.team_list"),
    ([team_list(("north", 2.0, 6, 1), ("south", 1.0, 0, 1))], "service.team_list[1].posts.care_coordinator"),
    ([team_list(("north", 2.0, 6, 1), ("south", 1.0, 6, 1)), "service.clinicians=12"], "service.clinicians"),
    ([team_list(("north", 2.0, 6, 1), ("south", 1.0, 6, 1)), "+service.team_list.0.posts.nurse=2"],
     "service.team_list[0].posts"),
    ([team_list(("north", 2.0, 6, 1), ("south", 1.0, 6, 1)),
      "+service.team_list.0.caseload_caps.care_coordinator=0"], "service.team_list[0].caseload_caps.care_coordinator"),
    (["costs.annual_cost_per_post.therapist=-1"], "costs.annual_cost_per_post.therapist"),
])
def test_bad_team_or_cost_input_names_the_key(overrides, key):
    base = ["reference=community_team"] if any("team_list" in o for o in overrides) else []
    with pytest.raises(ConfigError) as e:
        validate(load_config(base + overrides))
    assert e.value.key == key


def test_staff_cost_is_posts_times_years_times_unit_cost():
    """Without turnover every post is filled all period: cost = posts x years x annual cost, per discipline."""
    years = 300 / 365.25
    over = B_SMALL + ["turnover=none", "costs.annual_cost_per_post.care_coordinator=40000",
                      "costs.annual_cost_per_post.psychiatrist=150000"]
    k = run(over).tables["kpis"].iloc[0]
    assert k["staff_cost"] == pytest.approx((12 * 40000 + 2 * 150000) * years, rel=1e-9)
    k2 = run(over + [team_list(("north", 2.35, 5, 1), ("south", 2.35, 5, 1))]).tables["kpis"].iloc[0]
    assert k2["staff_cost"] == pytest.approx((10 * 40000 + 2 * 150000) * years, rel=1e-9)
    assert k["cost_per_patient_treated"] > 0 and k["cost_per_recovered"] > k["cost_per_patient_treated"]


def test_cost_per_dropout_avoided_is_extra_cost_over_the_rate_change_times_patients():
    kpis = pd.DataFrame({"scenario": ["base", "base", "more", "more", "less", "less"],
                         "replication": [0, 1, 0, 1, 0, 1],
                         "staff_cost": [100.0, 110.0, 150.0, 170.0, 80.0, 90.0],
                         "dropout_rate": [0.30, 0.32, 0.25, 0.26, 0.31, 0.34],
                         "started": [100, 110, 100, 120, 90, 80]})
    t = cost_per_dropout_avoided(kpis, "base").set_index("scenario")
    assert t.loc["more", "extra_cost"] == pytest.approx(55.0)
    # Rate change x the scenario's patients: (0.05 x 100 + 0.06 x 120) / 2 = 6.1 (counts would say 0.05 x ...).
    assert t.loc["more", "dropouts_avoided"] == pytest.approx(6.1)
    assert t.loc["more", "cost_per_dropout_avoided"] == pytest.approx(55.0 / 6.1)
    assert math.isnan(t.loc["less", "cost_per_dropout_avoided"])  # a higher dropout rate: none avoided
    assert CostConfig().default_annual_cost_per_post > 0


def test_waiting_list_responds_to_capacity_as_queueing_theory_says():
    """Reference A at its calibrated referrals (a real queue at 10 therapists): fewer posts, a longer list; more
    posts, a shorter one. The scenarios share random numbers, so each paired difference must exceed 3 paired SEs."""
    base = ["experiment=null", "run.replications=4", "run.warmup_days=120", "run.horizon_days=240",
            "run.progress=false", "output.sessions=false"]
    waiting = {c: run(base + [f"service.clinicians={c}"]).tables["kpis"].set_index("replication")["mean_waiting"]
               for c in (9, 10, 11)}
    for fewer, more in ((9, 10), (10, 11)):
        d = waiting[fewer] - waiting[more]
        se = d.std(ddof=1) / math.sqrt(len(d))
        assert d.mean() > 3 * se and d.mean() > 0, (fewer, more, waiting)


def _walkthrough_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Model your own service", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_readme_own_service_walkthrough_runs_as_written(tmp_path):
    """Each command of the walk-through, at a small size (fewer replications, shorter runs)."""
    commands = _walkthrough_commands()
    assert commands[0].startswith("cp ") and any("experiment=own_service" in c for c in commands)
    small = ["run.replications=1", "run.workers=1", "run.warmup_days=200", "run.horizon_days=200",
             "run.progress=false"]
    target = ROOT / "configs" / "service" / "my_service.yaml"
    if target.exists():  # a planner's own file from following the walk-through: never overwrite it
        pytest.skip("configs/service/my_service.yaml exists (the walk-through's file); not overwriting it")
    try:
        for i, cmd in enumerate(commands):
            words = cmd.split()
            if words[0] == "cp":
                shutil.copy(ROOT / words[1], ROOT / words[2])
                continue
            assert words[0] == "alliance-sim", cmd
            proc = subprocess.run([EXE, *words[1:], *small, f"output.dir={tmp_path / str(i)}"], cwd=ROOT,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, proc.stderr[-2000:]
            assert "Wait for first appointment" in proc.stdout
        # The last command is the comparison of scenarios, with costs.
        assert "Cost per patient treated" in proc.stdout and "Costs against as_is" in proc.stdout
    finally:
        target.unlink(missing_ok=True)
