"""Issue 23, Misskey's dialect: endpoints that need no credential, AUTHENTICATION_FAILED for a bad token on every
endpoint, `meta`, notes/create's `replyId` and `localOnly`, and the timelines' paging (limit, sinceId, untilId)."""

from __future__ import annotations

import pytest

from tests.conftest import World
from tests.server.test_api import bearer, challenge, invalid_token, misskey_error

OPEN = ("meta", "notes/show", "notes/local-timeline", "users/show", "users/notes")  # requireCredential: false
CLOSED = ("i", "notes/create", "notes/delete", "notes/timeline")  # requireCredential: true


@pytest.fixture
def alice(world: World) -> str:
    world.login()
    return str(world.tokens()["access_token"])


def post(world: World, endpoint: str, token: str | None = None, **body: object) -> dict[str, object]:
    headers = bearer(token) if token else {}
    response = world.http.post(f"/api/{endpoint}", headers=headers, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def create(world: World, token: str, text: str, **body: object) -> str:
    note = post(world, "notes/create", token, text=text, **body)["createdNote"]
    assert isinstance(note, dict)
    return str(note["id"])


def listed(world: World, endpoint: str, token: str | None = None, **body: object) -> list[str]:
    response = world.http.post(f"/api/{endpoint}", headers=bearer(token) if token else {}, json=body)
    assert response.status_code == 200, response.text
    return [note["text"] for note in response.json()]


def test_meta_needs_no_token_and_names_the_server(world: World) -> None:
    meta = post(world, "meta")
    assert meta["name"] == "sekisho" and meta["uri"] == "http://testserver"
    assert str(meta["version"]).startswith("2025.4.0")
    assert meta["features"] == {
        "registration": False,
        "emailRequiredForSignup": False,
        "localTimeline": True,
        "globalTimeline": False,
        "hcaptcha": False,
        "recaptcha": False,
        "turnstile": False,
        "objectStorage": False,
        "serviceWorker": False,
        "miauth": True,
    }
    lite = post(world, "meta", detail=False)
    assert "features" not in lite and lite["name"] == "sekisho"
    misskey_error(world.http.post("/api/meta", json={"detail": "yes"}), 400, "INVALID_PARAM")


@pytest.mark.parametrize("endpoint", OPEN + CLOSED)
def test_a_bad_token_is_authentication_failed_on_every_endpoint(world: World, endpoint: str) -> None:
    """Misskey authenticates whatever token was sent before it looks at the endpoint (ApiCallService.ts): a token
    that is not valid is AUTHENTICATION_FAILED even where no token is needed, in the body's `i` or the header."""
    for request in ({"json": {"i": "sek_at_not-a-token"}}, {"headers": bearer("sek_at_not-a-token"), "json": {}}):
        response = world.http.post(f"/api/{endpoint}", **request)  # type: ignore[arg-type]
        error = misskey_error(response, 401, "AUTHENTICATION_FAILED")
        assert error["id"] == "b0a7f5f8-dc2f-4171-b91f-de88ad238e14"
        assert challenge(response)["error"] == "invalid_token"


def test_a_revoked_token_is_authentication_failed_where_none_is_needed(world: World, alice: str) -> None:
    assert post(world, "meta", alice)["name"] == "sekisho"
    revoked = world.http.post("/oauth/revoke", data={"token": alice, "client_id": world.public.client_id})
    assert revoked.status_code == 200, revoked.text
    invalid_token(world.http.post("/api/meta", json={"i": alice}))
    invalid_token(world.http.post("/api/notes/local-timeline", headers=bearer(alice), json={}))
    invalid_token(world.http.post("/api/notes/show", json={"i": alice, "noteId": "9" * 10}))


@pytest.mark.parametrize("endpoint", CLOSED)
def test_endpoints_that_need_a_credential_say_so(world: World, endpoint: str) -> None:
    misskey_error(world.http.post(f"/api/{endpoint}", json={}), 401, "CREDENTIAL_REQUIRED")


def test_public_and_home_notes_are_shown_without_a_token(world: World, alice: str) -> None:
    ids = {visibility: create(world, alice, visibility, visibility=visibility) for visibility in ("public", "home")}
    hidden = create(world, alice, "followers", visibility="followers")
    for visibility, note_id in ids.items():
        shown = post(world, "notes/show", noteId=note_id)
        assert shown["text"] == visibility and shown["user"]["username"] == "alice"  # type: ignore[index]
    missing = world.http.post("/api/notes/show", json={"noteId": "9" * 10})
    refused = world.http.post("/api/notes/show", json={"noteId": hidden})
    assert misskey_error(refused, 400, "NO_SUCH_NOTE")["id"] == "24fcbfc6-2e37-42b6-8388-c29b3861a08d"
    assert refused.content == missing.content
    misskey_error(world.http.post("/api/notes/show", json={"noteId": "not-an-id"}), 400, "INVALID_PARAM")


def test_create_with_cw_local_only_and_a_reply(world: World, alice: str) -> None:
    first = create(world, alice, "first")
    reply = post(world, "notes/create", alice, text="second", cw="spoiler", localOnly=True, replyId=first)
    note = reply["createdNote"]
    assert isinstance(note, dict)
    assert (note["replyId"], note["localOnly"], note["cw"]) == (first, True, "spoiler")
    shown = post(world, "notes/show", noteId=note["id"])
    assert (shown["replyId"], shown["localOnly"], shown["cw"], shown["renoteId"]) == (first, True, "spoiler", None)
    assert post(world, "notes/show", noteId=first)["replyId"] is None
    missing = world.http.post("/api/notes/create", headers=bearer(alice), json={"text": "x", "replyId": "9" * 10})
    assert misskey_error(missing, 400, "NO_SUCH_REPLY_TARGET")["id"] == "749ee0f6-d3da-459a-bf02-282e2da4292c"
    for bad in ({"replyId": "a-b"}, {"replyId": 5}, {"localOnly": "yes"}, {"localOnly": 1}):
        response = world.http.post("/api/notes/create", headers=bearer(alice), json={"text": "x", **bad})
        misskey_error(response, 400, "INVALID_PARAM")
    assert post(world, "notes/create", alice, text="null reply", replyId=None)["createdNote"]["replyId"] is None  # type: ignore[index]


def test_a_reply_to_a_note_one_cannot_see_is_no_such_reply_target(world: World, alice: str) -> None:
    private = create(world, alice, "mine only", visibility="specified")
    world.http.cookies.clear()
    world.login("bob")
    bob = str(world.tokens()["access_token"])
    response = world.http.post("/api/notes/create", headers=bearer(bob), json={"text": "hi", "replyId": private})
    misskey_error(response, 400, "NO_SUCH_REPLY_TARGET")


def test_timelines_page_by_limit_since_and_until(world: World, alice: str) -> None:
    for number in range(1, 6):
        world.clock.advance(1)
        create(world, alice, f"n{number}")
    ids = {note["text"]: note["id"] for note in world.http.post("/api/notes/timeline", json={"i": alice}).json()}
    assert list(ids) == ["n5", "n4", "n3", "n2", "n1"]
    for endpoint in ("notes/timeline", "notes/local-timeline"):
        assert listed(world, endpoint, alice, limit=2) == ["n5", "n4"]
        assert listed(world, endpoint, alice, untilId=ids["n4"], limit=2) == ["n3", "n2"]
        # QueryService.makePaginationQuery: with only sinceId, the oldest after it come first
        assert listed(world, endpoint, alice, sinceId=ids["n2"], limit=2) == ["n3", "n4"]
        assert listed(world, endpoint, alice, sinceId=ids["n1"], untilId=ids["n5"]) == ["n4", "n3", "n2"]
        assert listed(world, endpoint, alice, withFiles=True) == []  # no note has files
        for bad in ({"limit": 0}, {"limit": 101}, {"limit": "5"}, {"limit": True}, {"sinceId": ""}, {"untilId": 3}):
            misskey_error(world.http.post(f"/api/{endpoint}", json={"i": alice, **bad}), 400, "INVALID_PARAM")
    assert listed(world, "notes/local-timeline", limit=1) == ["n5"]  # no token needed
    both = world.http.post("/api/notes/local-timeline", json={"withFiles": True, "withReplies": True})
    misskey_error(both, 400, "BOTH_WITH_REPLIES_AND_WITH_FILES")


def test_timelines_apply_visibility_and_replies(world: World, alice: str) -> None:
    public = create(world, alice, "public")
    for visibility in ("home", "followers"):
        world.clock.advance(1)  # ids sort by creation time, to the millisecond
        create(world, alice, visibility, visibility=visibility)
    world.clock.advance(1)
    create(world, alice, "reply", replyId=public)
    assert listed(world, "notes/timeline", alice) == ["reply", "followers", "home", "public"]
    assert listed(world, "notes/local-timeline") == ["public"]  # public notes only, replies left out
    assert listed(world, "notes/local-timeline", withReplies=True) == ["reply", "public"]
    user_id = post(world, "i", alice)["id"]
    assert listed(world, "users/notes", userId=user_id) == ["home", "public"]
    assert listed(world, "users/notes", userId=user_id, withReplies=True) == ["reply", "home", "public"]
    assert listed(world, "users/notes", alice, userId=user_id) == ["followers", "home", "public"]
    assert listed(world, "users/notes", userId="9" * 10) == []  # users/notes.ts: an unknown user has no notes
    misskey_error(world.http.post("/api/users/notes", json={}), 400, "INVALID_PARAM")


def test_users_show_by_id_ids_and_name_without_a_token(world: World, alice: str) -> None:
    me = post(world, "i", alice)
    by_id = post(world, "users/show", userId=me["id"])
    assert by_id == me
    assert (by_id["username"], by_id["host"], by_id["followersCount"]) == ("alice", None, 0)
    assert post(world, "users/show", username="alice") == me
    assert post(world, "users/show", username="alice", host=None) == me
    listed_users = world.http.post("/api/users/show", json={"userIds": [me["id"], "9" * 10]}).json()
    assert [user["username"] for user in listed_users] == ["alice"]
    for body in ({"userId": "9" * 10}, {"username": "nobody"}, {"username": "alice", "host": "misskey.example"}):
        error = misskey_error(world.http.post("/api/users/show", json=body), 404, "NO_SUCH_USER")
        assert error["id"] == "4362f8dc-731f-4ad8-a694-be5a88922a24"
    for body in ({}, {"userId": "a b"}, {"userIds": "x"}, {"username": 3}):
        misskey_error(world.http.post("/api/users/show", json=body), 400, "INVALID_PARAM")
