"""The hand-calibration helper (python -m analysis.calibrate) uses the fit's estimates and distance, per reference."""

import numpy as np
import pytest

from analysis import calibrate
from analysis.calibration import calibration_table
from analysis.infer import fitted_targets
from simulation.api import run


def test_reference_of_takes_the_last_reference_override():
    assert calibrate.reference_of(["service.clinicians=4"]) == "talking_therapy"
    assert calibrate.reference_of(["reference=talking_therapy", "x.y=1", "reference=community_team"]) == "community_team"


@pytest.fixture(scope="module")
def small_a():
    return run(["experiment=null", "run.replications=2", "run.horizon_days=365", "run.warmup_days=90",
                "run.progress=false"])


def test_fit_distance_reports_the_calibration_tables_estimates(small_a):
    """The helper's numbers are the registry's: the same fitted targets and values as calibration.csv would show."""
    sc = small_a.scenarios[0].name
    rows, distance = calibrate.fit_distance(calibrate.scenario_tables(small_a.tables, sc), "talking_therapy")
    assert list(rows["target"]) == [t.number for t in fitted_targets("talking_therapy")]
    table = calibration_table(small_a.tables, {"references": {sc: "talking_therapy"}}, n_boot=0).set_index("target")
    expected = table.loc[list(rows["target"]), "simulated"].to_numpy(float)
    assert np.allclose(rows["simulated"].to_numpy(float), expected, equal_nan=True)
    centre = (rows["accepted_low"] + rows["accepted_high"]) / 2
    half = (rows["accepted_high"] - rows["accepted_low"]) / 2
    z = np.where(rows["simulated"].notna(), (rows["simulated"] - centre).abs() / half, 3.0)
    assert np.allclose(rows["z"], z)
    assert distance == pytest.approx(float(np.sqrt(np.mean(z ** 2))))
    assert list(rows["inside"]) == [bool(table.loc[t, "inside"]) for t in rows["target"]]


def test_helper_reports_the_selected_references_targets(capsys):
    """reference=community_team reports B's fitted targets, not reference A's (the helper no longer hard-codes A)."""
    assert calibrate.main(["--reps", "1", "--brief", "reference=community_team", "run.horizon_days=200",
                           "run.warmup_days=100"]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in out[2:] if line.strip() and not line.endswith(" s")]
    assert listed == [t.number for t in fitted_targets("community_team")]
    assert "reference community_team" in out[0]


def test_unknown_reference_is_one_line_and_exit_2(capsys):
    assert calibrate.main(["reference=no_such_service"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_service" in err[0]
