"""The analysis package's seams: no import cycle, simulation/ never imports analysis/, no private imports,
no results attached to run objects as ad-hoc attributes."""

from __future__ import annotations

import ast
import dataclasses
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("analysis", "simulation")


def _modules(package: str) -> dict[str, Path]:
    return {f"{package}.{p.stem}" if p.stem != "__init__" else package: p
            for p in sorted((ROOT / package).glob("*.py"))}


ALL = {**_modules("analysis"), **_modules("simulation")}


def _imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names imported from it, line) for every import, at any depth (functions,
    TYPE_CHECKING blocks included); relative imports resolved; ``from pkg import submodule`` gives the
    submodule."""
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names = [a.name for a in node.names]
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in ALL]
            out += [(s, [], node.lineno) for s in subs]
            out.append((base, [n for n in names if f"{base}.{n}" not in ALL], node.lineno))
    return out


def _graph(package: str) -> dict[str, set[str]]:
    g: dict[str, set[str]] = {m: set() for m in ALL if m.split(".")[0] == package}
    for m in g:
        for target, _, _ in _imports(m, ALL[m]):
            if target in g and target != m:
                g[m].add(target)
    return g


def _cycle(g: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``g`` (as a path), or [] if it has none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str]:
        state[n] = 1
        stack.append(n)
        for m in sorted(g[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return []

    for n in sorted(g):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return []


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_analysis_has_no_import_cycle():
    g = _graph("analysis")
    assert {"analysis.report", "analysis.figures", "analysis.trial"} <= set(g)
    assert "analysis.figures" in g["analysis.trial"]  # the graph sees real edges
    assert _cycle(g) == [], " -> ".join(_cycle(g))


def test_simulation_never_imports_analysis():
    bad = [f"{m}:{line} imports {t}" for m, p in ALL.items() if m.startswith("simulation")
           for t, _, line in _imports(m, p) if t.split(".")[0] == "analysis"]
    assert not bad, bad


def test_no_private_names_imported_across_modules():
    files = {**ALL, **{f"tests.{p.stem}": p for p in (ROOT / "tests").glob("*.py")}}
    bad = []
    for m, p in files.items():
        for target, names, line in _imports(m, p):
            if target.split(".")[0] in PACKAGES and target != m:
                bad += [f"{m}:{line} imports {target}.{n}" for n in names
                        if n.startswith("_") and not n.startswith("__")]
        # and no attribute access to a private member of an imported analysis module (figures._landmark)
        tree = ast.parse(p.read_text())
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and (node.module or "").startswith("analysis") for a in node.names
                   if f"{node.module}.{a.name}" in ALL}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{m}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not bad, bad


def test_results_are_not_attached_to_run_objects():
    """``run.x = ...`` / ``res.x = ...`` only for declared dataclass fields (typed), in analysis and the API."""
    from analysis.rundata import RunData
    from simulation.runner import Results

    declared = {f.name for f in dataclasses.fields(RunData)} | {f.name for f in dataclasses.fields(Results)}
    bad = []
    for m, p in ALL.items():
        if not (m.startswith("analysis") or m in ("simulation.api", "simulation.cli", "simulation.report")):
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for t in targets:
                if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                        and t.value.id in ("run", "res", "results") and t.attr not in declared):
                    bad.append(f"{m}:{node.lineno} sets {t.value.id}.{t.attr}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr")
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                    and str(node.args[1].value).startswith("_")):
                bad.append(f"{m}:{node.lineno} {node.func.id}(..., {node.args[1].value!r})")
    assert not bad, bad


def test_figures_carry_title_and_needs_in_their_registry_entry():
    import analysis.report  # noqa: F401  (imports every module that registers figures)
    from analysis.figures import FIGURES, NEEDS

    assert {"kpis", "differences", "retention", "retention_by_rupture", "trajectories", "dose_response", "service",
            "power", "trial_estimates"} <= set(FIGURES)
    for name, f in FIGURES.items():
        assert f.name == name and f.title and f.title[0].isupper(), name
        assert set(f.needs) <= set(NEEDS), name
    assert "sessions" in FIGURES["trajectories"].needs and "extra.trial" in FIGURES["power"].needs
    assert ">=2 scenarios" in FIGURES["differences"].needs and "extra.dose" in FIGURES["dose_response"].needs


def test_console_script_registers_the_reporters():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["scripts"]["alliance-sim"] == "analysis.cli:main"
    assert meta["entry-points"]["alliance_sim.reporters"]["analysis"] == "analysis.cli:after_run"
    from simulation import report

    assert "analysis" in report.reporters()  # discovered from the installed entry point
