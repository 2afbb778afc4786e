"""Natural batching of client_credentials tokens (store/batch.py): grouped only under load, each write checked on
its own, and a failed batch fails each of its writes as a lone one would have failed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

import pytest

from sekisho.protocol import tokens
from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.entities import AccessToken, AuthorizationCode, Client, Grant, NewTokens, Successors, User
from sekisho.server.ids import new_id
from sekisho.server.registry import register_client
from sekisho.server.store import CodeAsk, Found, Outcome, Redeemed, RefreshAsk, Refused
from sekisho.server.store.batch import Batcher
from sekisho.server.store.sql import SqlStore
from tests.conftest import REDIRECT_URI

NOW = 1_700_000_000


class Recorder:
    """A `write` that answers True for even items, remembers each batch, and can be made to fail or to wait."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.fail: Exception | None = None
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, items: Sequence[int]) -> list[bool]:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return [item % 2 == 0 for item in items]


def test_a_lone_write_goes_at_once_by_itself() -> None:
    async def main() -> None:
        write = Recorder()
        batcher = Batcher(write)
        assert await batcher.submit(4) is True
        assert await batcher.submit(3) is False
        assert write.batches == [[4], [3]]

    asyncio.run(main())


def test_writes_that_arrive_while_batches_are_in_flight_go_together_each_with_its_own_answer() -> None:
    async def main() -> None:
        write = Recorder()
        write.gate.clear()
        batcher = Batcher(write, flushes=2)
        waiting = [asyncio.create_task(batcher.submit(item)) for item in range(10)]
        await asyncio.sleep(0)  # two flushes start, each taking what is waiting
        write.gate.set()
        answers = await asyncio.gather(*waiting)
        assert answers == [item % 2 == 0 for item in range(10)]
        assert sorted(item for batch in write.batches for item in batch) == list(range(10))
        assert len(write.batches) < 10

    asyncio.run(main())


def test_a_batch_holds_at_most_most_writes() -> None:
    async def main() -> None:
        write = Recorder()
        batcher = Batcher(write, most=3, flushes=1)
        assert await asyncio.gather(*(batcher.submit(item) for item in range(8))) == [i % 2 == 0 for i in range(8)]
        assert [len(batch) for batch in write.batches] == [3, 3, 2]

    asyncio.run(main())


def test_a_failed_batch_fails_each_of_its_writes_and_the_next_batch_goes_on() -> None:
    async def main() -> None:
        write = Recorder()
        batcher = Batcher(write, flushes=1)
        write.fail = ConnectionResetError("gone")
        results = await asyncio.gather(*(batcher.submit(item) for item in range(4)), return_exceptions=True)
        assert all(isinstance(result, ConnectionResetError) for result in results)
        write.fail = None
        assert await batcher.submit(2) is True

    asyncio.run(main())


def test_a_write_whose_request_gave_up_does_not_stop_the_others() -> None:
    async def main() -> None:
        write = Recorder()
        write.gate.clear()
        batcher = Batcher(write, flushes=1)
        first = asyncio.create_task(batcher.submit(0))
        given_up = asyncio.create_task(batcher.submit(2))
        last = asyncio.create_task(batcher.submit(4))
        await asyncio.sleep(0)
        given_up.cancel()
        write.gate.set()
        assert await first is True and await last is True
        with pytest.raises(asyncio.CancelledError):
            await given_up

    asyncio.run(main())


def test_a_write_function_that_answers_too_few_fails_its_batch_rather_than_guessing() -> None:
    async def short(items: Sequence[int]) -> list[bool]:
        return [True] * (len(items) - 1)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="answered"):
            await Batcher(short).submit(1)

    asyncio.run(main())


def test_nonsense_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Batcher(Recorder(), most=0)
    with pytest.raises(ValueError):
        Batcher(Recorder(), flushes=0)


# ------------------------------------------------------------------------------- the store, on both backends


async def _client(store: SqlStore, name: str) -> tuple[Client, str]:
    client, secret = await register_client(
        store,
        name=name,
        redirect_uris=[REDIRECT_URI],
        public=False,
        scope=None,
        grant_types=["client_credentials"],
        known_scopes=DEFAULT_SCOPES,
        now=NOW,
    )
    assert secret is not None
    return client, secret


