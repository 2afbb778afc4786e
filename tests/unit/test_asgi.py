"""`sekisho.asgi.route` answers every request as Starlette's Route with the same endpoint would: exceptions an
endpoint raises reach the app's handlers without the per-route wrapper."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.testclient import TestClient

from sekisho.resource.asgi import Handler, route
from sekisho.server.web.responses import Json, raw_headers


class Refused(Exception):
    pass


async def fine(request: Request) -> Response:
    return JSONResponse({"path": request.url.path, "name": request.path_params.get("name")})


async def http_error(request: Request) -> Response:
    raise HTTPException(418, "teapot", headers={"X-Why": "tea"})


async def refused(request: Request) -> Response:
    raise Refused("no")


async def broken(request: Request) -> Response:
    raise RuntimeError("bug")


async def after_start(request: Request) -> Response:
    class Late(Response):
        async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise Refused("too late")

    return Late()


ENDPOINTS = {"/fine/{name}": fine, "/http": http_error, "/refused": refused, "/broken": broken, "/late": after_start}


async def on_refused(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(f"refused at {request.url.path}: {exc}", status_code=403)


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return PlainTextResponse(f"http {exc.detail}", status_code=exc.status_code, headers=exc.headers)


def app_of(make: Callable[[str, object], BaseRoute]) -> Starlette:
    return Starlette(
        routes=[make(path, endpoint) for path, endpoint in ENDPOINTS.items()],
        exception_handlers={Refused: on_refused, HTTPException: on_http},
    )


def answers(app: Starlette, method: str, path: str) -> tuple[int, str, str | None]:
    with TestClient(app, raise_server_exceptions=False) as client:
        try:
            reply = client.request(method, path)
        except Refused:  # raised after the response started: the server cannot answer it
            return (0, "raised after start", None)
        return reply.status_code, reply.text, reply.headers.get("x-why")


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", ["/fine/alice", "/http", "/refused", "/broken", "/late", "/nowhere"])
def test_route_answers_as_starlettes_route_does(method: str, path: str) -> None:
    ours = app_of(lambda path, endpoint: route(path, endpoint, ["GET"]))  # type: ignore[arg-type]
    theirs = app_of(lambda path, endpoint: Route(path, endpoint, methods=["GET"]))  # type: ignore[arg-type]
    assert answers(ours, method, path) == answers(theirs, method, path)


def test_route_keeps_starlettes_name_and_calls_through_handler() -> None:
    made = route("/fine/{name}", fine, ["GET"])
    assert isinstance(made.endpoint, Handler)
    assert made.name == Route("/fine/{name}", fine).name == "fine"
    assert made.methods == {"GET", "HEAD"}


@pytest.mark.parametrize(
    "content",
    [{"access_token": "sat_x", "expires_in": 3600, "scope": "a b"}, {"name": "名前 ☃", "none": None}, [1, 2.5, True]],
)
@pytest.mark.parametrize("status", [200, 400, 503])
def test_json_sends_what_jsonresponse_sends(content: object, status: int) -> None:
    headers = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}
    ours, theirs = Json(content, status, raw_headers(headers)), JSONResponse(content, status, headers)
    assert ours.status_code == theirs.status_code and ours.body == theirs.body
    assert sorted(ours.raw_headers) == sorted(theirs.raw_headers)


def test_json_refuses_what_jsonresponse_refuses() -> None:
    with pytest.raises(ValueError):
        Json({"x": float("nan")})
