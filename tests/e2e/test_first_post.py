"""The README's three commands, from its first block, post a note that shows on /@demo: `scripts/serve --demo`,
`scripts/sekisho login http://127.0.0.1:8000` (no client id: the demo server names its demo app), `scripts/sekisho
post "hello"`.

The commands run as the README writes them, with the checkout's `scripts/` taken to be this interpreter's `sekisho`
(`python -m sekisho`): the scripts do nothing else once `.venv` exists (tests/e2e/test_first_post.py::
test_the_wrappers_run_the_venvs_sekisho checks that). The server gets a free port instead of 8000, and the browser
is a plain HTTP client that signs in and presses Allow.
"""

from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.live import LiveServer, consent_over_http, free_port, wait_until_up

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SEKISHO = [sys.executable, "-m", "sekisho"]


def readme_commands() -> list[list[str]]:
    """The first ```sh block of the README, one command a line, comments dropped."""
    block = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]


def as_run_here(command: list[str], port: int) -> list[str]:
    program, *args = command
    assert program in ("scripts/serve", "scripts/sekisho"), command
    args = [arg.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for arg in args]
    return [*SEKISHO, "serve", "--port", str(port), *args] if program == "scripts/serve" else [*SEKISHO, *args]


def test_three_commands_from_the_readme_post_a_note(tmp_path: Path) -> None:
    commands = readme_commands()
    assert [command[:2] for command in commands] == [
        ["scripts/serve", "--demo"],
        ["scripts/sekisho", "login"],
        ["scripts/sekisho", "post"],
    ]
    assert commands[1] == ["scripts/sekisho", "login", "http://127.0.0.1:8000"]  # nothing to copy: no client id
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SEKISHO_")}
    env.update(PYTHONUNBUFFERED="1", SEKISHO_CONFIG_DIR=str(tmp_path / "config"), BROWSER="true")
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        serving = subprocess.Popen(
            as_run_here(commands[0], port), stdout=sink, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path
        )
    server = LiveServer(f"http://127.0.0.1:{port}", f"sqlite:///{tmp_path / 'sekisho.db'}", serving, log)
    try:
        wait_until_up(server)
        assert (tmp_path / "sekisho.db").exists()  # the README's default database, in the folder it ran in
        password = re.search(r"Demo user\s+demo\n\s+Password\s+(\S+)", server.output())
        assert password, server.output()
        login = subprocess.Popen(
            as_run_here(commands[1], port), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        url, before = authorization_url(login)
        assert "no --client-id: using this demo server's own app, sekisho-demo" in before
        params = dict(parse_qsl(urlsplit(url).query))
        assert params["client_id"] == "sekisho-demo"
        with httpx.Client(base_url=server.url, timeout=10) as browser:
            consent, location = consent_over_http(browser, params, username="demo", password=password.group(1))
            assert "sekisho demo app" in html.unescape(consent)
            assert location.startswith("http://127.0.0.1:") and "/callback?" in location
            assert httpx.get(location, timeout=10).status_code == 200  # the CLI's loopback page
        out, err = login.communicate(timeout=30)
        assert login.returncode == 0, err
        assert f"logged in as @demo on {server.url}" in out
        posted = subprocess.run(as_run_here(commands[2], port), capture_output=True, text=True, env=env, timeout=60)
        assert posted.returncode == 0, posted.stderr
        note_id, note_url = posted.stdout.split()[1:3]
        assert note_url == f"{server.url}/@demo#note-{note_id}"
        page = httpx.get(server.url + "/@demo", timeout=10)
        assert page.status_code == 200
        assert f'id="note-{note_id}"' in page.text and ">hello<" in page.text
    finally:
        serving.terminate()
        serving.wait(timeout=10)


def authorization_url(login: subprocess.Popen[str]) -> tuple[str, str]:
    """The URL `sekisho login` prints to open, and what it printed before it."""
    assert login.stderr is not None
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = login.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("http"):
            return line.strip(), "".join(seen)
    login.kill()
    raise AssertionError("no authorization URL printed:\n" + "".join(seen))


def test_the_wrappers_run_the_venvs_sekisho() -> None:
    """scripts/serve and scripts/sekisho: make the venv (scripts/_venv.sh), then exec its `sekisho`."""
    for name, tail in (("serve", 'exec sekisho serve "$@"'), ("sekisho", 'exec sekisho "$@"')):
        script = ROOT / "scripts" / name
        assert os.access(script, os.X_OK)
        text = script.read_text()
        assert 'source "$(dirname "$0")/_venv.sh" ""' in text and text.rstrip().endswith(tail)
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
