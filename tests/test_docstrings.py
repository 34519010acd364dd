"""Every public class and function of the two packages says what it is for (issue 12 item 6)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def public_definitions(package: str, root: Path = ROOT):
    """(file, line, qualified name, docstring) of every public class, function and method."""
    for path in sorted((root / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def walk(node, prefix=""):
            for n in ast.iter_child_nodes(node):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    if not n.name.startswith("_"):
                        yield path.relative_to(root), n.lineno, prefix + n.name, ast.get_docstring(n)
                    if isinstance(n, ast.ClassDef):
                        yield from walk(n, prefix + n.name + ".")

        yield from walk(tree)


@pytest.mark.parametrize("package", ["simulation", "analysis"])
def test_every_public_definition_has_a_one_line_summary(package):
    found = list(public_definitions(package))
    assert len(found) > 50  # the walk really found the packages' definitions
    missing = [f"{f}:{line} {name}" for f, line, name, doc in found if not doc or not doc.strip().splitlines()[0]]
    assert not missing, "public definitions without a docstring:\n" + "\n".join(missing)


def test_the_check_sees_a_missing_docstring(tmp_path):
    """The walk flags an undocumented public function and ignores a private one."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text("def public():\n    return 1\n\ndef _private():\n    return 2\n")
    names = [(name, doc) for _, _, name, doc in public_definitions("pkg", tmp_path)]
    assert names == [("public", None)]
