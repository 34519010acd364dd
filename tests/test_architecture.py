"""The package's seams hold: no import cycle, no reach into the service's private state,
and the session step, policies and workforce use only the protocols of simulation.ports.

Parsed with ``ast`` (nothing is imported to build the graph), so a type-only import
under ``if TYPE_CHECKING`` counts like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Optional

import pytest

import simulation
from simulation import ports
from simulation.entities import Clinician, Dyad, Patient
from simulation.policies import AllianceThreshold, HoldForReplacement, LeastLoaded
from simulation.config import AllianceThresholdConfig, PolicyConfig

PKG = Path(simulation.__file__).resolve().parent
# Which modules may use the service, and through which protocols of simulation/ports.py.
USERS = {"session.py": ("SessionPort",), "policies.py": ("PolicyPort",), "workforce.py": ("StaffPort",),
         "tables.py": ("RunRecord",)}
SERVICE_NAMES = {"svc", "service"}


def _trees(pkg: Path) -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text(), filename=str(p)) for p in sorted(pkg.glob("*.py"))}


def import_graph(pkg: Path) -> dict[str, set[str]]:
    """Module -> modules of the same package it imports (relative or absolute, at any depth)."""
    name = pkg.name
    modules = {p[:-3] for p in _trees(pkg)}
    graph = {}
    for fname, tree in _trees(pkg).items():
        deps: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                parts = (node.module or "").split(".") if node.module else []
                if node.level == 1:
                    deps.update([parts[0]] if parts else [a.name for a in node.names])
                elif node.level == 0 and parts and parts[0] == name:
                    deps.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == name and len(parts) > 1:
                        deps.add(parts[1])
        graph[fname[:-3]] = {d for d in deps if d in modules and d != fname[:-3]}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> Optional[list[str]]:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> Optional[list[str]]:
        state[m] = 1
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_type_only_and_function_level_imports(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import X\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import c\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    assert import_graph(pkg) == {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert find_cycle(import_graph(pkg)) == ["a", "b", "c", "a"]


def test_simulation_has_no_import_cycle():
    graph = import_graph(PKG)
    assert "service" in graph["runner"]  # the graph is real
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_only_the_service_imports_the_service_module_among_its_users():
    graph = import_graph(PKG)
    for fname in USERS:
        assert "service" not in graph[fname[:-3]], fname


def _service_expr(node: ast.AST) -> bool:
    """``svc``, ``service``, ``self.svc`` or ``self.service``."""
    if isinstance(node, ast.Name):
        return node.id in SERVICE_NAMES
    return (isinstance(node, ast.Attribute) and node.attr in SERVICE_NAMES and isinstance(node.value, ast.Name)
            and node.value.id == "self")


def test_no_module_but_the_service_touches_its_private_members():
    offences = []
    for fname, tree in _trees(PKG).items():
        if fname == "service.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and _service_expr(node.value):
                offences.append(f"{fname}:{node.lineno} .{node.attr}")
    assert offences == []


def _protocol_members(name: str) -> set[str]:
    tree = ast.parse(Path(ports.__file__).read_text())
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    members: set[str] = set()
    todo = [name]
    while todo:
        cls = classes[todo.pop()]
        for item in cls.body:
            if isinstance(item, ast.FunctionDef):
                members.add(item.name)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                members.add(item.target.id)
        todo += [b.id for b in cls.bases if isinstance(b, ast.Name) and b.id in classes]
    return members


@pytest.mark.parametrize("fname", sorted(USERS))
def test_users_of_the_service_ask_only_what_their_protocol_offers(fname):
    allowed = set().union(*(_protocol_members(p) for p in USERS[fname]))
    used = set()
    for node in ast.walk(_trees(PKG)[fname]):
        if isinstance(node, ast.Attribute) and _service_expr(node.value):
            used.add(node.attr)
    assert used, fname  # the check sees the module's uses
    assert used <= allowed, f"{fname} uses {sorted(used - allowed)} beyond {USERS[fname]}"


def test_the_service_implements_every_protocol():
    from simulation.api import load_config
    from simulation.service import Service

    svc = Service(load_config(["service.referrals_per_week=0"]), 0)
    for proto in (ports.PolicyPort, ports.SessionPort, ports.StaffPort, ports.RunRecord):
        assert isinstance(svc, proto), proto.__name__
    assert not isinstance(object(), ports.PolicyPort)


# --------------------------------------------------------------------------- policies on a fake service
class FakeService:
    """Only :class:`simulation.ports.PolicyPort`, with a scripted team: a policy that asks
    anything else of its service fails here with AttributeError."""

    __slots__ = ("env", "end_day", "team", "moves", "queued", "started")

    def __init__(self, team: list[Clinician]):
        self.env = None
        self.end_day = 100.0
        self.team = team
        self.moves: list[tuple] = []
        self.queued: list[tuple] = []
        self.started: list[tuple] = []

    def reassign(self, dyad, cause, priority=False, queue=True):
        dyad.active = False
        dyad.patient.dyads.remove(dyad)
        self.moves.append((dyad.patient.id, cause, priority, queue))
        return dyad.patient.id % 2 == 0  # odd patients drop out at the move

    def requeue(self, patient, discipline, priority):
        self.queued.append((patient.id, discipline, priority))

    def start_dyad(self, patient, clinician, carried=None):
        self.started.append((patient.id, clinician.id, carried))
        return _dyad(patient, clinician)

    def has_dyad(self, patient, discipline):
        return any(dy.discipline == discipline for dy in patient.dyads)

    def alternatives(self, patient, discipline, current):
        return [c for c in self.team if c.active and c is not current and c.id not in patient.avoid]

    def free_clinicians(self, team, discipline):
        raise AssertionError("not asked in these tests")

    def patient_uniform(self, patient, k):
        return 0.5

    def patient_normal(self, patient, clinician_id):
        return 0.0


def _clinician(cid: int) -> Clinician:
    return Clinician(id=cid, team=0, discipline=0, alliance_skill=0.0, outcome_skill=1.0, detection_logit=0.0,
                     repair_logit=0.0, rater_bias=0.0, style=(0.0,), caseload_cap=5, comfortable_caseload=5,
                     start_day=0.0)


def _patient(pid: int) -> Patient:
    return Patient(id=pid, referral_day=0.0, group="g", baseline_severity=15.0, baseline_observed=15.0,
                   severity=15.0, capacity_z=0.0, sensitivity_z=0.0, engagement_z=0.0, response_rate=0.1,
                   rating_bias=0.0, style=(0.0,), max_sessions=10, measured=True, renege_day=1e9)


def _dyad(p: Patient, c: Clinician) -> Dyad:
    dy = Dyad(id=len(p.dyads), patient=p, clinician=c, discipline=0, tape=None, weight=1.0, start_day=0.0,
              goals=0.5, tasks=0.5, bond=0.5, potential_goals=0.6, potential_tasks=0.6, potential_bond=0.6)
    p.dyads.append(dy)
    return dy


def test_alliance_threshold_runs_on_the_protocol_alone():
    cfg = PolicyConfig(reassignment="alliance_threshold",
                       alliance_threshold=AllianceThresholdConfig(threshold=3.0, consecutive=2, measure_every=1))
    a, b = _clinician(0), _clinician(1)
    fake = FakeService([a, b])
    assert isinstance(fake, ports.PolicyPort)
    policy = AllianceThreshold(cfg, fake)
    p = _patient(0)
    dy = _dyad(p, a)
    decisions = []
    for rating in (2.0, 3.5, 2.0, 2.0):
        dy.attended += 1
        decisions.append(policy.after_session(dy, rating, 0.5))
    assert decisions == [None, None, None, "policy"]  # the run restarts after a rating at the cut
    p.avoid = frozenset({1})  # the only colleague is one the patient left: no move
    assert policy.after_session(dy, 1.0, 0.5) is None


def test_hold_for_replacement_keeps_its_own_held_patients():
    cfg = PolicyConfig(on_leave="hold")
    old, new = _clinician(0), _clinician(1)
    fake = FakeService([old, new])
    policy = HoldForReplacement(cfg, fake)
    patients = [_patient(i) for i in range(4)]
    dyads = [_dyad(p, old) for p in patients]
    for p in patients:
        p.carried[0] = 0.25 + p.id
    policy.clinician_left(old, dyads)
    assert fake.moves == [(i, "turnover", False, False) for i in range(4)]  # held off the queue
    assert [p.id for p in policy.held[old.id]] == [0, 2]  # those who did not drop out at the move
    patients[2].exited = True
    policy.post_filled(old, new)
    assert fake.started == [(0, 1, 0.25)]  # the held patient starts with the replacement
    assert policy.held == {}
    assert fake.queued == []


def test_hold_for_replacement_queues_with_priority_when_the_replacement_is_full():
    old, new = _clinician(0), _clinician(1)
    new.caseload = new.caseload_cap
    fake = FakeService([old, new])
    policy = HoldForReplacement(PolicyConfig(on_leave="hold"), fake)
    p = _patient(0)
    policy.clinician_left(old, [_dyad(p, old)])
    policy.post_filled(old, new)
    assert fake.queued == [(0, 0, True)] and fake.started == []


def test_least_loaded_asks_the_index_of_the_service():
    from simulation.capacity import FreeClinicians

    a, b, c = _clinician(0), _clinician(1), _clinician(2)
    a.caseload, b.caseload, c.caseload = 3, 1, 2
    index = FreeClinicians()
    for x in (a, b, c):
        index.join(x)

    class Fake(FakeService):
        __slots__ = ()

        def free_clinicians(self, team, discipline):
            return index

    policy = LeastLoaded(PolicyConfig(), Fake([a, b, c]))
    assert policy.choose(_patient(0), [a, b, c]) is b
    assert policy.choose(_patient(0), [a, c]) is c  # not every free clinician: a scan of the options
