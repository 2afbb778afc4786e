"""The servers under test: `sekisho serve` (seeded with its own CLI) and node's oidc-provider (tests/node.py)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests import node
from tests.live import cli as live_cli
from tests.live import free_port

from bench import procs

SEKISHO = Path(sys.executable).parent / "sekisho"
USERNAME = "bench"
SCOPE = "read:account"
REDIRECT_URI = "http://127.0.0.1:8765/callback"


class Unavailable(RuntimeError):
    """A tool the harness needs is missing (wrk, npm, PostgreSQL): tests skip on it outside CI."""


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined and base64-encoded."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


@dataclass(frozen=True)
class Seed:
    """What the CLI registered in a database: a user, a confidential service client and a public app."""

    database: str
    password: str
    service_id: str
    service_secret: str
    app_id: str


def seed(database: str, tree: Path | None = None) -> Seed:
    """`sekisho user add` (which creates the schema), then two `sekisho client add` side by side; with `tree`, that
    tree's CLI (bench/ab.py)."""
    cli = partial(live_cli, env=tree_environment(tree)) if tree is not None else live_cli
    password = secrets.token_urlsafe(16)
    cli("user", "add", USERNAME, "--password-stdin", database=database, stdin=password + "\n")
    service_args = ["--name", "bench service", "--grant-type", "client_credentials", "--scope", SCOPE]
    app_args = ["--name", "bench app", "--public", "--redirect-uri", REDIRECT_URI]

    def add(args: list[str]) -> dict[str, str]:
        registered: dict[str, str] = json.loads(cli("client", "add", *args, "--json", database=database).stdout)
        return registered

    with ThreadPoolExecutor(max_workers=2) as pool:
        service, app = pool.map(add, (service_args, app_args))
    return Seed(database, password, service["client_id"], service["client_secret"], app["client_id"])


@dataclass
class Server:
    """A running server: its base URL, the pid that serves, and how to stop it."""

    url: str
    process: subprocess.Popen[bytes]
    serving_pid: int
    log: Path

    def peak_rss_mib(self) -> float:
        return procs.peak_rss_mib(self.serving_pid)


def tree_environment(tree: Path) -> dict[str, str]:
    """This environment, with `tree`'s sekisho first on the import path."""
    return dict(os.environ, PYTHONPATH=f"{tree / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


@contextmanager
def sekisho_serve(database: str, token_format: str, log: Path, tree: Path | None = None) -> Iterator[Server]:
    """`sekisho serve` with one worker on the server core, until the block ends; with `tree`, that tree's (whose
    demo API is mounted without a flag when it has no `--demo-api`)."""
    port = free_port()
    start: dict[str, Any] = {}
    demo = ["--demo-api"]
    if tree is not None:
        start["env"] = tree_environment(tree)
        demo = demo if "demo_api" in (tree / "src/sekisho/server/settings.py").read_text() else []
    command = [
        *([str(SEKISHO)] if tree is None else [sys.executable, "-m", "sekisho"]), "serve",
        "--host", "127.0.0.1", "--port", str(port), "--database", database,
        "--workers", "1", "--access-token-format", token_format, "--no-access-log", *demo,
    ]  # fmt: skip
    with _pinned_server(command, port, "/.well-known/oauth-authorization-server", log, **start) as server:
        procs.say(f"  sekisho serve ({token_format}) is up; VmHWM is read from pid {server.serving_pid} of:")
        procs.say(procs.describe_tree(server.process.pid))
        yield server


@contextmanager
def resource_api(issuer: str, log: Path) -> Iterator[Server]:
    """bench/resource_api.py: checks sekisho's JWTs locally."""
    with bench_app("bench.resource_api:from_environment", {"SEKISHO_ISSUER": issuer}, log) as server:
        yield server


@contextmanager
def floor_api(database: str | None, log: Path) -> Iterator[Server]:
    """bench/floor_api.py: the least a token endpoint on sekisho's stack does; `database`: with one INSERT."""
    with bench_app("bench.floor_api:from_environment", {"FLOOR_DATABASE": database or ""}, log) as server:
        yield server


@contextmanager
def bench_app(factory: str, env: dict[str, str], log: Path) -> Iterator[Server]:
    """An app of bench/ under uvicorn (one process, on the server core), `env` added to its environment."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", factory, "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    with _pinned_server(command, port, "/healthz", log, env=dict(os.environ, **env), cwd=root) as server:
        yield server


@contextmanager
def _pinned_server(command: list[str], port: int, ready_path: str, log: Path, **start: Any) -> Iterator[Server]:
    """`command` on the server core, once `ready_path` answers 200 on `port`; stopped when the block ends."""
    process = procs.start(procs.pinned(procs.SERVER_CORE, command), log=log, **start)
    try:
        url = f"http://127.0.0.1:{port}"
        procs.wait_for_http(url + ready_path, process, log)
        yield Server(url, process, procs.serving_pid(process.pid, port), log)
    finally:
        procs.stop(process)


# ------------------------------------------------------------------------------------------------ the peer


def install_peer() -> None:
    """`npm ci` of tests/oidc_provider when node_modules is missing or was installed from other manifests."""
    if node.installed():
        return
    procs.say("installing tests/oidc_provider with npm ci …")
    try:
        node.install()
    except node.NodeUnavailable as exc:
        raise Unavailable(str(exc)) from exc


@dataclass(frozen=True)
class PeerClient:
    client_id: str
    secret: str

    def metadata(self) -> dict[str, object]:
        """oidc-provider's static client: confidential (client_secret_basic), client_credentials only."""
        return {
            "client_id": self.client_id,
            "client_secret": self.secret,
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": SCOPE,
        }


@contextmanager
def peer(token_format: str, client: PeerClient, log: Path) -> Iterator[Server]:
    """oidc-provider (provider.mjs, profile peer-opaque or peer-jwt) on the server core, with opaque or JWT (ES256)
    access tokens."""
    env = {"NODE_ENV": "production", "OIDC_CLIENTS": json.dumps([client.metadata()])}
    process = node.start(
        f"peer-{token_format}",
        env=env,
        log=log,
        prefix=procs.pinned(procs.SERVER_CORE, []),
        preexec_fn=procs.die_with_parent,
    )
    try:
        url = node.read_ready(process, log)
        port = int(url.rsplit(":", 1)[1])
        yield Server(url, process, procs.serving_pid(process.pid, port), log)
    finally:
        procs.stop(process)
