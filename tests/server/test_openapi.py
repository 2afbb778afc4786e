"""GET /openapi.json: a valid OpenAPI 3.1 document that names exactly the routes of app.py, served with the issuer."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from sekisho.app import create_app
from sekisho.server.settings import Settings, build_settings
from sekisho.server.web.openapi import build_document, load, served_paths
from tests.conftest import ISSUER, World, make_world

METHODS = ("get", "post", "put", "patch", "delete", "options")


def app_operations(*, demo_api: bool = True, registration: str = "open") -> set[tuple[str, str]]:
    """(method, path) of every route in the route table, with Starlette's `{name:converter}` as OpenAPI's `{name}`;
    by default with every optional route (the demo's, /oauth/register) served."""
    settings = build_settings(database="sqlite:///unused.db", demo_api=demo_api, registration=registration)
    app = create_app(settings, migrate=False)
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):  # the static files: one GET with the file's name as a parameter
            found.add(("get", route.path + "/{file}"))
            continue
        assert isinstance(route, Route) and route.methods
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        found |= {(method.lower(), path) for method in route.methods if method != "HEAD"}  # Starlette adds HEAD
    return found


def document_operations() -> set[tuple[str, str]]:
    paths = load()["paths"]
    return {(method, path) for path, item in paths.items() for method in item if method in METHODS}


def test_the_document_is_valid_openapi_3_1() -> None:
    document = build_document("https://sekisho.example")
    validate(document)  # raises on any error, $refs resolved
    assert document["openapi"].startswith("3.1.")


def test_every_route_is_documented_and_every_documented_operation_is_routed() -> None:
    routed, documented = app_operations(), document_operations()
    assert routed - documented == set(), "routes missing from openapi.json"
    assert documented - routed == set(), "operations in openapi.json that app.py does not route"


def test_every_operation_has_an_id_and_documents_its_answers() -> None:
    ids = []
    for path, item in load()["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            assert operation["responses"], f"{method} {path} documents no response"
    assert len(ids) == len(set(ids))


def test_the_document_is_served_with_the_issuer_and_cors(world: World) -> None:
    response = world.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=300"
    body = response.json()
    assert body["servers"] == [{"url": ISSUER}]
    served = served_paths(world.http.app.routes)  # type: ignore[attr-defined]
    assert body["paths"] == {path: item for path, item in load()["paths"].items() if path in served}
    assert "/api/i" in body["paths"] and "/oauth/token" in body["paths"]  # the demo is mounted in this world
    assert world.http.post("/openapi.json").status_code == 405


def test_without_the_demo_the_document_names_only_what_is_served(database: str) -> None:
    """With the demo API off, /openapi.json documented /api/notes/create and /2/tweets anyway."""
    with make_world(database, plugins=()) as world:
        body = world.http.get("/openapi.json").json()
    served = {path for _, path in app_operations(demo_api=False, registration="off")}
    assert set(body["paths"]) == served
    assert "/api/i" not in body["paths"] and "/2/tweets" not in body["paths"] and "/oauth/token" in body["paths"]


def test_the_registration_endpoint_is_documented_only_when_served(database: str) -> None:
    """/oauth/register (RFC 7591) is a route, and in the document, only with `serve --registration open|token`."""
    settings = Settings(issuer=ISSUER, database=database, registration="token")
    with make_world(database, settings) as world:
        assert "/oauth/register" in world.http.get("/openapi.json").json()["paths"]
    # off: tests/server/test_openapi.py::test_without_the_demo_the_document_names_only_what_is_served
