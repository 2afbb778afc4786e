"""The servers under test: `sekisho serve` (seeded with its own CLI) and node's oidc-provider (bench/peer)."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import secrets
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.live import free_port

from bench import procs

SEKISHO = Path(sys.executable).parent / "sekisho"
PEER = Path(__file__).parent / "peer"
PEER_NODE = PEER / "node_modules" / "node" / "bin" / "node"
PEER_STAMP = PEER / "node_modules" / ".sekisho-installed-from"
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


def _cli(*args: str, database: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(SEKISHO), *args, "--database", database],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sekisho {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def seed(database: str) -> Seed:
    """`sekisho user add` (which creates the schema), then two `sekisho client add` side by side."""
    password = secrets.token_urlsafe(16)
    _cli("user", "add", USERNAME, "--password-stdin", database=database, stdin=password + "\n")
    service_args = ["--name", "bench service", "--grant-type", "client_credentials", "--scope", SCOPE]
    app_args = ["--name", "bench app", "--public", "--redirect-uri", REDIRECT_URI]

    def add(args: list[str]) -> dict[str, str]:
        registered: dict[str, str] = json.loads(_cli("client", "add", *args, "--json", database=database))
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


@contextmanager
def sekisho_serve(database: str, token_format: str, log: Path) -> Iterator[Server]:
    """`sekisho serve` with one worker on the server core, until the block ends."""
    port = free_port()
    command = [
        str(SEKISHO), "serve", "--host", "127.0.0.1", "--port", str(port), "--database", database,
        "--workers", "1", "--access-token-format", token_format, "--no-access-log",
    ]  # fmt: skip
    process = procs.start(procs.pinned(procs.SERVER_CORE, command), log=log)
    try:
        url = f"http://127.0.0.1:{port}"
        procs.wait_for_http(url + "/.well-known/oauth-authorization-server", process, log)
        serving = procs.serving_pid(process.pid, port)
        procs.say(f"  sekisho serve ({token_format}) is up; VmHWM is read from pid {serving} of:")
        procs.say(procs.describe_tree(process.pid))
        yield Server(url, process, serving, log)
    finally:
        procs.stop(process)


# ------------------------------------------------------------------------------------------------ the peer


def _manifest_hash() -> str:
    """What node_modules was installed from (the stamp tests/interop uses too)."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update(name.encode() + b"\0" + (PEER / name).read_bytes() + b"\0")
    return digest.hexdigest()


def peer_installed() -> bool:
    return PEER_NODE.is_file() and PEER_STAMP.is_file() and PEER_STAMP.read_text() == _manifest_hash()


def install_peer() -> None:
    """`npm ci` in bench/peer when node_modules is missing or was installed from other manifests."""
    if peer_installed():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm is missing (apt-get install nodejs npm, or run scripts/system-deps as root)")
    with (PEER / "package.json").open("rb") as manifest:
        fcntl.flock(manifest, fcntl.LOCK_EX)  # two harness runs must not install into one folder at once
        try:
            if peer_installed():
                return
            procs.say("installing bench/peer with npm ci …")
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--no-update-notifier"],
                cwd=PEER,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0 or not PEER_NODE.is_file():
                tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
                raise Unavailable(f"npm ci in {PEER} failed ({done.returncode}):\n{tail}")
            PEER_STAMP.write_text(_manifest_hash())
        finally:
            fcntl.flock(manifest, fcntl.LOCK_UN)


@dataclass(frozen=True)
class PeerClient:
    client_id: str
    secret: str


def _read_ready(process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> str:
    """The issuer from peer.mjs's `READY <issuer>` line."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffered = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffered:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise RuntimeError(f"oidc-provider did not start within {timeout:.0f} s:\n{procs.tail(log)}")
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"oidc-provider exited before it was ready:\n{procs.tail(log)}")
            buffered += chunk
    line = buffered.split(b"\n", 1)[0].decode()
    if not line.startswith("READY http://127.0.0.1:"):
        raise RuntimeError(f"unexpected first line from peer.mjs {line!r}:\n{procs.tail(log)}")
    return line.removeprefix("READY ")


@contextmanager
def peer(token_format: str, client: PeerClient, log: Path) -> Iterator[Server]:
    """oidc-provider (peer.mjs) on the server core, with opaque or JWT (ES256) access tokens."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "NODE_ENV": "production",
        "PEER_FORMAT": token_format,
        "PEER_CLIENT_ID": client.client_id,
        "PEER_CLIENT_SECRET": client.secret,
    }
    command = procs.pinned(procs.SERVER_CORE, [str(PEER_NODE), str(PEER / "peer.mjs"), "0"])
    process = procs.start(command, log=log, env=env, cwd=PEER, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        url = _read_ready(process, log)
        port = int(url.rsplit(":", 1)[1])
        yield Server(url, process, procs.serving_pid(process.pid, port), log)
    finally:
        procs.stop(process)
