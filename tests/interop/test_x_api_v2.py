"""API v2 as X's SDKs read it, on the stand-in (issue 23): users by id, a user's posts page by page, posts by ids
with partial errors, replies, `fields` and `expansions`, and the `x-rate-limit-*` headers with the opt-in 429."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sekisho import demo
from sekisho.demo.x_shapes import not_found
from sekisho.server.settings import Settings
from tests.conftest import ISSUER, World, make_world

X_SCOPE = "tweet.read tweet.write users.read offline.access"


def bearer_of(world: World, username: str = "alice") -> dict[str, str]:
    world.http.cookies.clear()
    world.login(username)
    tokens = world.exchange(*world.code(scope=X_SCOPE))
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
def alice(world: World) -> dict[str, str]:
    return bearer_of(world)


def post(world: World, headers: dict[str, str], text: str, **extra: object) -> str:
    response = world.http.post("/2/tweets", headers=headers, json={"text": text, **extra})
    assert response.status_code == 201, response.text
    note_id: str = response.json()["data"]["id"]
    return note_id


def test_user_by_id_with_fields_and_a_partial_error_for_none(world: World, alice: dict[str, str]) -> None:
    me = world.http.get("/2/users/me", headers=alice, params={"user.fields": "created_at,verified"}).json()["data"]
    assert set(me) == {"id", "name", "username", "created_at"}  # verified: X's, not sekisho's: left out
    assert me["created_at"] == "2023-11-14T22:13:20.000Z"
    shown = world.http.get(f"/2/users/{me['id']}", headers=alice)
    assert shown.status_code == 200 and shown.json() == {"data": {k: me[k] for k in ("id", "name", "username")}}
    missing = world.http.get("/2/users/nobody1", headers=alice)
    assert missing.status_code == 200 and missing.json() == {"errors": [not_found("user", "id", "nobody1")]}
    assert missing.json()["errors"][0]["detail"] == "Could not find user with id: [nobody1]."


def test_a_users_posts_page_by_page(world: World, alice: dict[str, str]) -> None:
    ids = []
    for n in range(7):
        world.clock.advance(1)
        ids.append(post(world, alice, f"post {n}"))
    me = world.http.get("/2/users/me", headers=alice).json()["data"]["id"]
    first = world.http.get(f"/2/users/{me}/tweets", headers=alice, params={"max_results": "5"})
    assert first.status_code == 200
    body = first.json()
    assert [item["id"] for item in body["data"]] == ids[::-1][:5]
    assert body["meta"] == {"result_count": 5, "newest_id": ids[6], "oldest_id": ids[2], "next_token": ids[2]}
    params = {"max_results": "5", "pagination_token": body["meta"]["next_token"]}
    second = world.http.get(f"/2/users/{me}/tweets", headers=alice, params=params).json()
    assert [item["text"] for item in second["data"]] == ["post 1", "post 0"]
    assert second["meta"] == {"result_count": 2, "newest_id": ids[1], "oldest_id": ids[0]}
    for bad in ("4", "101", "ten"):
        refused = world.http.get(f"/2/users/{me}/tweets", headers=alice, params={"max_results": bad})
        assert refused.status_code == 400 and refused.json()["errors"][0]["parameters"] == {"max_results": [bad]}


def test_others_see_only_what_x_would_show(world: World, alice: dict[str, str]) -> None:
    misskey = world.exchange(*world.code(scope="read:account write:notes"))
    hidden = {"text": "followers only", "visibility": "followers"}
    world.http.post("/api/notes/create", headers={"Authorization": f"Bearer {misskey['access_token']}"}, json=hidden)
    post(world, alice, "public")
    me = world.http.get("/2/users/me", headers=alice).json()["data"]["id"]
    own = world.http.get(f"/2/users/{me}/tweets", headers=alice).json()
    assert sorted(item["text"] for item in own["data"]) == ["followers only", "public"]
    bob = bearer_of(world, "bob")
    theirs = world.http.get(f"/2/users/{me}/tweets", headers=bob).json()
    assert [item["text"] for item in theirs["data"]] == ["public"] and theirs["meta"]["result_count"] == 1


def test_posts_by_ids_with_partial_errors(world: World, alice: dict[str, str]) -> None:
    one, two = post(world, alice, "one"), post(world, alice, "two")
    response = world.http.get("/2/tweets", headers=alice, params={"ids": f"{two},gone1,{one}"})
    assert response.status_code == 200
    body = response.json()
    assert [item["text"] for item in body["data"]] == ["two", "one"]
    assert body["errors"] == [not_found("tweet", "ids", "gone1")]
    none = world.http.get("/2/tweets", headers=alice, params={"ids": "gone1"}).json()
    assert "data" not in none and none["errors"][0]["detail"] == "Could not find tweet with ids: [gone1]."
    empty = world.http.get("/2/tweets", headers=alice)
    assert (
        empty.status_code == 400
        and empty.json()["errors"][0]["message"] == "The `ids` query parameter can not be empty"
    )
    too_many = world.http.get("/2/tweets", headers=alice, params={"ids": ",".join(["a"] * 101)})
    assert too_many.status_code == 400 and too_many.json()["title"] == "Invalid Request"


def test_fields_and_the_author_expansion(world: World, alice: dict[str, str]) -> None:
    note_id = post(world, alice, "with fields")
    params = {
        "tweet.fields": "created_at,author_id,public_metrics",
        "expansions": "author_id",
        "user.fields": "created_at",
    }
    body = world.http.get(f"/2/tweets/{note_id}", headers=alice, params=params).json()
    me = world.http.get("/2/users/me", headers=alice).json()["data"]
    assert body["data"] == {
        "id": note_id,
        "text": "with fields",
        "edit_history_tweet_ids": [note_id],
        "created_at": "2027-01-15T08:00:00.000Z",
        "author_id": me["id"],
    }
    assert body["includes"] == {"users": [{**me, "created_at": "2023-11-14T22:13:20.000Z"}]}
    xdk_style = world.http.get(f"/2/tweets/{note_id}", headers=alice, params={"post.fields": "author_id"}).json()
    assert xdk_style["data"]["author_id"] == me["id"]


def test_a_reply_needs_a_post_to_reply_to(world: World, alice: dict[str, str]) -> None:
    parent = post(world, alice, "parent")
    reply = post(world, alice, "a reply", reply={"in_reply_to_tweet_id": parent})
    assert reply != parent
    # The link is kept: X's referenced_tweets, and Misskey's replyId for the same note.
    shown = world.http.get(f"/2/tweets/{reply}", headers=alice, params={"tweet.fields": "referenced_tweets"}).json()
    assert shown["data"]["referenced_tweets"] == [{"type": "replied_to", "id": parent}]
    root = world.http.get(f"/2/tweets/{parent}", headers=alice, params={"tweet.fields": "referenced_tweets"}).json()
    assert "referenced_tweets" not in root["data"]
    as_note = world.http.post("/api/notes/show", headers=alice, json={"noteId": reply}).json()
    assert as_note["replyId"] == parent
    gone = world.http.post("/2/tweets", headers=alice, json={"text": "x", "reply": {"in_reply_to_tweet_id": "gone1"}})
    assert gone.status_code == 403 and gone.json() == {
        "title": "Forbidden",
        "type": "about:blank",
        "status": 403,
        "detail": "You attempted to reply to a Tweet that is deleted or not visible to you.",
    }
    malformed = world.http.post("/2/tweets", headers=alice, json={"text": "x", "reply": {"in_reply_to_tweet_id": 5}})
    assert malformed.status_code == 400 and malformed.json()["title"] == "Invalid Request"


def test_rate_limit_headers_count_down_per_user_and_endpoint(world: World, alice: dict[str, str]) -> None:
    reset = str(int(world.clock()) + 900)
    first = world.http.get("/2/users/me", headers=alice)
    assert (first.headers["x-rate-limit-limit"], first.headers["x-rate-limit-remaining"]) == ("75", "74")
    assert first.headers["x-rate-limit-reset"] == reset
    second = world.http.get("/2/users/me", headers=alice)
    assert second.headers["x-rate-limit-remaining"] == "73"
    created = world.http.post("/2/tweets", headers=alice, json={"text": "counted apart"})
    assert (created.headers["x-rate-limit-limit"], created.headers["x-rate-limit-remaining"]) == ("200", "199")
    bob = bearer_of(world, "bob")
    assert world.http.get("/2/users/me", headers=bob).headers["x-rate-limit-remaining"] == "74"
    world.clock.advance(900)
    again = world.http.get("/2/users/me", headers=alice)
    assert again.headers["x-rate-limit-remaining"] == "74" and int(again.headers["x-rate-limit-reset"]) > int(reset)


def test_without_the_option_nothing_is_refused(world: World, alice: dict[str, str]) -> None:
    for _ in range(80):
        last = world.http.get("/2/users/me", headers=alice)
    assert last.status_code == 200 and last.headers["x-rate-limit-remaining"] == "0"


@pytest.fixture
def limited(database: str) -> Iterator[World]:
    """`serve --x-rate-limits`: X's 429 once a user's window is spent."""
    settings = Settings(issuer=ISSUER, database=database, x_rate_limits=True, demo_api=True)
    plugins = (lambda host: demo.mount(host, x_rate_limits=settings.x_rate_limits),)
    with make_world(database, settings, plugins=plugins) as running:
        yield running


def test_with_the_option_x_answers_429_until_the_reset(limited: World) -> None:
    alice = bearer_of(limited)
    for n in range(50):
        note_id = post(limited, alice, f"to delete {n}")
        assert limited.http.delete(f"/2/tweets/{note_id}", headers=alice).status_code == 200
    spare = post(limited, alice, "one too many")
    refused = limited.http.delete(f"/2/tweets/{spare}", headers=alice)
    assert refused.status_code == 429
    assert refused.json() == {
        "title": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
        "detail": "Too Many Requests",
    }
    assert refused.headers["x-rate-limit-remaining"] == "0" and refused.headers["x-rate-limit-limit"] == "50"
    assert limited.http.get(f"/2/tweets/{spare}", headers=alice).status_code == 200  # another endpoint's window
    limited.clock.advance(int(refused.headers["x-rate-limit-reset"]) - limited.clock())
    assert limited.http.delete(f"/2/tweets/{spare}", headers=alice).status_code == 200
