"""Real `sekisho` processes on 127.0.0.1 for end-to-end and browser tests."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx

if TYPE_CHECKING:
    import pytest

    from tests.conftest import Databases

SEKISHO = [sys.executable, "-m", "sekisho"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli(
    *args: str,
    database: str,
    stdin: str | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `sekisho ARGS --database DATABASE` (in `env`, this process's environment when None) and return the
    finished process."""
    done = subprocess.run(
        [*SEKISHO, *args, "--database", database],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"sekisho {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


@dataclass
class LiveServer:
    url: str
    database: str
    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def live_server(
    tmp: Path,
    extra: Sequence[str] = (),
    database: str | None = None,
    user: tuple[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[LiveServer]:
    """Start `sekisho serve` on a free port and wait until it answers; stop it afterwards.

    `user` is (name, password) of a user to add first with `sekisho user add`; `env` adds environment variables.
    """
    port = free_port()
    database = database or f"sqlite:///{tmp / 'live.db'}"
    if user is not None:
        cli("user", "add", user[0], "--password-stdin", database=database, stdin=user[1] + "\n")
    log = tmp / f"server-{port}.log"
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*SEKISHO, "serve", "--port", str(port), "--database", database, "--demo-api", *extra],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment,
            cwd=tmp,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", database, process, log)
    try:
        wait_until_up(server)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serve_for(
    request: pytest.FixtureRequest,
    databases: Databases,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    extra: Sequence[str] = (),
    *,
    user: tuple[str, str] | None = None,
) -> Iterator[LiveServer]:
    """`live_server` in a new temporary folder `name`, on a fresh database of the fixture's backend (SQLite or
    PostgreSQL), which goes when the asking fixture (`request`) finishes."""
    tmp = tmp_path_factory.mktemp(name)
    with live_server(tmp, extra, user=user, database=databases.new(tmp, request)) as running:
        yield running


def wait_until_up(server: LiveServer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"sekisho serve exited early:\n{server.output()}")
        try:
            httpx.get(server.url + "/.well-known/oauth-authorization-server", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"sekisho serve did not answer within {timeout} s:\n{server.output()}")


def read_stderr_until(process: subprocess.Popen[str], marker: str, timeout: float = 30) -> list[str]:
    """The lines `process` wrote to stderr up to and including the first holding `marker`; the process is killed
    and the test fails when none comes within `timeout` seconds."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return seen
    process.kill()
    raise AssertionError(f"no line with {marker!r} on stderr:\n" + "".join(seen) + process.communicate()[1])


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(64)[:86]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def form_field(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no field {name}"
    return html.unescape(match.group(1))


def sign_in(browser: httpx.Client, login_url: str = "/login", *, username: str, password: str) -> str:
    """The login page at `login_url` (`/login?next=…`, relative to `browser`'s base URL or absolute), filled in and
    posted as a browser does (redirects not followed); where the server sends the browser next."""
    page = browser.get(login_url)
    assert page.status_code == 200, page.text
    form = {"username": username, "password": password}
    form |= {name: form_field(page.text, name) for name in ("csrf_token", "next")}
    signed_in = browser.post(login_url.split("?", 1)[0], data=form, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    return signed_in.headers["location"]


def consent_over_http(
    browser: httpx.Client,
    params: dict[str, str],
    *,
    username: str,
    password: str,
    path: str = "/oauth/authorize",
) -> tuple[str, str]:
    """authorize → (login) → consent → Allow, as a browser does over real HTTP; returns (consent page, Location).

    `path` is where the consent lives: `/oauth/authorize`, or `/miauth/SESSION` for MiAuth.
    """
    page = browser.get(path, params=params)
    if page.status_code == 303:  # not signed in yet
        assert page.headers["location"].startswith("/login?next=")
        page = browser.get(sign_in(browser, page.headers["location"], username=username, password=password))
    assert page.status_code == 200, page.text
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    }
    decided = browser.post(path, data={**fields, "decision": "allow"})
    assert decided.status_code == 303, decided.text
    return page.text, decided.headers["location"]


def user_code(
    url: str, client_id: str, *, redirect_uri: str, scope: str, username: str, password: str
) -> dict[str, str]:
    """Sign in and consent over real HTTP; the token request's form for the code (without client credentials)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with httpx.Client(base_url=url, timeout=10) as browser:
        _, location = consent_over_http(browser, params, username=username, password=password)
    return {
        "grant_type": "authorization_code",
        "code": parse_qs(urlsplit(location).query)["code"][0],
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
    }


def user_tokens(
    url: str,
    client: dict[str, str | None],
    *,
    redirect_uri: str,
    scope: str,
    username: str,
    password: str,
) -> dict[str, Any]:
    """The whole flow over real HTTP for a registered client (from `client add --json`); the token response."""
    client_id = str(client["client_id"])
    form = user_code(url, client_id, redirect_uri=redirect_uri, scope=scope, username=username, password=password)
    response = post_token(url, form, client=(client_id, client["client_secret"]))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def post_token(
    url: str,
    form: Mapping[str, str],
    *,
    client: tuple[str, str | None] | None = None,
    http: httpx.Client | None = None,
) -> httpx.Response:
    """POST `form` to URL/oauth/token; `client` (id, secret) authenticates with HTTP Basic, or (id, None) puts a
    public client's id in the form. Through `http` when given (its connection pool), else a one-off request."""
    data = dict(form)
    auth: tuple[str, str] | None = None
    if client is not None and client[1]:
        auth = (client[0], client[1])
    elif client is not None:
        data["client_id"] = client[0]
    if http is None:
        return httpx.post(url + "/oauth/token", data=data, auth=auth, timeout=10)
    return http.post(url + "/oauth/token", data=data, auth=auth)


def introspect(url: str, token: str, client: tuple[str, str]) -> dict[str, Any]:
    """RFC 7662 at URL/oauth/introspect, as the resource server `client` (id, secret); the JSON answer."""
    response = httpx.post(url + "/oauth/introspect", data={"token": token}, auth=client, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def node_flow(
    command: Sequence[str], folder: Path, env: Mapping[str, str], server: LiveServer, user: tuple[str, str]
) -> tuple[dict[str, str], dict[str, object]]:
    """Run a Node script that prints `AUTHORIZE <url>`, reads the redirect back on stdin and prints `RESULT <json>`:
    `user` consents over HTTP in between. Returns the authorization URL's query and the result."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    process = subprocess.Popen(
        command,
        cwd=folder,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("AUTHORIZE "), first + (process.stderr.read() if process.stderr else "")
        parts = urlsplit(first.split(" ", 1)[1].strip())
        query = dict(parse_qsl(parts.query))
        with httpx.Client(base_url=server.url, timeout=10) as browser:
            _, location = consent_over_http(browser, query, username=user[0], password=user[1], path=parts.path)
        out, err = process.communicate(location + "\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    [line] = [line for line in out.splitlines() if line.startswith("RESULT ")]
    result: dict[str, object] = json.loads(line.removeprefix("RESULT "))
    return query, result
