"""`sekisho user …`, `sekisho client …` and `sekisho serve` flags, as CONTRACT.md §1 says."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.live import SEKISHO, cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def sekisho(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEKISHO, *args], input=stdin, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_user_add_list_remove(db: str) -> None:
    assert cli("user", "add", "alice", "--password-stdin", database=db, stdin="long enough\n").stdout.strip() == (
        "created user alice"
    )
    cli("user", "add", "bob", "--password-stdin", database=db, stdin="long enough\n")
    assert cli("user", "list", database=db).stdout.split() == ["alice", "bob"]
    listed = json.loads(cli("user", "list", "--json", database=db).stdout)
    assert [user["username"] for user in listed] == ["alice", "bob"]
    cli("user", "remove", "alice", database=db)
    assert cli("user", "list", database=db).stdout.split() == ["bob"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "alice", "--password-stdin"), "short\n", "at least 8"),
        (("user", "add", "no spaces", "--password-stdin"), "long enough\n", "letters, digits or underscores"),
        (("user", "remove", "nobody"), None, "no user named 'nobody'"),
        (("client", "remove", "nothing"), None, "no client 'nothing'"),
        (("client", "add", "--name", "x", "--redirect-uri", "javascript:alert(1)"), None, "not allowed"),
        (("client", "add", "--name", "x", "--redirect-uri", "http://example.com/cb"), None, "https"),
        (("client", "add", "--name", "x", "--redirect-uri", "https://a.example/cb#frag"), None, "fragment"),
        (("client", "add", "--name", "x"), None, "redirect-uri"),
        # Issue 21 finding 6: userinfo would put the wrong host on the consent page.
        (("client", "add", "--name", "x", "--redirect-uri", "https://good@evil/cb"), None, "userinfo"),
        (("client", "add", "--name", "x", "--redirect-uri", "https://good%40x@evil.example/"), None, "userinfo"),
        (("client", "add", "--name", "x", "--redirect-uri", "https://evil.example\\@good.example/"), None, "backslash"),
        # Issue 21 (loopback): port 0 and leading zeros.
        (("client", "add", "--name", "x", "--redirect-uri", "http://127.0.0.1:0/cb"), None, "port from 1 to 65535"),
        (("client", "add", "--name", "x", "--redirect-uri", "http://127.0.0.1:08080/cb"), None, "leading zeros"),
        (
            ("client", "add", "--name", "x", "--redirect-uri", "https://a.example/", "--grant-type", "password"),
            None,
            "unknown grant type",
        ),
        (
            ("client", "add", "--name", "x", "--redirect-uri", "https://a.example/", "--scope", "nope"),
            None,
            "unknown scope",
        ),
    ],
)
def test_refusals_are_one_line_and_exit_1(db: str, args: tuple[str, ...], stdin: str | None, message: str) -> None:
    done = sekisho(*args, "--database", db, stdin=stdin)
    assert message in one_line_error(done)


def test_duplicate_user_is_refused(db: str) -> None:
    cli("user", "add", "alice", "--password-stdin", database=db, stdin="long enough\n")
    done = sekisho("user", "add", "alice", "--password-stdin", "--database", db, stdin="other password\n")
    assert "already exists" in one_line_error(done)


def test_user_add_without_terminal_or_stdin_flag_is_usage_error(db: str) -> None:
    done = sekisho("user", "add", "alice", "--database", db, stdin="")
    assert "--password-stdin" in one_line_error(done, code=2)


def test_client_add_json_and_list(db: str) -> None:
    confidential = json.loads(
        cli("client", "add", "--name", "Bot", "--redirect-uri", "https://a.example/cb", "--json", database=db).stdout
    )
    assert set(confidential) == {"client_id", "client_secret"}
    assert confidential["client_secret"].startswith("sek_cs_")
    public = json.loads(
        cli(
            "client",
            "add",
            "--name",
            "CLI",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--public",
            "--json",
            "--scope",
            "read:account write:notes",
            database=db,
        ).stdout
    )
    assert public["client_secret"] is None
    listed = {row["client_id"]: row for row in json.loads(cli("client", "list", "--json", database=db).stdout)}
    assert listed[public["client_id"]]["public"] is True
    assert listed[public["client_id"]]["scope"] == "read:account write:notes"
    assert listed[confidential["client_id"]]["grant_types"] == ["authorization_code", "refresh_token"]
    # The secret is stored only as a digest.
    assert confidential["client_secret"] not in Path(db.removeprefix("sqlite:///")).read_bytes().decode("latin-1")
    plain = cli("client", "add", "--name", "Bot2", "--redirect-uri", "https://a.example/cb", database=db)
    assert plain.stdout.startswith("client_id: ") and "client_secret: sek_cs_" in plain.stdout
    cli("client", "remove", public["client_id"], database=db)
    assert public["client_id"] not in cli("client", "list", database=db).stdout


def test_a_resource_server_client(db: str) -> None:
    api = json.loads(cli("client", "add", "--name", "Notes API", "--resource-server", "--json", database=db).stdout)
    assert api["client_secret"].startswith("sek_cs_")
    listed = {row["client_id"]: row for row in json.loads(cli("client", "list", "--json", database=db).stdout)}
    assert listed[api["client_id"]]["resource_server"] is True
    assert listed[api["client_id"]]["grant_types"] == []  # it only checks tokens; it gets none
    assert "(resource server)" in cli("client", "list", database=db).stdout
    refused = sekisho("client", "add", "--name", "X", "--resource-server", "--public", "--database", db)
    assert "--public" in one_line_error(refused)


def test_database_comes_from_the_environment(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'env.db'}"
    done = sekisho("user", "add", "carol", "--password-stdin", stdin="long enough\n", env={"SEKISHO_DATABASE": db})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "env.db").exists()
    assert cli("user", "list", database=db).stdout.split() == ["carol"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--port", "70000"), 2, "--port"),
        (("--issuer", "ftp://x"), 2, "--issuer"),
        (("--issuer", "https://x.example/"), 2, "slash"),
        (("--database", "mysql://x"), 2, "--database"),
        (("--access-token-format", "paseto"), 2, "--access-token-format"),
        (("--log-format", "bogus"), 2, "sekisho: --log-format must be text or json"),
    ],
)
def test_serve_refuses_bad_settings(tmp_path: Path, args: tuple[str, ...], code: int, message: str) -> None:
    done = sekisho("serve", *args)
    assert message in one_line_error(done, code)


def test_unopenable_database_is_one_line(tmp_path: Path) -> None:
    done = sekisho("user", "list", "--database", f"sqlite:///{tmp_path}/no/such/dir/x.db")
    one_line_error(done)


def test_bad_usage_exits_2(db: str) -> None:
    assert sekisho("client", "add", "--database", db).returncode == 2  # --name missing
    assert sekisho("no-such-command").returncode == 2


def test_user_add_prompts_twice_on_a_terminal(db: str) -> None:
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: sekisho on a terminal
        os.execv(SEKISHO[0], [*SEKISHO, "user", "add", "dave", "--database", db])
    seen = b""
    answers = [b"long enough 1\n", b"long enough 1\n"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        # Answer only once getpass has turned echo off and written its own prompt (": ").
        if answers and seen.count(b": ") > 2 - len(answers):
            os.write(fd, answers.pop(0))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"Password: " in seen and b"Repeat for confirmation: " in seen
    assert b"long enough" not in seen  # never echoed
    assert cli("user", "list", database=db).stdout.split() == ["dave"]