def _token(client: Client) -> AccessToken:
    digest = tokens.digest(tokens.new_secret(tokens.ACCESS_TOKEN))
    return AccessToken(digest, None, client.client_id, None, "read:account", NOW + 3600, NOW)


def test_many_tokens_at_once_are_each_written_only_while_their_own_client_is_registered(database: str) -> None:
    """Sixty parallel issues for three clients, one of them removed by another connection while this store still
    remembers it: its tokens are refused and written nowhere, the others' are all written."""

    async def main() -> None:
        store = await SqlStore.open(database)
        other = await SqlStore.open(database, migrate_schema=False)
        try:
            clients = [(await _client(store, f"machine {n}"))[0] for n in range(3)]
            for client in clients:
                assert await store.clients.recall(client.client_id, client.secret_digest) == client
            assert await other.clients.remove(clients[2].client_id)
            issued = [(client, _token(client)) for _ in range(20) for client in clients]
            written = await asyncio.gather(
                *(store.grants.issue_client_token(token, client) for client, token in issued)
            )
            for (client, token), was_written in zip(issued, written, strict=True):
                assert was_written is (client != clients[2])
                found = await store.grants.find_access_token(token.digest, NOW)
                assert (found == token) is was_written, client.name
        finally:
            await store.close()
            await other.close()

    asyncio.run(main())


def test_many_lookups_at_once_each_get_their_own_answer(database: str) -> None:
    """Lookups made together: live, revoked, expired at that row's `now`, unknown, and one token inspected both by
    a client still registered and by one removed meanwhile (from memory): each gets what it would get alone."""

    async def main() -> None:
        store = await SqlStore.open(database)
        other = await SqlStore.open(database, migrate_schema=False)
        try:
            current, removed = [(await _client(store, f"caller {n}"))[0] for n in range(2)]
            live, revoked = _token(current), _token(current)
            for token in (live, revoked):
                assert await store.grants.issue_client_token(token, current)
            await store.grants.revoke_access_token(revoked.digest, NOW)
            assert await store.clients.recall(removed.client_id, removed.secret_digest) == removed
            assert await other.clients.remove(removed.client_id)
            asked = [
                (live.digest, NOW, live),
                (live.digest, live.expires_at, None),  # expired at that moment
                (revoked.digest, NOW, None),
                (tokens.digest("sek_at_unknown"), NOW, None),
            ] * 5
            inspected = [
                (live.digest, NOW, current, (True, live)),
                (revoked.digest, NOW, current, (True, None)),
                (live.digest, NOW, removed, (False, live)),
                (tokens.digest("sek_at_unknown"), NOW, removed, (False, None)),
            ] * 5
            found, seen = await asyncio.gather(
                asyncio.gather(*(store.grants.find_access_token(digest, now) for digest, now, _ in asked)),
                asyncio.gather(
                    *(store.grants.inspect_access_token(digest, now, by) for digest, now, by, _ in inspected)
                ),
            )
            assert found == [expected for *_, expected in asked]
            assert seen == [expected for *_, expected in inspected]
        finally:
            await store.close()
            await other.close()

    asyncio.run(main())


class Given:
    """A `store.Successor` with fixed successors: drawn before the read, or (`read_first`) handed over only once
    the store has found the row, which it records."""

    def __init__(self, successors: Successors, *, read_first: bool = False) -> None:
        self.successors, self.read_first = successors, read_first
        self.found: Found | None = None

    @property
    def drawn(self) -> Successors | None:
        return None if self.read_first else self.successors

    async def make(self, found: Found) -> Successors:
        self.found = found
        return self.successors


def _drawn(now: int, *, refresh: bool = True, absolute: int | None = None) -> Successors:
    return Successors(
        tokens.digest(tokens.new_secret(tokens.ACCESS_TOKEN)), now + 3600,
        tokens.digest(tokens.new_secret(tokens.REFRESH_TOKEN)) if refresh else None, now + 86400, absolute,
    )  # fmt: skip


