"""fresh_account against a real `sekisho serve`: refresh when due, under the account's lock, once across processes."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from sekisho.client import oauth
from sekisho.client.errors import TokenError, TokenStoreError
from sekisho.client.refresh import fresh_account
from sekisho.client.token_store import Account, TokenStore
from tests.client.conftest import age, introspect, run, saved_login
from tests.live import LiveServer

pytestmark = pytest.mark.e2e

NAME = "alice@live"

# A process that refreshes NAME once it reads a line on stdin (so that two start at the same moment). Its refresh
# request waits half a second first, so the other process is sure to come for the lock while this one holds it.
RACER = """
import asyncio, sys, time
from pathlib import Path
import httpx
from sekisho.client import oauth, private_files, refresh, token_store

directory, name, mode = sys.argv[1:]
if mode == "no-lock":
    private_files.FileLock.acquire = lambda self: None
real_refresh = oauth.refresh

async def slow_refresh(*args, **kwargs):
    print("refreshing", file=sys.stderr, flush=True)
    await asyncio.sleep(0.5)
    return await real_refresh(*args, **kwargs)

oauth.refresh = slow_refresh

async def main():
    sys.stdin.readline()
    async with httpx.AsyncClient() as http:
        account = await refresh.fresh_account(token_store.TokenStore(Path(directory)), name, http, now=time.time())
    print(account.tokens.access_token)

asyncio.run(main())
"""


class Counted:
    """An httpx client that counts the requests made to the token endpoint."""

    def __init__(self) -> None:
        self.refreshes = 0

    async def count(self, request: httpx.Request) -> None:
        if request.url.path == "/oauth/token":
            self.refreshes += 1

    def fresh(
        self,
        store: TokenStore,
        *,
        now: float | None = None,
        margin: float = 60,
        force: bool = False,
        rejected: str | None = None,
    ) -> Account:
        async def go() -> Account:
            async with httpx.AsyncClient(event_hooks={"request": [self.count]}) as http:
                moment = time.time() if now is None else now
                return await fresh_account(store, NAME, http, now=moment, margin=margin, force=force, rejected=rejected)

        return run(go())


@pytest.fixture
def store(server: LiveServer, tmp_path: Path) -> TokenStore:
    return saved_login(server, tmp_path / "accounts", NAME, "--public")


def test_a_good_token_is_returned_as_it_is(store: TokenStore) -> None:
    counted = Counted()
    assert counted.fresh(store) == store.load(NAME)
    assert counted.refreshes == 0


def test_a_token_about_to_expire_is_refreshed_and_saved(server: LiveServer, store: TokenStore) -> None:
    before = age(store, NAME, time.time() + 30)  # inside the 60 s margin
    counted = Counted()
    after = counted.fresh(store)
    assert counted.refreshes == 1
    assert after.tokens.access_token != before.tokens.access_token
    assert after.tokens.refresh_token not in (None, before.tokens.refresh_token)
    assert after.tokens.scope == before.tokens.scope and after.tokens.expires_at is not None
    assert store.load(NAME) == after
    assert introspect(server, after.tokens.access_token)["active"] is True
    assert counted.fresh(store) == after and counted.refreshes == 1  # good for an hour now


def test_the_margin_decides(store: TokenStore) -> None:
    expires_at = store.load(NAME).tokens.expires_at
    assert expires_at is not None
    counted = Counted()
    counted.fresh(store, now=expires_at - 100, margin=99)
    assert counted.refreshes == 0
    counted.fresh(store, now=expires_at - 100, margin=100)
    assert counted.refreshes == 1


def test_force_refreshes_a_good_token_unless_someone_else_already_did(store: TokenStore) -> None:
    first = store.load(NAME)
    counted = Counted()
    second = counted.fresh(store, force=True, rejected=first.tokens.access_token)
    assert counted.refreshes == 1 and second.tokens.access_token != first.tokens.access_token
    # Another request that had the first token refused comes late: the token it saw is already replaced.
    assert counted.fresh(store, force=True, rejected=first.tokens.access_token) == second
    assert counted.refreshes == 1
    counted.fresh(store, force=True)
    assert counted.refreshes == 2


def test_a_refresh_does_not_change_the_default_account(server: LiveServer, store: TokenStore) -> None:
    saved_login(server, store.directory, "alice@other", "--public")
    age(store, NAME, 0)
    Counted().fresh(store)
    assert store.default().name == "alice@other"


def test_a_revoked_login_says_log_in_again(server: LiveServer, store: TokenStore) -> None:
    account = store.load(NAME)
    assert account.tokens.refresh_token is not None
    httpx.post(
        server.url + "/oauth/revoke",
        data={"token": account.tokens.refresh_token, "client_id": account.credentials.client_id},
    )
    age(store, NAME, 0)
    with pytest.raises(TokenError) as caught:
        Counted().fresh(store)
    assert caught.value.error == "invalid_grant" and str(caught.value) == oauth.LOGIN_ENDED
    assert store.load(NAME).tokens.refresh_token == account.tokens.refresh_token  # nothing half-saved


def test_an_unknown_account_leaves_no_lock_behind(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    with pytest.raises(TokenStoreError, match="no saved login named"):
        Counted().fresh(store)
    with store.locked(NAME):  # would block forever had the failed call kept it
        pass


def test_a_login_without_a_refresh_token(store: TokenStore) -> None:
    account = store.load(NAME)
    store.save(replace(account, token_endpoint=None))
    with pytest.raises(TokenError, match=f"its access token has run out and login {NAME} cannot be refreshed"):
        Counted().fresh(store, now=float("inf"))
    with pytest.raises(TokenError, match="the server refused its access token"):
        Counted().fresh(store, force=True)
    assert Counted().fresh(store) == store.load(NAME)  # still good: used as it is


def race(store: TokenStore, mode: str) -> list[tuple[int, str, str]]:
    """Two OS processes refresh NAME at the same moment; each one's (exit status, stdout, stderr)."""
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(store.directory), NAME, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(1.0)  # both have imported everything and wait on stdin
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=60)
        results.append((racer.returncode, out.strip(), err))
    return results


def test_two_processes_refreshing_at_once_refresh_once(server: LiveServer, store: TokenStore) -> None:
    before = age(store, NAME, time.time() - 10)
    results = race(store, "locked")
    assert [code for code, _, _ in results] == [0, 0], results
    assert sum(err.count("refreshing") for _, _, err in results) == 1  # one refresh request reached the server
    tokens = {out for _, out, _ in results}
    assert len(tokens) == 1  # the loser reused the winner's token
    token = tokens.pop()
    assert token != before.tokens.access_token and store.load(NAME).tokens.access_token == token
    # The old refresh token was spent once: a second use would have revoked the whole family (and this token).
    assert introspect(server, token)["active"] is True
    age(store, NAME, 0)
    assert introspect(server, Counted().fresh(store).tokens.access_token)["active"] is True


def test_without_the_lock_the_same_race_ends_the_login(server: LiveServer, store: TokenStore) -> None:
    """The control: what the lock prevents. Both spend the same refresh token; the server revokes the family."""
    age(store, NAME, time.time() - 10)
    results = race(store, "no-lock")
    assert sum(err.count("refreshing") for _, _, err in results) == 2
    assert sorted(code for code, _, _ in results) == [0, 1], results
    [failure] = [err for code, _, err in results if code == 1]
    assert "TokenError: this login has ended" in failure
    [winner] = [out for code, out, _ in results if code == 0]
    assert introspect(server, winner) == {"active": False}
