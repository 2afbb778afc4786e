"""The Misskey-dialect demo API as a resource server: RFC 6750 challenges and Misskey error bodies."""

from __future__ import annotations

import re

import pytest
from httpx2 import Response

from tests.conftest import ISSUER, World

ERROR_KEYS = {"message", "code", "id", "kind"}


@pytest.fixture
def access_token(world: World) -> str:
    world.login()
    return str(world.tokens()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def misskey_error(response: Response, status: int, code: str, kind: str = "client") -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, str] = body["error"]
    assert set(error) == ERROR_KEYS
    assert error["code"] == code
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", error["id"])
    assert error["kind"] == kind and error["message"]
    return error


def challenge(response: Response) -> dict[str, str]:
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def invalid_token(response: Response) -> None:
    misskey_error(response, 401, "AUTHENTICATION_FAILED")
    assert challenge(response)["error"] == "invalid_token"


# where the token may come from


def test_bearer_header(world: World, access_token: str) -> None:
    response = world.http.post("/api/i", headers=bearer(access_token))
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice" and body["host"] is None and body["id"]


def test_bearer_scheme_is_case_insensitive(world: World, access_token: str) -> None:
    assert world.http.post("/api/i", headers={"Authorization": f"bearer {access_token}"}).status_code == 200


def test_misskey_body_field_i(world: World, access_token: str) -> None:
    response = world.http.post("/api/i", json={"i": access_token})
    assert response.status_code == 200 and response.json()["username"] == "alice"


def test_header_and_body_naming_the_same_token(world: World, access_token: str) -> None:
    assert world.http.post("/api/i", headers=bearer(access_token), json={"i": access_token}).status_code == 200


def test_header_and_body_naming_different_tokens_are_refused(world: World, access_token: str) -> None:
    other = str(world.tokens()["access_token"])
    invalid_token(world.http.post("/api/i", headers=bearer(access_token), json={"i": other}))


@pytest.mark.parametrize("name", ["access_token", "i", "token"])
def test_a_token_in_the_query_string_is_refused(world: World, access_token: str, name: str) -> None:
    response = world.http.post("/api/i", params={name: access_token})
    invalid_token(response)
    response = world.http.post("/api/i", params={name: access_token}, json={})
    invalid_token(response)


def test_a_form_encoded_access_token_is_not_read(world: World, access_token: str) -> None:
    """RFC 6750 §2.2's form parameter is not offered: only the header (and Misskey's JSON `i`)."""
    response = world.http.post("/api/i", data={"access_token": access_token})
    assert response.status_code in (400, 401)
    assert response.json()["error"]["code"] in ("INVALID_PARAM", "AUTHENTICATION_FAILED")


METADATA = ISSUER + "/.well-known/oauth-protected-resource"  # the demo API's (RFC 9728 §5.1)


def test_missing_token_is_401_credential_required_with_a_bare_challenge(world: World) -> None:
    """Issue 23: Misskey answers an endpoint that needs a credential, called without one, CREDENTIAL_REQUIRED 401
    (ApiCallService.ts); the challenge carries no error code (RFC 6750 §3.1: the request had no token at all)."""
    for body in (None, {}, {"i": None}):
        response = world.http.post("/api/i", json=body)
        error = misskey_error(response, 401, "CREDENTIAL_REQUIRED")
        assert error["id"] == "1384574d-a912-4b81-8601-c7b1c4085df1"
        assert response.headers["www-authenticate"] == f'Bearer realm="sekisho", resource_metadata="{METADATA}"'
        assert challenge(response) == {"realm": "sekisho", "resource_metadata": METADATA}  # issue 25: RFC 9728


def test_bad_authorization_headers_are_invalid_token(world: World) -> None:
    for header in (
        "Bearer",
        "Bearer ",
        "Bearer sek_at_unknown",
        "Bearer not a token",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "A" * 5000,
        "sek_at_nothing-before-it",
    ):
        invalid_token(world.http.post("/api/i", headers={"Authorization": header}))


def test_expired_token_is_invalid_token(world: World, access_token: str) -> None:
    world.clock.advance(3600)
    invalid_token(world.http.post("/api/i", headers=bearer(access_token)))


