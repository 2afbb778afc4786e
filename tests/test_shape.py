"""The shape issue 22 asks of the code, read from the source: small interfaces, no `remembered` flag, and no
module that subclasses or reads private attributes of uvicorn, SQLAlchemy, asyncpg or joserfc."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sekisho"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_PUBLIC_METHODS = 15
LIBRARIES = ("uvicorn", "sqlalchemy", "asyncpg", "joserfc")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_modules_are_found() -> None:
    assert len(MODULES) > 50


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_class_or_protocol_has_more_than_fifteen_public_methods(path: Path) -> None:
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ClassDef):
            public = [
                each.name
                for each in node.body
                if isinstance(each, ast.FunctionDef | ast.AsyncFunctionDef) and not each.name.startswith("_")
            ]
            assert len(public) <= MAX_PUBLIC_METHODS, f"{node.name}: {len(public)} public methods {public}"


@pytest.mark.parametrize("path", [p for p in MODULES if "server" in p.parts], ids=_name)
def test_no_server_function_takes_a_remembered_flag(path: Path) -> None:
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = [arg.arg for arg in (*node.args.args, *node.args.kwonlyargs)]
            assert "remembered" not in names, f"{node.name} takes `remembered`"


def _library_names(tree: ast.Module) -> set[str]:
    """The names a module binds to uvicorn, SQLAlchemy, asyncpg or joserfc (modules, classes, functions)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith(LIBRARIES)}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(LIBRARIES):
            names |= {a.asname or a.name for a in node.names}
    return names


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_subclasses_or_reads_the_private_parts_of_a_library(path: Path) -> None:
    tree = _tree(path)
    library = _library_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                root = base
                while isinstance(root, ast.Attribute):
                    root = root.value
                assert not (isinstance(root, ast.Name) and root.id in library), f"{node.name} subclasses a library"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in library:
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            assert not private, f"{node.value.id}.{node.attr} is private"
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(LIBRARIES):
            assert not any(part.startswith("_") for part in (node.module or "").split(".")), node.module
            assert not any(a.name.startswith("_") for a in node.names), node.module
    # SQLAlchemy's compiler attribute; its public counterpart is construct_expanded_state().positiontup
    assert "compiled.positiontup" not in path.read_text()


FIGURES = ("req/s", "µs", "×", "RESULTS.md", " pass)", "tenth pass", "ninth pass")


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_docstring_or_comment_quotes_a_benchmark_figure(path: Path) -> None:
    """Measured figures and the reasons for fast paths live in docs/performance.md, once."""
    text = path.read_text()
    assert not [figure for figure in FIGURES if figure in text], "see docs/performance.md"
