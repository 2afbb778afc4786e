"""IndexedRouter answers every request exactly as Starlette's Router, scanning the same table, would."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from sekisho.app import create_app
from sekisho.resource.asgi import Handler
from sekisho.server.settings import build_settings
from sekisho.server.web.routing import IndexedRouter, index_fixed_paths
from tests.asgi import call

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")


def answering(number: int) -> Any:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"route {number} {sorted(request.path_params.items())}")

    return endpoint


def stand_ins(routes: list[BaseRoute]) -> list[BaseRoute]:
    """The same paths and methods, each route answering with its position and the path parameters it parsed."""
    copied: list[BaseRoute] = []
    for number, route in enumerate(routes):
        if isinstance(route, Mount):
            copied.append(Mount(route.path, app=PlainTextResponse(f"mount {number}")))
        else:
            assert isinstance(route, Route)
            copied.append(Route(route.path, answering(number), methods=route.methods))
    return copied


def answer(router: Router, method: str, path: str) -> tuple[int, str, str]:
    """(status, location, body) of one request through `router`."""
    status, headers, body = asyncio.run(call(router, method, path))
    return status, headers.get(b"location", b"").decode(), body.decode()


def app_routes() -> list[BaseRoute]:
    return list(create_app(build_settings(database="sqlite:///unused.db", demo=True), migrate=False).routes)


def test_the_app_routes_through_the_index() -> None:
    app = create_app(build_settings(database="sqlite:///unused.db", demo=True), migrate=False)
    assert isinstance(app.router, IndexedRouter)
    assert {"/oauth/token", "/oauth/introspect", "/api/i", "/2/users/me"} <= set(app.router.fixed)


def test_the_apps_endpoints_are_called_without_a_second_exception_wrapper() -> None:
    routes = [route for route in app_routes() if isinstance(route, Route)]
    assert routes and all(isinstance(route.endpoint, Handler) for route in routes)


def test_every_request_gets_the_route_the_scan_would_give() -> None:
    routes = stand_ins(app_routes())
    scanning, indexed = Router(routes), IndexedRouter(routes)
    paths = {route.path for route in routes if isinstance(route, Route)}
    tried = set(paths)
    tried |= {path + "/" for path in paths} | {path.rstrip("/") for path in paths}
    tried |= {"/@alice", "/miauth/abc", "/miauth/a/b", "/api/miauth/x/check", "/2/tweets/123", "/static/app.css"}
    tried |= {"/nowhere", "/oauth", "/oauth/token/extra", "/OAUTH/TOKEN", "//oauth/token", "/api/i/"}
    for path in sorted(tried):
        for method in METHODS:
            assert answer(indexed, method, path) == answer(scanning, method, path), (method, path)


def test_a_fixed_path_an_earlier_route_also_matches_is_left_to_the_scan() -> None:
    routes: list[BaseRoute] = [
        Route("/items/{name}", answering(0), methods=["GET"]),
        Route("/items/new", answering(1), methods=["GET", "POST"]),
        Route("/other", answering(2), methods=["GET"]),
        Mount("/files", app=PlainTextResponse("mount")),
        Route("/files/list", answering(4), methods=["GET"]),
    ]
    assert set(index_fixed_paths(routes)) == {"/other"}
    scanning, indexed = Router(routes), IndexedRouter(routes)
    for method in ("GET", "POST"):
        for path in ("/items/new", "/other", "/files/list"):
            assert answer(indexed, method, path) == answer(scanning, method, path)
    assert answer(indexed, "GET", "/items/new")[2] == "route 0 [('name', 'new')]"
    assert answer(indexed, "POST", "/items/new")[2] == "route 1 []"


def test_routes_of_one_path_keep_their_order() -> None:
    routes: list[BaseRoute] = [
        Route("/token", answering(0), methods=["POST"]),
        Route("/token", answering(1), methods=["OPTIONS"]),
        Route("/token", answering(2), methods=["POST", "GET"]),
    ]
    indexed = IndexedRouter(routes)
    assert [route.endpoint for route in indexed.fixed["/token"]] == [route.endpoint for route in routes]  # type: ignore[attr-defined]
    assert answer(indexed, "POST", "/token")[2] == "route 0 []"
    assert answer(indexed, "OPTIONS", "/token")[2] == "route 1 []"
    assert answer(indexed, "GET", "/token")[2] == "route 2 []"
    assert answer(indexed, "PUT", "/token")[0] == 405
