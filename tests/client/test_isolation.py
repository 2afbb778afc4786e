"""`sekisho.client` is a library for bots: it never pulls in the server or its database stack."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import sekisho.client as client
for module in pkgutil.iter_modules(client.__path__):
    importlib.import_module("sekisho.client." + module.name)
heavy = ("sqlalchemy", "alembic", "asyncpg", "aiosqlite", "argon2", "jinja2", "sekisho.server", "sekisho.resource")
print(" ".join(sorted(name for name in sys.modules if name.startswith(heavy))))
"""


def test_importing_every_client_module_loads_no_server_and_no_database() -> None:
    loaded = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