def _ask(code: AuthorizationCode, client: Client, now: int, *, redirect_uri: str = REDIRECT_URI) -> CodeAsk:
    return CodeAsk(code.digest, client, redirect_uri, code.code_challenge, now)


def _tokens(outcome: Outcome) -> NewTokens:
    assert isinstance(outcome, Redeemed), outcome
    return outcome.tokens


def test_on_postgresql_requests_made_together_share_statements_and_on_sqlite_each_has_its_own(database: str) -> None:
    """The batching itself: sixty issues, then sixty lookups, sixty code exchanges and sixty refreshes, each made
    together. PostgreSQL sends fewer statements than requests; SQLite, with no round trip to save, at least one
    each."""

    async def main() -> None:
        store = await SqlStore.open(database)
        try:
            client, _ = await _client(store, "machine")
            sent: list[str] = []
            grants = store.grants
            for connection in {id(grants._write): grants._write, id(grants._read): grants._read}.values():
                for method in ("fetch_one", "fetch_all"):
                    original = getattr(connection, method)

                    async def counted(*args: object, _original: object = original, **kwargs: object) -> object:
                        sent.append("statement")
                        return await _original(*args, **kwargs)  # type: ignore[operator]

                    setattr(connection, method, counted)
            issued = [_token(client) for _ in range(60)]
            assert all(await asyncio.gather(*(store.grants.issue_client_token(token, client) for token in issued)))
            issue_statements = len(sent)
            found = await asyncio.gather(*(store.grants.find_access_token(token.digest, NOW) for token in issued))
            assert found == issued
            lookup_statements = len(sent) - issue_statements
            codes = await _grants_with_codes(store, client, 60)
            before = len(sent)
            redeemed = await asyncio.gather(
                *(
                    store.grants.redeem_code(_ask(c, client, NOW + 1), Given(_drawn(NOW + 1, absolute=NOW + 999)))
                    for c in codes
                )
            )
            given = [_tokens(outcome) for outcome in redeemed]
            before, redeem_statements = len(sent), len(sent) - before
            rotated = await asyncio.gather(
                *(
                    store.grants.rotate_refresh_token(
                        RefreshAsk(old.refresh.digest, client, NOW + 2), Given(_drawn(NOW + 2))
                    )
                    for old in given
                    if old.refresh is not None
                )
            )
            assert all(isinstance(outcome, Redeemed) for outcome in rotated)
            counts = [issue_statements, lookup_statements, redeem_statements, len(sent) - before]
            if database.startswith("sqlite"):
                # (fetch_one may go through fetch_all; a redemption is a transaction of its own, not counted here)
                assert counts[0] >= 60 and counts[1] >= 60
            else:
                assert all(1 <= count < 60 for count in counts), counts
        finally:
            await store.close()

    asyncio.run(main())


async def _grants_with_codes(store: SqlStore, client: Client, count: int) -> list[AuthorizationCode]:
    user = User(new_id(), f"user-{new_id()}", "$argon2id$unused", NOW)
    await store.users.add(user)
    codes = []
    for _ in range(count):
        grant = Grant(new_id(), user.id, client.client_id, "read:account", NOW)
        digest = tokens.digest(tokens.new_secret(tokens.AUTHORIZATION_CODE))
        code = AuthorizationCode(
            digest, grant.id, client.client_id, user.id, REDIRECT_URI, grant.scope, "challenge", NOW + 60
        )
        await store.grants.issue_code(grant, code)
        codes.append(code)
    return codes


async def _nine_codes_and_another_clients(store: SqlStore) -> tuple[Client, Client, list[AuthorizationCode]]:
    """A client with nine codes of one user, and another client with one code (the tenth)."""
    client, _ = await _client(store, "app")
    other_client, _ = await _client(store, "other app")
    return (
        client,
        other_client,
        await _grants_with_codes(store, client, 9) + await _grants_with_codes(store, other_client, 1),
    )


