"""What each token request costs in statements, counted as the driver is handed them (`Query.arguments`), on
SQLite and PostgreSQL: a refusal costs what deciding it needs, and no request is run twice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from httpx2 import Response

from sekisho.server.store import queries as q
from sekisho.server.store.driver import Query
from tests.conftest import ISSUER, World
from tests.server.test_token import code_request, refused, remove_client, token

NAMES = {id(query): name for name, query in vars(q).items() if isinstance(query, Query)}
REVOCATION = ["REVOKE_GRANT", "REVOKE_GRANT_ACCESS_TOKENS", "REVOKE_GRANT_REFRESH_TOKENS"]


@contextmanager
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names (in store/queries.py) of the statements sent while inside, in order."""
    sent: list[str] = []
    arguments = Query.arguments

    def counting(self: Query, dialect: str, params: Any) -> tuple[str, list[Any]]:
        sent.append(NAMES.get(id(self), "?"))
        return arguments(self, dialect, params)

    with monkeypatch.context() as patched:
        patched.setattr(Query, "arguments", counting)
        yield sent


@pytest.fixture
def signed_in(world: World) -> World:
    world.login()
    return world


def on_postgresql(world: World) -> bool:
    return not world.database.startswith("sqlite")


def test_an_unknown_code_costs_one_statement(signed_in: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22 item 1: an unknown code is refused from the one statement that looked for it (it cost about five,
    two of them writes, when the grant ran again from the database after a refusal)."""
    world = signed_in
    world.tokens()  # the app has read the client
    with counted(monkeypatch) as sent:
        refused(token(world, data=code_request(world, "sek_ac_unknown", "v" * 43)), "invalid_grant")
    assert sent == (["REDEEM_CODES"] if on_postgresql(world) else ["INSPECT_CODE"])


def test_a_replayed_code_costs_its_statement_and_the_revocation(
    signed_in: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22 item 1: a used code found by the redemption's statement is revoked at once: that statement, then
    the grant's revocation, and nothing else."""
    world = signed_in
    code, verifier = world.code()
    world.exchange(code, verifier)
    with counted(monkeypatch) as sent:
        refused(token(world, data=code_request(world, code, verifier)), "invalid_grant")
    assert sent == (["REDEEM_CODES"] if on_postgresql(world) else ["INSPECT_CODE"]) + REVOCATION


def test_an_exchange_and_a_refresh_cost_one_statement_on_postgresql(
    signed_in: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22 item 1: the happy path stays one statement on PostgreSQL (a transaction of the read, the consuming
    UPDATE and the inserts on SQLite)."""
    world = signed_in
    world.tokens()
    code, verifier = world.code()
    with counted(monkeypatch) as sent:
        body = world.exchange(code, verifier)
    written = ["INSERT_ACCESS_TOKEN", "INSERT_REFRESH_TOKEN", "TOUCH_GRANT"]
    assert sent == (["REDEEM_CODES"] if on_postgresql(world) else ["INSPECT_CODE", "CONSUME_CODE", *written])
    data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": world.public.client_id}
    with counted(monkeypatch) as sent:
        assert token(world, data=data).status_code == 200
    expected = ["INSPECT_REFRESH_TOKEN", "CONSUME_REFRESH_TOKEN", *written]
    assert sent == (["ROTATE_REFRESH_TOKENS"] if on_postgresql(world) else expected)
    with counted(monkeypatch) as sent:  # the token rotated away, sent again: a reuse
        refused(token(world, data=data), "invalid_grant")
    reuse = ["ROTATE_REFRESH_TOKENS"] if on_postgresql(world) else ["INSPECT_REFRESH_TOKEN"]
    assert sent == reuse + REVOCATION


def test_an_introspection_is_one_lookup_and_a_caller_removed_meanwhile_is_refused_by_it(
    signed_in: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22 item 1: introspection runs once: the token's lookup re-checks the caller it may have from memory,
    and a caller removed by another process is invalid_client from that one statement (no second pass)."""
    world = signed_in
    caller = world.confidential
    assert caller.client_secret is not None
    auth = (caller.client_id, caller.client_secret)
    code, verifier = world.code(caller.client_id)
    access = str(world.exchange(code, verifier, client=caller)["access_token"])

    def introspect() -> Response:
        return world.http.post("/oauth/introspect", data={"token": access}, auth=auth)

    assert introspect().json()["active"] is True  # the app has read the caller
    lookup = "INSPECT_ACCESS_TOKENS" if on_postgresql(world) else "INSPECT_ACCESS_TOKEN"
    with counted(monkeypatch) as sent:
        assert introspect().json()["active"] is True
    assert sent == [lookup, "FIND_USER"]
    remove_client(world, caller.client_id)
    with counted(monkeypatch) as sent:
        gone = introspect()
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_client"
    assert sent == [lookup]


def test_resource_indicators_keep_the_one_statement_unless_the_request_names_one(
    signed_in: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25: a code authorized for a resource redeems in one statement on PostgreSQL; a request that names
    resources reads the code first, as a narrower scope does; one that names a resource not authorized stops after
    that read, with nothing consumed."""
    world = signed_in
    world.tokens()
    code, verifier = world.code(resource=ISSUER)
    written = ["INSERT_ACCESS_TOKEN", "INSERT_REFRESH_TOKEN", "TOUCH_GRANT"]
    with counted(monkeypatch) as sent:
        world.exchange(code, verifier)
    assert sent == (["REDEEM_CODES"] if on_postgresql(world) else ["INSPECT_CODE", "CONSUME_CODE", *written])
    code, verifier = world.code(resource=ISSUER)
    with counted(monkeypatch) as sent:
        refused(
            token(world, data={**code_request(world, code, verifier), "resource": "https://other.example"}),
            "invalid_target",
        )
    assert sent == ["INSPECT_CODE"]
    with counted(monkeypatch) as sent:
        world.exchange(code, verifier, resource=ISSUER)
    assert sent == (
        ["INSPECT_CODE", "REDEEM_CODES"] if on_postgresql(world) else ["INSPECT_CODE", "CONSUME_CODE", *written]
    )
