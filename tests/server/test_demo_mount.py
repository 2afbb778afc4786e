"""The demo mounts itself into the server's app (sekisho.app), only when --demo-api (or --demo) is on."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from sekisho.app import create_app
from sekisho.server.settings import build_settings
from tests.conftest import make_world
from tests.server.test_miauth import check, decide, params

DEMO_PATHS = {"/api/i", "/api/notes/create", "/api/notes/show", "/api/notes/delete", "/2/users/me", "/2/tweets"}


def paths(**settings: object) -> set[str]:
    app = create_app(build_settings(database="sqlite:///unused.db", **settings), migrate=False)
    return {route.path for route in app.routes if isinstance(route, Route)}


def test_the_demo_apis_and_user_pages_are_off_by_default() -> None:
    """Issue 22 item 2: the demo API was always mounted; a product server now serves none of it unless asked."""
    found = paths()
    assert not found & DEMO_PATHS and "/@{username}" not in found
    assert {"/oauth/token", "/oauth/authorize", "/api/miauth/{session:anytext}/check"} <= found  # MiAuth stays


@pytest.mark.parametrize("flag", ["demo_api", "demo"])
def test_demo_api_or_demo_mounts_them(flag: str) -> None:
    assert DEMO_PATHS | {"/@{username}", "/oauth/token"} <= paths(**{flag: True})


def test_without_the_demo_its_paths_are_404s(tmp_path: Path) -> None:
    """What a client gets from a server without the demo: the server's JSON 404, for the API and the page alike."""
    settings = build_settings(database=f"sqlite:///{tmp_path / 'x.db'}")
    with TestClient(create_app(settings)) as http:
        for method, path in (("POST", "/api/i"), ("POST", "/api/notes/create"), ("GET", "/2/users/me")):
            missing = http.request(method, path, headers={"Authorization": "Bearer sek_at_x"})
            assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert http.get("/@alice").status_code == 404


def test_miauth_works_without_the_demo(database: str) -> None:
    """MiAuth belongs to the authorization server: a decided session is redeemed, user included, with no demo."""
    session = "0123456789abcdef0123"
    with make_world(database, plugins=()) as world:
        world.login()
        assert decide(world, session, params(callback=None), "allow").status_code == 200
        answer = check(world, session)
        assert answer["ok"] is True and answer["user"] == {
            "id": answer["user"]["id"],  # type: ignore[index]
            "username": "alice",
            "name": "alice",
            "host": None,
            "createdAt": "2023-11-14T22:13:20.000Z",  # the seeded user's creation, as Misskey writes times
        }
        assert world.http.post("/api/i", json={"i": answer["token"]}).status_code == 404
