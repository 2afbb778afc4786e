"""The X dialect of the demo API: GET /2/users/me, POST /2/tweets, GET/DELETE /2/tweets/{id} (PROVIDERS.md)."""

from __future__ import annotations

import pytest

from sekisho.demo.x_shapes import not_found
from tests.conftest import World

X_SCOPE = "tweet.read tweet.write users.read offline.access"


@pytest.fixture
def bearer(world: World) -> dict[str, str]:
    world.login()
    tokens = world.exchange(*world.code(scope=X_SCOPE))
    assert tokens["scope"] == X_SCOPE and "refresh_token" in tokens
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_me(world: World, bearer: dict[str, str]) -> None:
    response = world.http.get("/2/users/me", headers=bearer)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["username"] == "alice" and data["name"] == "alice" and data["id"]


def test_post_and_delete_a_tweet(world: World, bearer: dict[str, str]) -> None:
    created = world.http.post("/2/tweets", headers=bearer, json={"text": "hello from a bot"})
    assert created.status_code == 201
    data = created.json()["data"]
    # X's create answer carries the edit history too (https://docs.x.com/x-api/posts/create-post)
    assert data == {"id": data["id"], "text": "hello from a bot", "edit_history_tweet_ids": [data["id"]]}
    shown = world.http.get(f"/2/tweets/{data['id']}", headers=bearer)
    assert shown.status_code == 200
    assert shown.json() == {"data": data}
    deleted = world.http.delete(f"/2/tweets/{data['id']}", headers=bearer)
    assert deleted.status_code == 200 and deleted.json() == {"data": {"deleted": True}}
    again = world.http.delete(f"/2/tweets/{data['id']}", headers=bearer)
    assert again.status_code == 404 and again.json()["title"] == "Not Found Error"
    gone = world.http.get(f"/2/tweets/{data['id']}", headers=bearer)
    # Issue 23: a lookup answers X's partial error, 200 with `errors` (was a 404 problem)
    assert gone.status_code == 200 and gone.json() == {"errors": [not_found("tweet", "id", data["id"])]}


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 281}, {"text": 5}, [1], "nope"])
def test_tweet_text_rules(world: World, bearer: dict[str, str], body: object) -> None:
    response = world.http.post("/2/tweets", headers=bearer, json=body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["status"] == 400 and problem["type"] == "about:blank" and problem["detail"]


def test_errors_are_x_problems_with_bearer_challenges(world: World, bearer: dict[str, str]) -> None:
    missing = world.http.get("/2/users/me")
    assert missing.status_code == 401 and missing.json()["title"] == "Unauthorized"
    assert 'error="invalid_token"' in missing.headers["www-authenticate"]
    token = bearer["Authorization"].split()[1]
    in_query = world.http.get("/2/users/me", params={"access_token": token})
    assert in_query.status_code == 401  # never from the query string
    world.login()
    narrow = world.exchange(*world.code(scope="read:account"))
    forbidden = world.http.post(
        "/2/tweets", headers={"Authorization": f"Bearer {narrow['access_token']}"}, json={"text": "x"}
    )
    assert forbidden.status_code == 403 and forbidden.json()["title"] == "Forbidden"
    assert 'scope="tweet.write"' in forbidden.headers["www-authenticate"]
    unreadable = world.http.get("/2/tweets/x", headers={"Authorization": f"Bearer {narrow['access_token']}"})
    assert unreadable.status_code == 403 and 'scope="tweet.read"' in unreadable.headers["www-authenticate"]
    garbage = world.http.get("/2/tweets/x", headers={"Authorization": "Bearer garbage"})
    assert garbage.status_code == 401 and 'error="invalid_token"' in garbage.headers["www-authenticate"]


def test_one_notes_table_serves_both_dialects(world: World, bearer: dict[str, str]) -> None:
    tweet_id = world.http.post("/2/tweets", headers=bearer, json={"text": "seen by both"}).json()["data"]["id"]
    world.login()
    misskey = world.exchange(*world.code(scope="read:account write:notes"))
    shown = world.http.post(
        "/api/notes/show", headers={"Authorization": f"Bearer {misskey['access_token']}"}, json={"noteId": tweet_id}
    )
    assert shown.status_code == 200 and shown.json()["text"] == "seen by both"


def test_a_nul_in_an_id_or_a_text_is_refused_cleanly(world: World, bearer: dict[str, str]) -> None:
    # Found by fuzzing (tests/server/test_fuzz.py): PostgreSQL cannot hold or look up a NUL; these were 500s.
    response = world.http.delete("/2/tweets/a%00b", headers=bearer)
    assert response.status_code == 404 and response.json()["title"] == "Not Found Error"
    # Issue 23: a lookup of what cannot be an id is X's 400 naming the parameter (was a 404 problem)
    response = world.http.get("/2/tweets/a%00b", headers=bearer)
    assert response.status_code == 400 and response.json()["errors"][0]["parameters"] == {"id": ["a\x00b"]}
    response = world.http.post("/2/tweets", headers=bearer, json={"text": "a\u0000b"})
    assert response.status_code == 400 and response.json()["title"] == "Invalid Request"


def test_a_note_only_its_author_may_see_is_not_found_for_anyone_else(world: World, bearer: dict[str, str]) -> None:
    """Issue 21 finding 10: GET /2/tweets/{id} showed alice's `followers` and `specified` notes (made in Misskey's
    dialect) to any user's token; they answer bob exactly like a missing post, and alice as before."""
    world.login()
    misskey = world.exchange(*world.code(scope="read:account write:notes"))
    alices = {"Authorization": f"Bearer {misskey['access_token']}"}
    notes = {}
    for visibility in ("public", "home", "followers", "specified"):
        body = {"text": visibility, "visibility": visibility}
        notes[visibility] = world.http.post("/api/notes/create", headers=alices, json=body).json()["createdNote"]["id"]
    world.http.cookies.clear()
    world.login("bob")
    bobs = {"Authorization": f"Bearer {world.exchange(*world.code(scope=X_SCOPE))['access_token']}"}
    missing = world.http.get("/2/tweets/" + "9" * 10, headers=bobs)
    assert missing.status_code == 200 and missing.json()["errors"][0]["title"] == "Not Found Error"
    for visibility, note_id in notes.items():
        assert world.http.get(f"/2/tweets/{note_id}", headers=bearer).json()["data"]["text"] == visibility
        as_bob = world.http.get(f"/2/tweets/{note_id}", headers=bobs)
        anonymous = world.http.get(f"/2/tweets/{note_id}")
        assert anonymous.status_code == 401 and anonymous.json()["title"] == "Unauthorized"
        if visibility in ("public", "home"):
            assert as_bob.status_code == 200 and as_bob.json()["data"]["text"] == visibility
        else:  # the same partial error as for a post that does not exist, but for its id
            assert as_bob.status_code == 200 and as_bob.json() == {"errors": [not_found("tweet", "id", note_id)]}