def test_a_refresh_token_is_not_an_access_token(world: World) -> None:
    world.login()
    tokens = world.tokens()
    invalid_token(world.http.post("/api/i", headers=bearer(str(tokens["refresh_token"]))))


# scope


def test_missing_scope_is_403_insufficient_scope(world: World) -> None:
    world.login()
    token = str(world.exchange(*world.code(scope="read:account"))["access_token"])
    response = world.http.post("/api/notes/create", headers=bearer(token), json={"text": "hello"})
    error = misskey_error(response, 403, "PERMISSION_DENIED", kind="permission")
    assert "write:notes" in error["message"]
    params = challenge(response)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "write:notes"
    assert world.http.post("/api/i", headers=bearer(token)).status_code == 200


def test_a_token_without_read_account_cannot_read_the_account(world: World) -> None:
    world.login()
    token = str(world.exchange(*world.code(scope="write:notes"))["access_token"])
    response = world.http.post("/api/i", headers=bearer(token))
    misskey_error(response, 403, "PERMISSION_DENIED", kind="permission")
    assert challenge(response)["scope"] == "read:account"


# notes/create text rules


NOTE_CASES: list[tuple[dict[str, object], int]] = [
    ({"text": "x"}, 200),
    ({"text": "x" * 3000}, 200),
    ({"text": "日本語のノート 🎌"}, 200),
    ({"text": ""}, 400),
    ({"text": "x" * 3001}, 400),
    ({}, 400),
    ({"text": None}, 400),
    ({"text": 42}, 400),
    ({"text": ["a"]}, 400),
    ({"text": "ok", "visibility": "everyone"}, 400),
    ({"text": "ok", "visibility": "home"}, 200),
    ({"text": "ok", "cw": "c" * 101}, 400),
    ({"text": "ok", "cw": 5}, 400),
    ({"text": "ok", "cw": "spoiler"}, 200),
]


def test_notes_create_rules(world: World, access_token: str, subtests: pytest.Subtests) -> None:
    for body, status in NOTE_CASES:
        with subtests.test(body=str(body)[:40], status=status):
            response = world.http.post("/api/notes/create", headers=bearer(access_token), json=body)
            if status == 200:
                assert response.status_code == 200, response.text
                note = response.json()["createdNote"]
                assert note["text"] == body["text"] and note["user"]["username"] == "alice"
                assert note["visibility"] == body.get("visibility", "public")
            else:
                misskey_error(response, 400, "INVALID_PARAM")


def test_a_lone_surrogate_in_the_text_is_refused_cleanly(world: World, access_token: str) -> None:
    response = world.http.post(
        "/api/notes/create",
        headers={**bearer(access_token), "content-type": "application/json"},
        content=b'{"text": "a\\ud800b"}',
    )
    misskey_error(response, 400, "INVALID_PARAM")


def test_malformed_bodies_get_misskey_errors(world: World, access_token: str) -> None:
    for body in (b"{not json", b"[]", b'"text"', b"\xff\xfe", b"[" * 100_000, b"x" * (65 * 1024)):
        response = world.http.post(
            "/api/notes/create", headers={**bearer(access_token), "content-type": "application/json"}, content=body
        )
        misskey_error(response, 400, "INVALID_PARAM")


def test_i_of_the_wrong_type_is_invalid_param(world: World) -> None:
    misskey_error(world.http.post("/api/i", json={"i": 12345}), 400, "INVALID_PARAM")


def test_show_and_delete(world: World, access_token: str) -> None:
    created = world.http.post("/api/notes/create", headers=bearer(access_token), json={"text": "bye"}).json()
    note_id = created["createdNote"]["id"]
    shown = world.http.post("/api/notes/show", headers=bearer(access_token), json={"noteId": note_id})
    assert shown.status_code == 200 and shown.json()["text"] == "bye"
    deleted = world.http.post("/api/notes/delete", headers=bearer(access_token), json={"noteId": note_id})
    assert deleted.status_code == 204
    gone = world.http.post("/api/notes/show", headers=bearer(access_token), json={"noteId": note_id})
    misskey_error(gone, 400, "NO_SUCH_NOTE")
    misskey_error(
        world.http.post("/api/notes/show", headers=bearer(access_token), json={"noteId": "x" * 65}),
        400,
        "INVALID_PARAM",
    )