@pytest.mark.parametrize("read_first", [False, True], ids=["drawn", "read-first"])
def test_codes_redeemed_together_are_each_consumed_once_and_only_when_usable(database: str, read_first: bool) -> None:
    """Issue 22 item 1: redeem_code, many at once (one statement on PostgreSQL): five codes, the first sent four
    times, each exchanged once (one of them without a refresh token), the others sent with it refused as replays,
    the winners' successors taking grant, user and scope from the code. Sent at the same time and refused for what
    the statement found, each writing nothing and leaving the code unused: a wrong redirect_uri, a wrong PKCE
    challenge, an expired code, another client's code, a client whose secret no longer matches, an unknown code."""

    async def main() -> None:
        store = await SqlStore.open(database)
        try:
            client, other_client, codes = await _nine_codes_and_another_clients(store)
            stale = replace(client, secret_digest="0" * 64)  # as if registered again with another secret
            unknown = replace(codes[0], digest=tokens.digest("sek_ac_unknown"))
            asked = [_ask(code, client, NOW + 5) for code in codes[:5]] + [_ask(codes[0], client, NOW + 5)] * 3
            refused = [
                (_ask(codes[5], client, NOW + 5, redirect_uri="http://127.0.0.1/elsewhere"), "redirect_uri"),
                (replace(_ask(codes[6], client, NOW + 5), code_challenge="another challenge"), "verifier"),
                (_ask(codes[7], client, NOW + 61), "expired"),
                (_ask(codes[9], client, NOW + 5), "other_client"),
                (_ask(codes[8], stale, NOW + 5), "client_gone"),
                (_ask(unknown, client, NOW + 5), "unknown"),
            ]
            given = [
                Given(_drawn(NOW + 5, refresh=n != 1, absolute=NOW + 1000), read_first=read_first)
                for n in range(len(asked) + len(refused))
            ]
            outcomes = await asyncio.gather(
                *(
                    store.grants.redeem_code(ask, new)
                    for ask, new in zip(asked + [ask for ask, _ in refused], given, strict=True)
                )
            )
            assert all(isinstance(outcome, Redeemed) for outcome in outcomes[1:5])
            firsts = [outcomes[0], *outcomes[5:8]]
            assert sum(isinstance(outcome, Redeemed) for outcome in firsts) == 1
            assert [outcome for outcome in firsts if isinstance(outcome, Refused)] == [
                Refused("replayed", codes[0].grant_id)
            ] * 3
            assert outcomes[8:] == [Refused(reason) for _, reason in refused]
            for ask, new, outcome in zip(asked + [ask for ask, _ in refused], given, outcomes, strict=True):
                found = await store.grants.find_access_token(new.successors.access_digest, NOW + 6)
                if isinstance(outcome, Refused):
                    assert found is None
                    refresh_digest = new.successors.refresh_digest
                    assert refresh_digest is None or await store.grants.find_refresh_token(refresh_digest) is None
                    continue
                code = next(code for code in codes if code.digest == ask.digest)
                assert found == outcome.tokens.access
                assert (found.grant_id, found.user_id, found.scope) == (code.grant_id, code.user_id, code.scope)
                assert (found.expires_at, found.created_at) == (NOW + 3605, NOW + 5)
                if new.successors.refresh_digest is None:
                    assert outcome.tokens.refresh is None
                    continue
                stored = await store.grants.find_refresh_token(new.successors.refresh_digest)
                assert stored == outcome.tokens.refresh and stored is not None
                assert (stored.expires_at, stored.absolute_expires_at) == (NOW + 1000, NOW + 1000)  # capped
            for code in codes:
                now = await store.grants.find_code(code.digest)
                assert now is not None and (now.consumed_at == NOW + 5) is (code in codes[:5])
        finally:
            await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("read_first", [False, True], ids=["drawn", "read-first"])
