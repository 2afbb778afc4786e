"""The dependency rules of ARCHITECTURE.md, read from the source: `protocol ← server | resource | client ← web | cli`,
and the demo plugged in from outside: `server` never imports `demo`.

Every import counts, wherever it is written: at the top, inside a function, or under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "sekisho"

PROTOCOL_THIRD_PARTY = frozenset({"joserfc"})
FORBIDDEN_IN_PROTOCOL = ("starlette", "sqlalchemy", "httpx", "aiosqlite", "asyncpg", "jinja2", "argon2")
WEB_ONLY = ("starlette", "jinja2")
DEMO_MAY_USE = (
    "sekisho.resource",
    "sekisho.protocol",
    "sekisho.errors",
    "sekisho.server.entities",
    "sekisho.server.ids",
)


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]

    def __str__(self) -> str:
        return self.name


def discover(package_dir: Path = PACKAGE) -> list[Module]:
    modules = []
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules.append(Module(".".join(parts), path, is_package))
    return modules


MODULES = discover()
MODULE_NAMES = frozenset(module.name for module in MODULES)


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imports_in(source: str, module: Module, known: frozenset[str] = MODULE_NAMES) -> set[str]:
    """The modules `source` imports, as absolute names, as specific as the package layout allows."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=str(module.path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def imports_of(module: Module) -> set[str]:
    return imports_in(module.path.read_text(encoding="utf-8"), module)


def modules_under(prefix: str) -> list[Module]:
    return [module for module in MODULES if within(module.name, prefix)]


def ids(modules: list[Module]) -> list[str]:
    return [module.name for module in modules]


PROTOCOL = modules_under("sekisho.protocol")
SERVER_OUTSIDE_WEB = [
    module for module in modules_under("sekisho.server") if not within(module.name, "sekisho.server.web")
]
RESOURCE = modules_under("sekisho.resource")
CLIENT = modules_under("sekisho.client")
DEMO = modules_under("sekisho.demo")


# ---------------------------------------------------------------- the walker itself


def test_modules_are_found() -> None:
    names = {module.name for module in MODULES}
    assert {"sekisho", "sekisho.errors", "sekisho.protocol", "sekisho.protocol.pkce", "sekisho.server.web"} <= names
    assert PROTOCOL and SERVER_OUTSIDE_WEB and RESOURCE and DEMO


def test_walker_resolves_every_kind_of_import() -> None:
    module = Module("sekisho.server.grants.refresh_token", Path("refresh_token.py"), is_package=False)
    source = textwrap.dedent(
        """
        import json, os.path
        from typing import TYPE_CHECKING
        from sekisho.server import entities, settings as s
        from . import authorization_code
        from .. import ids
        from ..store import Store
        from ...protocol.pkce import s256
        if TYPE_CHECKING:
            import starlette.requests
        def later():
            from sqlalchemy import select
            importlib.import_module("httpx")
        """
    )
    known = frozenset(
        {
            "sekisho.server.entities",
            "sekisho.server.settings",
            "sekisho.server.grants.authorization_code",
            "sekisho.server.ids",
            "sekisho.server.store",
            "sekisho.protocol.pkce",
        }
    )
    assert imports_in(source, module, known) == {
        "json",
        "os.path",
        "typing",
        "sekisho.server.entities",
        "sekisho.server.settings",
        "sekisho.server.grants.authorization_code",
        "sekisho.server.ids",
        "sekisho.server.store",
        "sekisho.protocol.pkce",
        "starlette.requests",
        "sqlalchemy",
        "httpx",
    }


def test_walker_resolves_relative_imports_in_a_package() -> None:
    package = Module("sekisho.server.grants", Path("__init__.py"), is_package=True)
    known = frozenset({"sekisho.server.grants.refresh_token"})
    assert imports_in("from . import refresh_token\nfrom .. import token", package, known) == {
        "sekisho.server.grants.refresh_token",
        "sekisho.server",
    }


def test_walker_sees_the_real_boundaries() -> None:
    # If these stop holding the rules below may pass vacuously; update them with the layout.
    web_imports = set().union(*(imports_of(module) for module in modules_under("sekisho.server.web")))
    assert any(within(name, "starlette") for name in web_imports)
    protocol_imports = set().union(*(imports_of(module) for module in PROTOCOL))
    assert "sekisho.errors" in protocol_imports


