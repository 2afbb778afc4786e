"""The client CLI end to end: `sekisho login --no-browser`, post, whoami, token, logout, against a real server.

The test plays the person at the browser: it reads the URL the CLI prints, signs in and consents over HTTP, and
follows the redirect to the CLI's loopback listener.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests import live
from tests.conftest import Databases
from tests.live import SEKISHO, LiveServer, cli, consent_over_http, free_port, serve_for

pytestmark = pytest.mark.e2e

PASSWORD = "client cli password"
LOOPBACK = "http://127.0.0.1/callback"  # registered once; the port varies (RFC 8252 §7.3)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    with serve_for(
        request, databases, tmp_path_factory, "client-cli", ["--allow-private-client-ids"], user=("alice", PASSWORD)
    ) as running:
        yield running


@dataclass
class Home:
    """One person's config folder: what `sekisho` client commands read and write."""

    config: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SEKISHO_CONFIG_DIR": str(self.config)}

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SEKISHO, *args], capture_output=True, text=True, timeout=timeout, env=self.env, check=False
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done.stdout

    def refused(self, *args: str) -> str:
        done = self.run(*args)
        return one_line_error(done)

    def account_files(self) -> list[Path]:
        return sorted(self.config.rglob("*.json"))


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "config")


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("sekisho: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def start_login(home: Home, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Start `sekisho login … --no-browser`; returns the process and the authorization URL it printed."""
    process = subprocess.Popen(
        [*SEKISHO, "login", *args, "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=home.env,
    )
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("http"):
            return process, line.strip()
    process.kill()
    raise AssertionError("no authorization URL printed:\n" + "".join(seen) + process.communicate()[1])


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def consent(server: LiveServer, url: str) -> str:
    """Sign in and allow at the server; returns where the server sends the browser (the CLI's loopback)."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        _, location = consent_over_http(browser, params, username="alice", password=PASSWORD, path=parts.path)
    return location


def login(server: LiveServer, home: Home, *args: str) -> str:
    """The whole login; returns the CLI's stdout."""
    process, url = start_login(home, *args)
    location = consent(server, url)
    httpx.get(location, timeout=10)  # the browser follows the redirect to 127.0.0.1:PORT/callback
    code, out, err = finish(process)
    assert code == 0, err
    return out


def add_client(server: LiveServer, *options: str) -> dict[str, str]:
    added: dict[str, str] = json.loads(cli("client", "add", *options, "--json", database=server.database).stdout)
    return added


def introspect(server: LiveServer, token: str) -> dict[str, Any]:
    api = add_client(server, "--name", "Checker", "--resource-server")
    return live.introspect(server.url, token, (api["client_id"], api["client_secret"]))


def saved(home: Home) -> dict[str, object]:
    files = home.account_files()
    assert len(files) == 1, files
    body: dict[str, object] = json.loads(files[0].read_text())
    return body


def test_login_post_whoami_refresh_and_logout(server: LiveServer, home: Home) -> None:
    bot = add_client(server, "--name", "CLI bot", "--redirect-uri", LOOPBACK, "--public")
    out = login(server, home, server.url, "--client-id", bot["client_id"])
    assert out.startswith("logged in as @alice on " + server.url)
    [file] = home.account_files()
    assert file.stat().st_mode & 0o777 == 0o600
    assert home.ok("whoami").startswith("@alice on " + server.url)
    posted = home.ok("post", "hello from the CLI").splitlines()
    assert posted[0].startswith("posted ") and posted[1].startswith(server.url + "/@alice#note-")
    assert "hello from the CLI" in httpx.get(server.url + "/@alice").text
    accounts = json.loads(home.ok("accounts", "--json"))
    assert [row["username"] for row in accounts] == ["alice"] and accounts[0]["refreshes"] is True

    # The access token is revoked behind the CLI's back: the next post gets a 401, refreshes, and goes through.
    first = str(tokens_of(home)["access_token"])
    httpx.post(server.url + "/oauth/revoke", data={"token": first, "client_id": bot["client_id"]})
    assert home.ok("post", "after a 401").startswith("posted ")
    second = str(tokens_of(home)["access_token"])
    assert second != first and introspect(server, second)["active"] is True

    # The token runs out (as far as the CLI knows): `token` refreshes before handing it out.
    age(home)
    printed = home.ok("token").strip()
    assert printed != second and introspect(server, printed)["active"] is True

    refresh_token = str(tokens_of(home)["refresh_token"])
    assert home.ok("logout").startswith("logged out of alice@")
    assert introspect(server, refresh_token) == {"active": False}
    assert introspect(server, printed) == {"active": False}
    assert home.account_files() == []
    assert "no saved logins" in home.refused("post", "gone")


def tokens_of(home: Home) -> dict[str, object]:
    tokens = saved(home)["tokens"]
    assert isinstance(tokens, dict)
    return tokens


def age(home: Home) -> None:
    """Make the saved access token look expired, as if an hour had gone by."""
    [file] = home.account_files()
    body = json.loads(file.read_text())
    body["tokens"]["expires_at"] = time.time() - 10
    file.write_text(json.dumps(body))


def test_url_client_id_served_by_the_cli_itself(server: LiveServer, home: Home) -> None:
    process, url = start_login(home, server.url)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["client_id"].startswith("http://127.0.0.1:") and query["client_id"].endswith("/")
    page = httpx.get(query["client_id"]).text  # what sekisho fetches: the CLI's own client page
    assert 'rel="redirect_uri"' in page and "h-app" in page
    location = consent(server, url)
    httpx.get(location, timeout=10)
    code, out, err = finish(process)
    assert code == 0, err
    assert home.ok("post", "posted by a URL client").startswith("posted ")


def test_x_style_confidential_client_with_overridden_endpoints(server: LiveServer, home: Home) -> None:
    port = free_port()  # a confidential client's loopback port may not vary (issue 21): registered and listened on
    app = add_client(
        server,
        "--name",
        "X bot",
        "--redirect-uri",
        f"http://127.0.0.1:{port}/callback",
        "--scope",
        "tweet.read tweet.write users.read offline.access",
    )
    login(
        server,
        home,
        "--provider",
        "x",
        "--client-id",
        app["client_id"],
        "--client-secret",
        app["client_secret"],
        "--authorize-url",
        server.url + "/oauth/authorize",
        "--token-url",
        server.url + "/oauth/token",
        "--api-url",
        server.url,
        "--port",
        str(port),
    )
    result = json.loads(home.ok("post", "a tweet from the CLI", "--json"))
    assert result["id"] and "/status/" in result["url"]
    me = json.loads(home.ok("whoami", "--json"))
    assert me["username"] == "alice"
    assert home.ok("logout").startswith("logged out")


def test_x_provider_against_a_local_stand_in_needs_no_url_overrides(server: LiveServer, home: Home) -> None:
    """Issue 23: `sekisho login URL --provider x` takes X's paths on the stand-in (/i/oauth2/authorize,
    /2/oauth2/token, /2/tweets) and gets X's answers: a two-hour token, a refresh token for offline.access."""
    port = free_port()
    scope = "tweet.read tweet.write users.read offline.access"
    app = add_client(server, "--name", "X bot", "--redirect-uri", f"http://127.0.0.1:{port}/callback", "--scope", scope)
    process, url = start_login(
        home,
        server.url,
        "--provider",
        "x",
        "--client-id",
        app["client_id"],
        "--client-secret",
        app["client_secret"],
        "--port",
        str(port),
    )
    assert url.startswith(server.url + "/i/oauth2/authorize?")
    httpx.get(consent(server, url), timeout=10)
    code, out, err = finish(process)
    assert code == 0, err
    account = saved(home)
    assert account["token_endpoint"] == server.url + "/2/oauth2/token" and account["provider"] == "x"
    assert tokens_of(home)["refresh_token"]
    result = json.loads(home.ok("post", "a post through the X paths", "--json"))
    assert result["url"] == f"https://x.com/alice/status/{result['id']}"  # where it would be at X
    assert "a post through the X paths" in httpx.get(server.url + "/@alice").text
    assert home.ok("logout").startswith("logged out")


def test_misskey_miauth_login_and_post(server: LiveServer, home: Home) -> None:
    """MiAuth (Misskey before 2023.9.0, or by choice): no client registration, a session instead of a code."""
    process, url = start_login(
        home, server.url, "--provider", "misskey", "--miauth", "--scope", "read:account write:notes"
    )
    parts = urlsplit(url)
    assert parts.path.startswith("/miauth/")
    query = dict(parse_qsl(parts.query))
    assert query["permission"] == "read:account,write:notes" and query["callback"].startswith("http://127.0.0.1:")
    location = consent(server, url)
    assert location.startswith(query["callback"] + "?session=")
    httpx.get(location, timeout=10)
    code, out, err = finish(process)
    assert code == 0, err
    assert out.startswith("logged in as @alice on " + server.url)
    account = saved(home)
    assert account["provider"] == "misskey" and account["token_endpoint"] is None
    assert home.ok("post", "posted after MiAuth").startswith("posted ")
    assert "posted after MiAuth" in httpx.get(server.url + "/@alice").text
    assert "not revoked at the server" in home.run("logout").stderr
    assert home.account_files() == []


def test_a_revoked_or_rotated_away_refresh_token_asks_for_a_new_login(server: LiveServer, home: Home) -> None:
    bot = add_client(server, "--name", "Revoked bot", "--redirect-uri", LOOPBACK, "--public")
    login(server, home, server.url, "--client-id", bot["client_id"])
    [file] = home.account_files()
    before = file.read_text()

    # Another copy of the login refreshes: this one's refresh token is rotated away (and reuse ends the grant).
    other = Home(home.config.parent / "other")
    other.config.mkdir(mode=0o700)
    (other.config / file.relative_to(home.config)).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    copy = other.config / file.relative_to(home.config)
    copy.write_text(before)
    copy.chmod(0o600)
    age(other)
    assert other.ok("token").strip()
    age(home)
    message = home.refused("token")
    assert "sekisho login" in message, message
    assert json.loads(file.read_text())["tokens"]["refresh_token"] == json.loads(before)["tokens"]["refresh_token"]

    # A refresh token revoked at the server: the same one line, and the file is kept for the person to look at.
    login(server, home, server.url, "--client-id", bot["client_id"])
    refresh_token = str(tokens_of(home)["refresh_token"])
    httpx.post(server.url + "/oauth/revoke", data={"token": refresh_token, "client_id": bot["client_id"]})
    message = home.refused("post", "after revocation")
    assert "sekisho login" in message, message
    assert len(home.account_files()) == 1


def test_two_processes_refresh_once(server: LiveServer, home: Home) -> None:
    bot = add_client(server, "--name", "Racing bot", "--redirect-uri", LOOPBACK, "--public")
    login(server, home, server.url, "--client-id", bot["client_id"])
    age(home)
    racers = [
        subprocess.Popen([*SEKISHO, "token"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=home.env)
        for _ in range(2)
    ]
    results = [racer.communicate(timeout=60) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], results
    printed = {out.strip() for out, _ in results}
    assert len(printed) == 1  # the loser reused the winner's token: one refresh at the server
    assert introspect(server, printed.pop())["active"] is True


def test_refusals_are_one_line(server: LiveServer, home: Home) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    assert "sekisho: " in home.refused("login", closed, "--no-browser", "--client-id", "x")
    no_metadata = home.refused("login", server.url + "/static", "--no-browser", "--client-id", "x")
    assert "metadata" in no_metadata or "issuer" in no_metadata
    assert "no saved logins" in home.refused("whoami") or "login" in home.refused("whoami")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert "in use" in home.refused("login", server.url, "--no-browser", "--port", port, "--client-id", "x")
    # --device with no --client-id, at a server without --demo: which app to use is the person's to say
    assert "--device" in home.run("login", "--help").stdout
    assert "--client-id" in home.refused("login", server.url, "--device")
    assert "MiAuth" in home.refused("login", server.url, "--miauth", "--no-browser")  # not with --provider sekisho


def test_the_browser_never_coming_back_times_out(server: LiveServer, home: Home) -> None:
    bot = add_client(server, "--name", "Patient bot", "--redirect-uri", LOOPBACK, "--public")
    process, _ = start_login(home, server.url, "--client-id", bot["client_id"], "--timeout", "1")
    code, _, err = finish(process)
    assert code == 1 and "no answer from the browser" in err and "Traceback" not in err
    assert home.account_files() == []


def test_a_wrong_state_or_a_denial_saves_nothing(server: LiveServer, home: Home) -> None:
    bot = add_client(server, "--name", "Denied bot", "--redirect-uri", LOOPBACK, "--public")
    process, url = start_login(home, server.url, "--client-id", bot["client_id"])
    location = consent(server, url)
    forged = location.replace("state=", "state=forged")
    httpx.get(forged, timeout=10)
    code, _, err = finish(process)
    assert code == 1 and "state" in err and "Traceback" not in err
    process, url = start_login(home, server.url, "--client-id", bot["client_id"])
    parts = urlsplit(url)  # a pushed request (RFC 9126): the consent page holds what it asks
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        first = browser.get(parts.path, params=dict(parse_qsl(parts.query)))
        page = browser.get(live.sign_in(browser, first.headers["location"], username="alice", password=PASSWORD))
        fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        denied = browser.post(parts.path, data={**fields, "decision": "deny"})
    assert "error=access_denied" in denied.headers["location"]
    httpx.get(denied.headers["location"], timeout=10)
    code, _, err = finish(process)
    assert code == 1 and "denied" in err
    assert home.account_files() == []


def test_a_damaged_or_world_readable_token_file_is_refused(server: LiveServer, home: Home) -> None:
    bot = add_client(server, "--name", "Careful bot", "--redirect-uri", LOOPBACK, "--public")
    login(server, home, server.url, "--client-id", bot["client_id"])
    [file] = home.account_files()
    file.chmod(0o644)
    assert "chmod" in home.refused("post", "x") or "readable" in home.refused("post", "x")
    file.chmod(0o600)
    original = file.read_text()
    file.write_text(original[: len(original) // 2])
    assert str(file.name) in home.refused("post", "x")
    file.write_text(original)
    assert home.ok("post", "restored").startswith("posted ")


def test_client_page_is_what_a_server_reads_as_the_apps_identity(home: Home, tmp_path: Path) -> None:
    """`sekisho client-page` writes the page a person hosts; sekisho's own parser finds the name and redirect URIs."""
    from sekisho.server.client_documents import parse
    from sekisho.server.fetch import Fetched

    page = tmp_path / "index.html"
    client_id = "https://bot.example/"
    home.ok(
        "client-page",
        "--name",
        "Tea & <Biscuits> bot",
        "--url",
        client_id,
        "--redirect-uri",
        "https://bot.example/callback",
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "-o",
        str(page),
    )
    fetched = Fetched(client_id, "text/html", httpx.Headers(), page.read_bytes())
    found = parse(client_id, fetched, allow_private=False)
    assert found.name == "Tea & <Biscuits> bot"
    assert found.redirect_uris == ("https://bot.example/callback", "http://127.0.0.1/callback")
    printed = home.ok("client-page", "--name", "Bot", "--url", client_id, "--redirect-uri", "https://bot.example/cb")
    assert '<link rel="redirect_uri" href="https://bot.example/cb">' in printed and 'class="h-app"' in printed
    assert "--url" in one_line_error(home.run("client-page", "--name", "B", "--url", "bot", "--redirect-uri", "x"), 2)


def test_without_no_browser_the_url_is_opened_in_a_browser(server: LiveServer, home: Home, tmp_path: Path) -> None:
    """`sekisho login` opens the URL with the system's browser: here $BROWSER, a script standing in for one."""
    bot = add_client(server, "--name", "Browser bot", "--redirect-uri", LOOPBACK, "--public")
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n')
    browser.chmod(0o755)
    process = subprocess.Popen(
        [*SEKISHO, "login", server.url, "--client-id", bot["client_id"], "--timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**home.env, "BROWSER": f"{browser} %s"},
    )
    deadline = time.monotonic() + 30
    while not (opened.exists() and opened.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    url = opened.read_text()
    assert url.startswith(server.url + "/oauth/authorize?")
    httpx.get(consent(server, url), timeout=10)
    code, out, err = finish(process)
    assert code == 0, err
    assert out.startswith("logged in as @alice")


SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"  # rich's "dots"
WAITING = "waiting for the browser (at most 60 s; Ctrl-C to give up)…"


def test_waiting_for_the_browser_is_one_line_when_not_a_terminal(
    server: LiveServer, home: Home, tmp_path: Path
) -> None:
    bot = add_client(server, "--name", "Logged bot", "--redirect-uri", LOOPBACK, "--public")
    log = tmp_path / "stderr.log"  # a file, as under systemd or cron: no terminal
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*SEKISHO, "login", server.url, "--client-id", bot["client_id"], "--no-browser", "--timeout", "60"],
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
            env=home.env,
        )
    deadline = time.monotonic() + 30
    while WAITING not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = log.read_text().splitlines()
    assert lines[0] == "Open this URL to sign in:" and lines[2:] == [WAITING], lines
    httpx.get(consent(server, lines[1]), timeout=10)
    code, out, _ = finish(process)
    assert code == 0 and out.startswith("logged in as @alice")
    assert log.read_text().splitlines()[2:] == [WAITING]  # said once, as a plain line: no spinner, no escapes


def spinner_frames(text: str) -> set[str]:
    return {frame for frame in SPINNER_FRAMES if frame in text}


def test_waiting_for_the_browser_is_a_spinner_on_a_terminal(server: LiveServer, home: Home) -> None:
    """`sekisho login` on a terminal (a pty): rich's spinner turns beside the message until the browser is back."""
    import pty
    import re
    import select
    import signal

    bot = add_client(server, "--name", "Terminal bot", "--redirect-uri", LOOPBACK, "--public")
    args = ["login", server.url, "--client-id", bot["client_id"], "--no-browser", "--timeout", "60"]
    env = {**home.env, "TERM": "xterm-256color", "COLUMNS": "400", "LINES": "40", "LC_ALL": "C.UTF-8"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: sekisho on a terminal
        os.execve(SEKISHO[0], [*SEKISHO, *args], env)
    seen = b""

    def read_until(done: Callable[[str], bool], timeout: float = 30) -> bool:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while not done(seen.decode(errors="replace")) and time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.2)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child has gone and closed its side
                return False
            if not chunk:
                return False
            seen += chunk
        return done(seen.decode(errors="replace"))

    status: int | None = None
    try:
        assert read_until(lambda text: len(spinner_frames(text)) >= 3), seen  # it turns: three frames so far
        text = seen.decode()
        assert WAITING.removesuffix("…") in text
        match = re.search(r"http://127\.0\.0\.1:\d+/oauth/authorize\?\S+", text)
        assert match, text
        httpx.get(consent(server, match.group(0)), timeout=10)
        read_until(lambda _: False)  # everything until the child closes the terminal
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:  # a check failed while the child may still run: stop it, by its pid
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        os.close(fd)
    assert status is not None and os.waitstatus_to_exitcode(status) == 0, seen
    assert "logged in as @alice on " + server.url in seen.decode()


@pytest.fixture(scope="module")
def strict_server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """A server started with --require-par: every authorization request is pushed first (RFC 9126)."""
    options = ["--allow-private-client-ids", "--require-par"]
    with serve_for(
        request, databases, tmp_path_factory, "client-cli-par", options, user=("alice", PASSWORD)
    ) as running:
        yield running


@pytest.mark.parametrize("strict", [False, True], ids=["par-offered", "par-required"])
def test_login_pushes_its_request(server: LiveServer, strict_server: LiveServer, home: Home, strict: bool) -> None:
    """RFC 9126: the URL the CLI opens names only the client and a request_uri, public and confidential apps
    alike; the flow ends in tokens that work and refresh."""
    running = strict_server if strict else server
    metadata = httpx.get(running.url + "/.well-known/oauth-authorization-server").json()
    assert metadata["require_pushed_authorization_requests"] is strict
    public = add_client(running, "--name", "Pushing bot", "--redirect-uri", LOOPBACK, "--public")
    port = free_port()
    secret = add_client(running, "--name", "Pushing app", "--redirect-uri", f"http://127.0.0.1:{port}/callback")
    for args in (
        ["--client-id", public["client_id"]],
        ["--client-id", secret["client_id"], "--client-secret", secret["client_secret"], "--port", str(port)],
    ):
        process, url = start_login(home, running.url, *args)
        query = dict(parse_qsl(urlsplit(url).query))
        assert set(query) == {"client_id", "request_uri"}, url
        assert query["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
        httpx.get(consent(running, url), timeout=10)
        code, _, err = finish(process)
        assert code == 0, err
        assert home.ok("post", "pushed, then posted").startswith("posted ")
        age(home)
        assert home.ok("post", "after a refresh").startswith("posted ")
        assert home.ok("logout").startswith("logged out")