def test_one_cannot_delete_someone_elses_note(world: World, access_token: str) -> None:
    created = world.http.post("/api/notes/create", headers=bearer(access_token), json={"text": "mine"}).json()
    note_id = created["createdNote"]["id"]
    world.http.cookies.clear()
    world.login("bob")
    bobs = str(world.tokens()["access_token"])
    response = world.http.post("/api/notes/delete", headers=bearer(bobs), json={"noteId": note_id})
    # Issue 23: Misskey's notes/delete.ts answers someone else's note (one the caller can see) ACCESS_DENIED.
    error = misskey_error(response, 400, "ACCESS_DENIED")
    assert error["id"] == "fe8d7103-0ea8-4ec3-814d-f8b401dc69e9"
    assert world.http.post("/api/notes/show", headers=bearer(bobs), json={"noteId": note_id}).status_code == 200
    missing = world.http.post("/api/notes/delete", headers=bearer(bobs), json={"noteId": "9" * 10})
    assert misskey_error(missing, 400, "NO_SUCH_NOTE")["id"] == "490be23f-8c1f-4796-819f-94cb4f9d1630"


def test_api_is_post_only(world: World, access_token: str) -> None:
    response = world.http.get("/api/i", headers=bearer(access_token))
    assert response.status_code == 405


@pytest.mark.parametrize("body", [{"text": "a\u0000b"}, {"text": "ok", "cw": "\u0000"}, {"text": "ok", "\u0000": 1}])
def test_a_nul_in_a_note_is_refused_cleanly(world: World, access_token: str, body: dict[str, object]) -> None:
    # Found by fuzzing (tests/server/test_fuzz.py): PostgreSQL's text cannot hold a NUL; storing one was a 500.
    response = world.http.post("/api/notes/create", headers=bearer(access_token), json=body)
    misskey_error(response, 400, "INVALID_PARAM")


def test_a_nul_in_a_note_id_is_refused_cleanly(world: World, access_token: str) -> None:
    for path in ("/api/notes/show", "/api/notes/delete"):
        response = world.http.post(path, headers=bearer(access_token), json={"noteId": "a\u0000b"})
        misskey_error(response, 400, "INVALID_PARAM")


def test_a_note_only_its_author_may_see_answers_anyone_else_like_a_missing_one(world: World, access_token: str) -> None:
    """Issue 21 finding 10: alice's `followers` and `specified` notes were shown to any user's token. Misskey's rules:
    the author always, `public` and `home` to all; here `followers` and `specified` to the author only (no follow
    graph, and a note keeps no list of named users). An unseen note answers exactly like one that does not exist."""
    notes = {}
    for visibility in ("public", "home", "followers", "specified"):
        created = world.http.post(
            "/api/notes/create", headers=bearer(access_token), json={"text": visibility, "visibility": visibility}
        )
        notes[visibility] = created.json()["createdNote"]["id"]
    world.http.cookies.clear()
    world.login("bob")
    bobs = str(world.tokens()["access_token"])
    missing = world.http.post("/api/notes/show", headers=bearer(bobs), json={"noteId": "9" * 10})
    misskey_error(missing, 400, "NO_SUCH_NOTE")
    for visibility, note_id in notes.items():
        as_alice = world.http.post("/api/notes/show", headers=bearer(access_token), json={"noteId": note_id})
        assert as_alice.status_code == 200 and as_alice.json()["text"] == visibility
        as_bob = world.http.post("/api/notes/show", headers=bearer(bobs), json={"noteId": note_id})
        in_body = world.http.post("/api/notes/show", json={"noteId": note_id, "i": bobs})
        # Issue 23: notes/show is `requireCredential: false` in Misskey; without a token, the same rules apply.
        anonymous = world.http.post("/api/notes/show", json={"noteId": note_id})
        if visibility in ("public", "home"):
            assert as_bob.status_code == in_body.status_code == anonymous.status_code == 200
            assert as_bob.json()["text"] == anonymous.json()["text"] == visibility
        else:
            for refused in (as_bob, in_body, anonymous):
                assert (refused.status_code, refused.content) == (missing.status_code, missing.content)