# ---------------------------------------------------------------- sekisho.protocol


@pytest.mark.parametrize("module", PROTOCOL, ids=ids(PROTOCOL))
def test_protocol_imports_only_stdlib_joserfc_errors_and_itself(module: Module) -> None:
    bad = sorted(
        name
        for name in imports_of(module)
        if not (
            name.split(".")[0] in sys.stdlib_module_names
            or name.split(".")[0] in PROTOCOL_THIRD_PARTY
            or name == "sekisho.errors"
            or within(name, "sekisho.protocol")
        )
    )
    assert not bad, f"{module} imports {bad}; sekisho.protocol may use only the stdlib, joserfc, sekisho.errors"


@pytest.mark.parametrize("module", PROTOCOL, ids=ids(PROTOCOL))
def test_protocol_uses_no_io_library(module: Module) -> None:
    bad = sorted(name for name in imports_of(module) if name.split(".")[0] in FORBIDDEN_IN_PROTOCOL)
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", PROTOCOL, ids=ids(PROTOCOL))
def test_protocol_never_awaits(module: Module) -> None:
    tree = ast.parse(module.path.read_text(encoding="utf-8"))
    async_nodes = (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)
    lines = sorted(node.lineno for node in ast.walk(tree) if isinstance(node, async_nodes))
    assert not lines, f"{module} is sans-I/O but has async code at lines {lines}"


# ---------------------------------------------------------------- sekisho.resource and sekisho.client


@pytest.mark.parametrize("module", RESOURCE, ids=ids(RESOURCE))
def test_resource_never_imports_server(module: Module) -> None:
    bad = sorted(name for name in imports_of(module) if within(name, "sekisho.server"))
    assert not bad, f"{module} imports {bad}; sekisho.resource never imports sekisho.server"


def test_client_never_imports_server() -> None:
    if not CLIENT:
        pytest.skip("sekisho.client has no modules yet")
    bad = {str(module): sorted(n for n in imports_of(module) if within(n, "sekisho.server")) for module in CLIENT}
    bad = {module: names for module, names in bad.items() if names}
    assert not bad, f"sekisho.client never imports sekisho.server: {bad}"


def test_importing_client_does_not_load_sqlalchemy() -> None:
    if not (PACKAGE / "client" / "__init__.py").is_file():
        pytest.skip("src/sekisho/client/__init__.py does not exist yet")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    script = (
        "import sekisho.client, sys; "
        "assert 'sqlalchemy' not in sys.modules, 'import sekisho.client loaded sqlalchemy'; "
        "assert 'sekisho.server' not in sys.modules, 'import sekisho.client loaded sekisho.server'"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- sekisho.server


@pytest.mark.parametrize("module", SERVER_OUTSIDE_WEB, ids=ids(SERVER_OUTSIDE_WEB))
def test_only_server_web_imports_starlette_or_jinja2(module: Module) -> None:
    bad = sorted(name for name in imports_of(module) if name.split(".")[0] in WEB_ONLY)
    assert not bad, f"{module} imports {bad}; only sekisho.server.web may"


SERVER = modules_under("sekisho.server")


@pytest.mark.parametrize("module", SERVER, ids=ids(SERVER))
def test_server_never_imports_demo(module: Module) -> None:
    """Issue 22 item 2: the demo mounts itself (sekisho.app); the server does not know it."""
    bad = sorted(name for name in imports_of(module) if within(name, "sekisho.demo"))
    assert not bad, f"{module} imports {bad}; sekisho.server never imports sekisho.demo"


# ---------------------------------------------------------------- sekisho.demo


@pytest.mark.parametrize("module", DEMO, ids=ids(DEMO))
def test_demo_is_built_on_resource(module: Module) -> None:
    bad = sorted(
        name
        for name in imports_of(module)
        if within(name, "sekisho")
        and not within(name, "sekisho.demo")
        and not any(within(name, allowed) for allowed in DEMO_MAY_USE)
    )
    assert not bad, f"{module} imports {bad}; sekisho.demo may use only {', '.join(DEMO_MAY_USE)}"
