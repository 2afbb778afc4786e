"""The contract every TokenVerifier keeps, checked for each one against a real server issuing real tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sekisho.errors import InsufficientScope, InvalidToken
from sekisho.protocol.jwt_access import MAX_TOKEN_LENGTH
from sekisho.resource import TokenInfo, TokenVerifier
from tests.resource.conftest import Subject
from tests.server.test_client_credentials import grant
from tests.server.test_revoke_introspect import introspect
from tests.server.test_token import add_client

LIFETIME = 3600  # the server's access_token_ttl


def issue(subject: Subject, scope: str = "read:account write:notes") -> dict[str, object]:
    subject.world.login()
    return subject.world.exchange(*subject.world.code(scope=scope))


def refused(subject: Subject, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        subject.verify(token)
    assert caught.value.status == 401 and caught.value.error == "invalid_token"
    return caught.value


def test_a_valid_token_names_its_client_user_scope_and_expiry(subject: Subject) -> None:
    world = subject.world
    token = str(issue(subject)["access_token"])
    alice = introspect(world, token)["sub"]
    assert subject.verify(token) == TokenInfo(
        client_id=world.public.client_id,
        user_id=str(alice),
        scope=("read:account", "write:notes"),
        expires_at=int(world.clock()) + LIFETIME,
    )


def test_a_token_of_no_user_has_no_user_id(subject: Subject) -> None:
    machine = add_client(subject.world, public=False, grant_types=["client_credentials"])
    body = grant(subject.world, machine.client_id, machine.client_secret, scope="read:account")
    info = subject.verify(str(body["access_token"]))
    assert info.client_id == machine.client_id and info.user_id is None and info.scope == ("read:account",)


def test_an_expired_token_is_refused_even_after_it_was_accepted(subject: Subject) -> None:
    token = str(issue(subject)["access_token"])

    async def scenario(verifier: TokenVerifier) -> None:
        await verifier.verify(token)
        subject.world.clock.advance(LIFETIME + 31)  # past exp and the JWT verifier's 30 s of leeway
        with pytest.raises(InvalidToken):
            await verifier.verify(token)

    subject.run(scenario)


def test_a_revoked_token_is_refused(subject: Subject) -> None:
    world = subject.world
    token = str(issue(subject)["access_token"])
    response = world.http.post("/oauth/revoke", data={"token": token, "client_id": world.public.client_id})
    assert response.status_code == 200
    refused(subject, token)


def test_a_missing_scope_is_insufficient_scope_naming_it(subject: Subject) -> None:
    info = subject.verify(str(issue(subject, scope="read:account")["access_token"]))
    assert info.scope == ("read:account",)
    info.require("read:account")
    with pytest.raises(InsufficientScope) as caught:
        info.require("read:account", "write:notes")
    assert caught.value.status == 403 and caught.value.scope == "write:notes"


def test_a_refresh_token_is_not_an_access_token(subject: Subject) -> None:
    refused(subject, str(issue(subject)["refresh_token"]))


MALFORMED: dict[str, Callable[[str], str]] = {
    "empty": lambda token: "",
    "garbage": lambda token: "garbage",
    "three dots": lambda token: "a.b.c",
    "truncated": lambda token: token[:-3],
    "one character changed": lambda token: token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
    "padded": lambda token: token + "A",
    "oversized": lambda token: token + "A" * MAX_TOKEN_LENGTH,
    "non-ASCII": lambda token: token[:-1] + "é",
    "with spaces": lambda token: f" {token} ",
    "NUL": lambda token: token + "\x00",
    "lone surrogate": lambda token: token + "\ud800",
}


@pytest.mark.parametrize("mangle", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_tokens_are_invalid_token(subject: Subject, mangle: Callable[[str], str]) -> None:
    refused(subject, mangle(str(issue(subject)["access_token"])))
