"""What a run costs outside the event loop was cut without changing a number: each shortcut against the plain way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation import entities, rng
from simulation.api import load_config
from simulation.runner import chunk_kpis, gather
from simulation.service import Service


@pytest.fixture(scope="module")
def two_runs():
    """Two small runs of reference A (with a policy that reassigns), as (config, service, tables)."""
    cfg = load_config(["run.horizon_days=300", "run.warmup_days=60", "policy=alliance_threshold",
                       "output.sessions=true"])
    out = []
    for r in (0, 1):
        svc = Service(cfg, r, "check")
        svc.simulate()
        out.append((cfg, svc, svc.tables()))
    return out


def test_patient_fields_are_the_agents_attributes(two_runs):
    """The one-pass read (a C loop when compiled) gives every listed field of every patient, in its place."""
    _, svc, _ = two_runs[0]
    ps = svc.patients
    f = entities.patient_fields(ps)
    for names, dtype in ((entities.PATIENT_DOUBLES, np.float64), (entities.PATIENT_LONGS, np.int64),
                         (entities.PATIENT_FLAGS, np.bool_)):
        for name in names:
            expected = np.array([getattr(p, name) for p in ps], dtype=dtype)
            assert f[name].dtype == dtype
            np.testing.assert_array_equal(f[name], expected, err_msg=name)
    assert len(set(entities.PATIENT_DOUBLES + entities.PATIENT_LONGS + entities.PATIENT_FLAGS)) == len(f)


def test_kpis_of_gathered_chunks_are_the_kpis_of_each_chunk(two_runs):
    """One chunk's tables take the no-copy path, several the row selection: the rows must agree."""
    cfg = two_runs[0][0]
    each = pd.concat([chunk_kpis(cfg, t) for _, _, t in two_runs], ignore_index=True)
    together = chunk_kpis(cfg, gather([t for _, _, t in two_runs]))
    pd.testing.assert_frame_equal(together, each)
    assert together["replication"].tolist() == [0, 1]


def _textbook_keyed_normals(seed, replication, purpose, keys, width):
    """keyed_normals as first written (every row hashed from the seed on, no in-place mixing): the oracle."""
    def mix(x):
        x = x + np.uint64(rng._GOLDEN)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(rng._MIX1)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(rng._MIX2)
        return x ^ (x >> np.uint64(31))

    n = len(keys[0])
    with np.errstate(over="ignore"):
        h = np.full(n, mix(np.array([seed % 2 ** 64], dtype=np.uint64))[0], dtype=np.uint64)
        for k in (replication, purpose):
            h = mix(h ^ np.uint64(k % 2 ** 64))
        for col in keys:
            h = mix(h ^ np.asarray(col).astype(np.int64).astype(np.uint64))
        bits = mix(h[:, None] ^ mix(np.arange(2 * width, dtype=np.uint64))[None, :]) >> np.uint64(11)
    u = (bits.astype(np.float64) + 0.5) * 2.0 ** -53
    return np.sqrt(-2.0 * np.log(u[:, :width])) * np.cos(2.0 * np.pi * u[:, width:])


@pytest.mark.parametrize("width", [1, 24])
def test_keyed_normals_are_bit_identical_to_the_textbook_hash(width):
    ids = np.arange(500) % 37
    keys = [ids, np.arange(500), -np.arange(500)]
    got = rng.keyed_normals(2024, 7, rng.ANXIETY, keys, width)
    np.testing.assert_array_equal(got, _textbook_keyed_normals(2024, 7, rng.ANXIETY, keys, width))


def test_tables_keep_their_dtypes_when_empty(two_runs):
    """Explicit column dtypes: a run without reassignments still has int64/float64/object/bool columns."""
    cfg = load_config(["run.horizon_days=30", "run.warmup_days=0", "service.referrals_per_week=0"])
    svc = Service(cfg, 0, "empty")
    svc.simulate()
    t = svc.tables()
    full = two_runs[0][2]
    for name in ("patients", "reassignments", "clinicians", "timeseries", "caseloads"):
        assert list(t[name].columns) == list(full[name].columns), name
        if name in ("patients", "reassignments"):
            assert len(t[name]) == 0
            assert t[name].dtypes.astype(str).tolist() == full[name].dtypes.astype(str).tolist(), name