def test_refresh_tokens_rotated_together_are_each_consumed_once_and_only_when_usable(
    database: str, read_first: bool
) -> None:
    """Issue 22 item 1: rotate_refresh_token, many at once (one statement on PostgreSQL): six usable tokens, the
    first sent four times, each rotate once (the other three refused as replays), their successors taking grant,
    user and scope from them, the refresh token's expiry capped by the absolute one. Sent in the same statement and
    refused for what it found, each writing nothing and consuming nothing: a token of another client, an expired
    one, one revoked with its grant, and one sent by a client whose secret no longer matches."""

    async def main() -> None:
        store = await SqlStore.open(database)
        try:
            client, other_client, codes = await _nine_codes_and_another_clients(store)
            issued = []
            for number, code in enumerate(codes):
                owner = other_client if number == 9 else client
                absolute = NOW + 100 if number == 1 else NOW + 1 + 86400 * 30  # soon: it caps the successor's
                drawn = _drawn(NOW + 1, absolute=absolute)
                if number == 6:  # expired by the time it is used
                    drawn = replace(drawn, refresh_expires_at=NOW + 3)
                new = _tokens(await store.grants.redeem_code(_ask(code, owner, NOW + 1), Given(drawn)))
                assert new.refresh is not None
                issued.append(new.refresh)
            await store.grants.revoke_grant(issued[7].grant_id, NOW + 2)
            stale = replace(client, secret_digest="0" * 64)  # as if registered again with another secret
            asked = [(old, client) for old in issued[:6]] + [(issued[0], client)] * 3
            refused = [(issued[9], client), (issued[6], client), (issued[7], client), (issued[8], stale)]
            given = [Given(_drawn(NOW + 5), read_first=read_first) for _ in asked + refused]
            outcomes = await asyncio.gather(
                *(
                    store.grants.rotate_refresh_token(RefreshAsk(old.digest, who, NOW + 5), new)
                    for (old, who), new in zip(asked + refused, given, strict=True)
                )
            )
            assert all(isinstance(outcome, Redeemed) for outcome in outcomes[1:6])
            firsts = [outcomes[0], *outcomes[6:9]]
            assert sum(isinstance(outcome, Redeemed) for outcome in firsts) == 1
            assert [outcome for outcome in firsts if isinstance(outcome, Refused)] == [
                Refused("replayed", issued[0].grant_id)
            ] * 3
            assert outcomes[9:] == [Refused(r) for r in ("other_client", "expired", "revoked", "client_gone")]
            for (old, _), new, outcome in zip(asked + refused, given, outcomes, strict=True):
                successors = new.successors
                assert successors.refresh_digest is not None
                stored = await store.grants.find_refresh_token(successors.refresh_digest)
                if isinstance(outcome, Refused):
                    assert (
                        stored is None
                        and await store.grants.find_access_token(successors.access_digest, NOW + 6) is None
                    )
                    continue
                assert outcome.tokens.refresh == stored and stored is not None
                assert await store.grants.find_access_token(successors.access_digest, NOW + 6) == outcome.tokens.access
                access = outcome.tokens.access
                assert (access.grant_id, access.user_id, access.scope) == (old.grant_id, old.user_id, old.scope)
                assert (access.client_id, access.expires_at, access.created_at) == (
                    client.client_id,
                    NOW + 3605,
                    NOW + 5,
                )
                assert stored.absolute_expires_at == old.absolute_expires_at
                assert stored.expires_at == (NOW + 100 if old is issued[1] else NOW + 5 + 86400)
            for old in issued:
                now = await store.grants.find_refresh_token(old.digest)
                assert now is not None and (now.consumed_at == NOW + 5) is (old in issued[:6])
            touched = dict(await store.grants.list_user_grants(codes[0].user_id))
            assert {grant.id for grant, used in touched.items() if used == NOW + 5} == {c.grant_id for c in codes[:6]}
        finally:
            await store.close()

    asyncio.run(main())


def test_a_write_submitted_as_the_last_flushes_end_is_still_sent() -> None:
    """Two flushes end in one turn of the loop, and a write arrives before their tasks' done callbacks would have
    run: it must start a flush of its own rather than wait for a write that may never come."""

    async def main() -> None:
        write = Recorder()
        write.gate.clear()
        batcher = Batcher(write, flushes=2, most=1)

        async def one_then_another() -> bool:
            await batcher.submit(0)
            return await batcher.submit(2)

        chained = asyncio.create_task(one_then_another())
        other = asyncio.create_task(batcher.submit(4))
        for _ in range(3):
            await asyncio.sleep(0)
        write.gate.set()
        assert await asyncio.wait_for(chained, timeout=5) is True
        assert await other is True

    asyncio.run(main())
