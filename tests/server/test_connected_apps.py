"""GET /settings/apps and POST /settings/apps/revoke."""

from __future__ import annotations

from tests.conftest import World, csrf_of


def test_signed_out_goes_to_login(world: World) -> None:
    response = world.http.get("/settings/apps", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fsettings%2Fapps"


def test_apps_are_listed_once_each_with_their_scopes(world: World) -> None:
    world.login()
    assert "No app is connected" in world.http.get("/settings/apps").text
    world.tokens()
    world.tokens()  # a second authorization of the same app: still one entry
    page = world.http.get("/settings/apps")
    assert page.text.count('class="card app"') == 1
    assert "Public App" in page.text and "Post and delete notes as you" in page.text
    assert page.headers["x-frame-options"] == "DENY"


def test_revoke_ends_every_grant_of_that_app_only(world: World) -> None:
    world.login()
    first, second = world.tokens(), world.tokens()
    other = world.exchange(*world.code(world.confidential.client_id), client=world.confidential)
    page = world.http.get("/settings/apps")
    response = world.http.post(
        "/settings/apps/revoke",
        data={"client_id": world.public.client_id, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/settings/apps"
    for tokens, status in ((first, 401), (second, 401), (other, 200)):
        me = world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == status
    assert "Public App" not in world.http.get("/settings/apps").text


def test_revoke_needs_the_csrf_token_and_touches_only_the_users_own_grants(world: World) -> None:
    world.login()
    tokens = world.tokens()
    refused = world.http.post("/settings/apps/revoke", data={"client_id": world.public.client_id})
    assert refused.status_code == 400
    world.http.cookies.clear()
    world.login("bob")
    page = world.http.get("/login")  # bob has no app card: any form of this browser carries the token
    world.http.post(
        "/settings/apps/revoke", data={"client_id": world.public.client_id, "csrf_token": csrf_of(page.text)}
    )
    me = world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
