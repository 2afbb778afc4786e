"""GET /@{username}: a person sees in a browser what a bot posted."""

from __future__ import annotations

from tests.conftest import World


def test_notes_newest_first_escaped_and_only_public_ones(world: World) -> None:
    world.login()
    tokens = world.tokens()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    for text, visibility in (("first", "public"), ("<script>alert(1)</script>", "home"), ("secret", "followers")):
        created = world.http.post("/api/notes/create", headers=bearer, json={"text": text, "visibility": visibility})
        assert created.status_code == 200
        world.clock.advance(1)  # ids sort by time; within one millisecond the order is arbitrary
    page = world.http.get("/@alice")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert page.text.index("&lt;script&gt;") < page.text.index("first")  # newest first
    assert "secret" not in page.text


def test_no_notes_and_unknown_users(world: World) -> None:
    assert "No notes yet" in world.http.get("/@bob").text
    missing = world.http.get("/@nobody")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_a_name_no_user_can_have_is_a_404_page(world: World) -> None:
    # Found by fuzzing (tests/server/test_fuzz.py): a NUL in the path failed PostgreSQL's look-up (a 500).
    for path in ("/@a%00b", "/@" + "a" * 65, "/@a%20b"):
        missing = world.http.get(path)
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
