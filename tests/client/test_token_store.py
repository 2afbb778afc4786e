"""Saved logins on disk: 0600 files in a 0700 directory, atomic replacement, refusals, safe names, the lock file."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from sekisho.client.errors import TokenStoreError
from sekisho.client.oauth import ClientCredentials, TokenSet
from sekisho.client.token_store import Account, TokenStore, default_directory, file_stem

ACCOUNT = Account(
    name="alice@misskey.example",
    provider="misskey",
    issuer="https://misskey.example",
    api_base="https://misskey.example/api",
    token_endpoint="https://misskey.example/oauth/token",
    revocation_endpoint=None,
    credentials=ClientCredentials("https://app.example/", "s3cret"),
    tokens=TokenSet("at", "Bearer", 1_800_000_000.5, "rt", "read:account write:notes"),
    username="alice",
    user_id="9abc",
)


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "config" / "accounts")


def named(name: str) -> Account:
    return replace(ACCOUNT, name=name)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def refusal(store: TokenStore, name: str = ACCOUNT.name) -> str:
    with pytest.raises(TokenStoreError) as caught:
        store.load(name)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_save_then_load(store: TokenStore) -> None:
    store.save(ACCOUNT)
    assert store.load(ACCOUNT.name) == ACCOUNT
    assert TokenStore(store.directory).load(ACCOUNT.name) == ACCOUNT


def test_files_are_0600_in_a_0700_directory(store: TokenStore) -> None:
    store.save(ACCOUNT)
    assert mode(store.directory) == 0o700
    assert mode(store.path_of(ACCOUNT.name)) == 0o600
    with store.locked(ACCOUNT.name):
        pass
    assert {path.name: mode(path) for path in store.directory.iterdir()} == {
        "alice@misskey.example.json": 0o600,
        "alice@misskey.example.lock": 0o600,
        "default": 0o600,
    }


def test_a_too_open_directory_is_closed(store: TokenStore) -> None:
    store.directory.mkdir(parents=True, mode=0o755)
    store.directory.chmod(0o755)
    store.save(ACCOUNT)
    assert mode(store.directory) == 0o700


def test_the_file_is_plain_json(store: TokenStore) -> None:
    store.save(ACCOUNT)
    body = json.loads(store.path_of(ACCOUNT.name).read_text())
    assert body["format"] == 1 and body["name"] == ACCOUNT.name
    assert body["client"] == {"client_id": "https://app.example/", "client_secret": "s3cret"}
    assert body["tokens"] == {
        "access_token": "at",
        "token_type": "Bearer",
        "expires_at": 1_800_000_000.5,
        "refresh_token": "rt",
        "scope": "read:account write:notes",
    }


@pytest.mark.parametrize("bits", [0o640, 0o604, 0o620, 0o666])
def test_a_file_other_users_can_read_is_refused(store: TokenStore, bits: int) -> None:
    store.save(ACCOUNT)
    path = store.path_of(ACCOUNT.name)
    path.chmod(bits)
    assert refusal(store) == (
        f"{path} is readable by other users: run `chmod 600 {path}` (or log in again, to be safe)"
    )


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('{"format": 1, "name": "alice@misskey.ex', "Unterminated string"),
        ("[]", "not a format 1 account file"),
        ('{"format": 2}', "not a format 1 account file"),
        ("\xff", "codec can't decode"),
    ],
)
def test_a_damaged_file_is_refused_with_its_path(store: TokenStore, body: str, why: str) -> None:
    store.save(ACCOUNT)
    path = store.path_of(ACCOUNT.name)
    path.write_bytes(body.encode("latin-1"))
    message = refusal(store)
    assert message.startswith(f"{path} is damaged (") and why in message
    assert message.endswith("delete it and run `sekisho login` again")


def test_a_file_with_a_wrong_field_is_refused(store: TokenStore) -> None:
    store.save(ACCOUNT)
    path = store.path_of(ACCOUNT.name)
    body = json.loads(path.read_text())
    body["tokens"]["access_token"] = None
    path.write_text(json.dumps(body))
    assert "(tokens.access_token is missing or of the wrong type)" in refusal(store)


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        (("provider",), "", "provider is missing or not a string"),
        (("username",), 7, "username is not a string"),
        (("client",), None, "client.client_id is missing"),
        (("client", "client_secret"), 1, "client.client_secret is not a string"),
        (("tokens",), "at", "tokens is not an object"),
    ],
)
def test_each_field_is_checked(store: TokenStore, path: tuple[str, ...], value: object, why: str) -> None:
    store.save(ACCOUNT)
    file = store.path_of(ACCOUNT.name)
    body = json.loads(file.read_text())
    *parents, last = path
    inner = body
    for key in parents:
        inner = inner[key]
    inner[last] = value
    file.write_text(json.dumps(body))
    assert f"({why})" in refusal(store)


def test_a_file_copied_under_another_name_is_refused(store: TokenStore) -> None:
    store.save(ACCOUNT)
    store.path_of("bob@misskey.example").write_bytes(store.path_of(ACCOUNT.name).read_bytes())
    store.path_of("bob@misskey.example").chmod(0o600)
    assert "holds the account 'alice@misskey.example'" in refusal(store, "bob@misskey.example")


def test_a_symbolic_link_is_refused(store: TokenStore, tmp_path: Path) -> None:
    store.save(ACCOUNT)
    elsewhere = tmp_path / "elsewhere.json"
    store.path_of(ACCOUNT.name).rename(elsewhere)
    store.path_of(ACCOUNT.name).symlink_to(elsewhere)
    assert "symbolic link" in refusal(store)


def test_a_directory_in_place_of_the_file_is_refused(store: TokenStore) -> None:
    store.path_of(ACCOUNT.name).mkdir(parents=True, mode=0o700)
    assert "is not a file" in refusal(store)


def test_an_oversized_file_is_refused(store: TokenStore) -> None:
    store.save(ACCOUNT)
    store.path_of(ACCOUNT.name).write_bytes(b" " * (1024 * 1024 + 1))
    assert "is larger than 1024 KiB" in refusal(store)


def test_a_missing_account(store: TokenStore) -> None:
    assert refusal(store, "nobody") == "no saved login named 'nobody'; `sekisho accounts` lists them"


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("alice@misskey.example", "alice@misskey.example"),
        ("alice@127.0.0.1:8000", "alice@127.0.0.1%3A8000"),
        ("../x", "%2E.%2Fx"),
        ("..", "%2E."),
        (".hidden", "%2Ehidden"),
        ("a/b\\c", "a%2Fb%5Cc"),
        ("100%", "100%25"),
        ("ålice", "%C3%A5lice"),
    ],
)
def test_file_names_are_safe(name: str, stem: str) -> None:
    assert file_stem(name) == stem


@pytest.mark.parametrize("name", ["../escape", "../../escape", "/etc/passwd", "a/../../b", ".."])
def test_no_name_escapes_the_directory(store: TokenStore, name: str) -> None:
    store.save(named(name))
    assert store.path_of(name).parent == store.directory
    assert store.load(name).name == name
    assert sorted(path.name for path in store.directory.parent.iterdir()) == ["accounts"]


@pytest.mark.parametrize("name", ["", "x" * 201])
def test_unusable_names(store: TokenStore, name: str) -> None:
    with pytest.raises(TokenStoreError, match="1 to 200 characters"):
        store.save(named(name))


def test_accounts_lists_every_saved_login(store: TokenStore) -> None:
    assert store.accounts() == []
    store.save(named("bob@x.example"))
    store.save(named("alice@x.example"))
    assert [account.name for account in store.accounts()] == ["alice@x.example", "bob@x.example"]


def test_remove(store: TokenStore) -> None:
    store.save(ACCOUNT)
    assert store.remove(ACCOUNT.name) is True
    assert store.remove(ACCOUNT.name) is False
    assert store.accounts() == []
    assert not (store.directory / "default").exists()


def test_default_is_the_only_or_the_last_logged_in(store: TokenStore) -> None:
    with pytest.raises(TokenStoreError, match=r"^no saved logins: run `sekisho login SERVER` first$"):
        store.default()
    store.save(named("alice@x.example"))
    store.save(named("bob@x.example"))
    assert store.default().name == "bob@x.example"
    store.save(replace(named("alice@x.example"), username="refreshed"), default=False)  # a refresh
    assert store.default().name == "bob@x.example"
    store.remove("bob@x.example")
    assert store.default().name == "alice@x.example"  # the only one left


def test_no_default_among_several(store: TokenStore) -> None:
    store.save(named("alice@x.example"), default=False)
    store.save(named("bob@x.example"), default=False)
    with pytest.raises(TokenStoreError) as caught:
        store.default()
    assert str(caught.value) == ("there are 2 saved logins (alice@x.example, bob@x.example): choose one with --account")


def test_the_default_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEKISHO_CONFIG_DIR", str(tmp_path))
    assert default_directory() == tmp_path / "accounts"
    assert TokenStore().directory == tmp_path / "accounts"
    monkeypatch.delenv("SEKISHO_CONFIG_DIR")
    assert default_directory().name == "accounts" and default_directory().parent.name == "sekisho"


def test_a_failed_write_leaves_the_old_file_whole(store: TokenStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.save(ACCOUNT)

    def killed(source: object, target: object) -> None:
        raise KeyboardInterrupt  # as if the process died between the write and the rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.save(replace(ACCOUNT, username="changed"))
    monkeypatch.undo()
    assert store.load(ACCOUNT.name) == ACCOUNT
    assert sorted(path.name for path in store.directory.iterdir()) == ["alice@misskey.example.json", "default"]


def test_a_process_killed_mid_write_leaves_the_old_file_whole(store: TokenStore) -> None:
    store.save(ACCOUNT)
    script = (
        "import os, signal, sys\n"
        "from dataclasses import replace\n"
        "from pathlib import Path\n"
        "from sekisho.client.token_store import TokenStore\n"
        "def die(*args): os.kill(os.getpid(), signal.SIGKILL)\n"
        "os.replace = die\n"
        "store = TokenStore(Path(sys.argv[1]))\n"
        "account = store.load(sys.argv[2])\n"
        "store.save(replace(account, username='x'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(store.directory), ACCOUNT.name], check=False)
    assert done.returncode == -9
    assert store.load(ACCOUNT.name) == ACCOUNT
    leftovers = [path.name for path in store.directory.iterdir() if path.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".")  # a hidden temp file, never read as an account
    assert [account.name for account in store.accounts()] == [ACCOUNT.name]


def test_an_unusable_directory_is_a_token_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(TokenStoreError, match=r"^cannot use .*a-file/accounts for saved logins \(Not a directory\)$"):
        TokenStore(tmp_path / "a-file" / "accounts").save(ACCOUNT)


def test_the_lock_is_exclusive_and_apart_from_the_data_file(store: TokenStore) -> None:
    store.save(ACCOUNT)
    with store.locked(ACCOUNT.name) as lock:
        assert lock.path == store.directory / "alice@misskey.example.lock"
        fd = os.open(lock.path, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            store.save(replace(ACCOUNT, username="written while locked"))  # the data file stays writable
        finally:
            os.close(fd)
    with store.locked(ACCOUNT.name):
        pass  # released, and taken again
    assert store.load(ACCOUNT.name).username == "written while locked"


@pytest.mark.parametrize("name", ["\udcff", "a\ud800b", "tab\there", "nul\x00"])
def test_an_account_name_that_is_not_printable_text_is_a_token_store_error(name: str) -> None:
    # Found by fuzzing (tests/client/test_fuzz_client.py): undecodable bytes of argv reach here as surrogates, and
    # quoting them raised UnicodeEncodeError (a traceback) instead of the one-line error.
    with pytest.raises(TokenStoreError):
        file_stem(name)
