"""The package's shape, checked from its own source: the folders show the architecture, imports run one way.

- `scoreutils/` holds at most 16 entries, the sandbox and the reporting among them as subpackages;
- no module imports the command line (`scoreutils/__main__.py`), and no import circle exists between modules
  (imports inside functions count; `if TYPE_CHECKING:` blocks do not: they never run);
- the losses are equations: `losses.py` imports no other module of the kit (log-probs come from `logprobs.py`).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scoreutils"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The kit's modules that `path` imports when it runs (module level and inside functions)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in child.names:
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if candidate in modules else base)
            elif isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    files = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    modules = {_module_name(p) for p in files}
    return {_module_name(p): _imports(p, modules) for p in files}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` (a list of modules, first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_the_top_level_has_at_most_16_entries_with_the_sandbox_and_reporting_as_subpackages():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__" and (p.suffix == ".py" or p.is_dir()))
    assert len(entries) <= 16, entries
    for sub in ("sandbox", "report"):
        assert (PACKAGE / sub / "__init__.py").is_file(), sub


def test_no_module_imports_the_command_line():
    importers = sorted(m for m, deps in _graph().items() if "scoreutils.__main__" in deps)
    assert importers == []


def test_there_is_no_import_circle():
    assert _cycle(_graph()) is None


def test_the_losses_import_nothing_of_the_kit():
    assert _graph()["scoreutils.losses"] == set()


@pytest.mark.parametrize("graph, circle", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
])
def test_the_circle_finder_finds_a_planted_circle(graph, circle):
    assert _cycle(graph) == circle


def test_imports_in_type_checking_blocks_and_functions_are_told_apart(tmp_path, monkeypatch):
    package = tmp_path / "scoreutils"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import x\n"
                                  "def f():\n    from .c import y\n")
    (package / "b.py").write_text("")
    (package / "c.py").write_text("")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", package)
    assert _graph()["scoreutils.a"] == {"scoreutils.c"}
