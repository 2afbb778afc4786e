"""Resource indicators (RFC 8707): `resource` at the authorization and token endpoints, the audience of the tokens
(JWT `aud`, introspection `aud`), narrowing at refresh, `invalid_target`; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from httpx2 import Response
from joserfc import jwt

from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.registry import register_client
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from tests.conftest import ISSUER, REDIRECT_URI, Registered, World, make_world
from tests.server.test_jwt_access_tokens import jwks
from tests.server.test_refresh import refresh

MCP = "https://mcp.example/mcp"
FILES = "https://files.example/"
OTHER = "https://other.example/api"
OWN = "https://own.example/"  # allowed for one client only (client add --resource)


@pytest.fixture
def world(database: str) -> Iterator[World]:
    with make_world(database, Settings(issuer=ISSUER, database=database, resources=(MCP, FILES))) as running:
        running.login()
        yield running


@pytest.fixture
def jwt_world(tmp_path: Path) -> Iterator[World]:
    database = f"sqlite:///{tmp_path / 'jwt.db'}"
    settings = Settings(issuer=ISSUER, database=database, resources=(MCP, FILES), access_token_format="jwt")
    with make_world(database, settings) as running:
        running.login()
        yield running


def consent_form(page: str) -> str:
    """The consent page's decision form (the page has others: signing out)."""
    return page.split('action="/oauth/authorize"', 1)[1].split("</form>", 1)[0]


def authorize(world: World, resources: Sequence[str], client_id: str | None = None) -> dict[str, list[str]]:
    """Consent to a request naming `resources` (each a `resource` parameter); the redirect's query."""
    params = world.authorize_params(client_id or world.public.client_id)
    pairs = [*params.items(), *(("resource", resource) for resource in resources)]
    page = world.http.get("/oauth/authorize", params=pairs, follow_redirects=False)
    if page.status_code == 303:  # an error, redirected
        return parse_qs(urlsplit(page.headers["location"]).query)
    assert page.status_code == 200, page.text
    fields = [
        (name, html.unescape(value))
        for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', consent_form(page.text))
    ]
    assert [value for name, value in fields if name == "resource"] == list(resources)  # carried through the form
    if resources:  # the person sees where the token will be usable
        shown = re.search(r'<p class="muted" id="resources">(.*?)</p>', page.text)
        hosts = [str(urlsplit(resource).hostname) for resource in resources]
        assert shown is not None and all(host in shown.group(1) for host in hosts)
    decided = post_form(world, "/oauth/authorize", [*fields, ("decision", "allow")])
    assert decided.status_code == 303, decided.text
    query = parse_qs(urlsplit(decided.headers["location"]).query)
    query["verifier"] = [world.verifiers[params["code_challenge"]]]
    return query


def post_form(
    world: World, path: str, pairs: Sequence[tuple[str, str]], auth: tuple[str, str] | None = None
) -> Response:
    """A form with repeated parameters, as RFC 8707 sends `resource`."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return world.http.post(path, content=urlencode(pairs), headers=headers, auth=auth, follow_redirects=False)


def token(
    world: World, form: Sequence[tuple[str, str]], client: Registered | None = None
) -> tuple[int, dict[str, object]]:
    client = client or world.public
    data = [*form, ("client_id", client.client_id)]
    auth = (client.client_id, client.client_secret) if client.client_secret else None
    response = post_form(world, "/oauth/token", data, auth)
    body: dict[str, object] = response.json()
    return response.status_code, body


def exchange(world: World, query: dict[str, list[str]], *resources: str) -> tuple[int, dict[str, object]]:
    form = [
        ("grant_type", "authorization_code"),
        ("code", query["code"][0]),
        ("code_verifier", query["verifier"][0]),
        ("redirect_uri", REDIRECT_URI),
        *(("resource", resource) for resource in resources),
    ]
    return token(world, form)


def introspect(world: World, access_token: object) -> dict[str, object]:
    api = world.resource_server
    assert api.client_secret
    answer: dict[str, object] = world.http.post(
        "/oauth/introspect", data={"token": str(access_token)}, auth=(api.client_id, api.client_secret)
    ).json()
    return answer


def audience(world: World, access_token: object) -> object:
    return jwt.decode(str(access_token), jwks(world), algorithms=["ES256"]).claims["aud"]


def api_me(world: World, access_token: object) -> int:
    return world.http.post("/api/i", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_the_token_is_for_the_resource_authorized(world: World) -> None:
    status, tokens = exchange(world, authorize(world, [MCP]))
    assert status == 200, tokens
    assert introspect(world, tokens["access_token"])["aud"] == MCP
    assert introspect(world, tokens["refresh_token"])["aud"] == MCP
    # the demo API (whose resource is the issuer) refuses a token meant for another resource
    assert api_me(world, tokens["access_token"]) == 401
    renewed = refresh(world, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert introspect(world, renewed.json()["access_token"])["aud"] == MCP  # a refresh keeps the audience


def test_without_resource_nothing_changes(world: World) -> None:
    tokens = world.tokens()
    info = introspect(world, tokens["access_token"])
    assert info["active"] is True and "aud" not in info
    assert api_me(world, tokens["access_token"]) == 200


def test_a_resource_spelled_another_way_gets_the_servers_spelling(world: World) -> None:
    """RFC 3986 §6.2.3: `http://testserver/` is the issuer (pydantic, which the MCP SDK reads metadata with, adds the
    slash); the token's audience is spelled as the server has it."""
    status, tokens = exchange(world, authorize(world, [ISSUER + "/", "HTTPS://MCP.EXAMPLE:443/mcp"]))
    assert status == 200, tokens
    assert introspect(world, tokens["access_token"])["aud"] == [ISSUER, MCP]
    assert api_me(world, tokens["access_token"]) == 200


def test_the_issuer_is_a_resource_by_default(world: World) -> None:
    status, tokens = exchange(world, authorize(world, [ISSUER]))
    assert status == 200, tokens
    assert introspect(world, tokens["access_token"])["aud"] == ISSUER
    assert api_me(world, tokens["access_token"]) == 200


@pytest.mark.parametrize(
    ("resource", "why"),
    [
        ("/mcp", "absolute URI"),
        ("mcp.example/mcp", "absolute URI"),
        ("https://mcp.example/mcp#frag", "fragment"),
        ("https://mcp.example/a b", "absolute URI"),
        (OTHER, "not served"),
        (OWN, "not served"),  # another client's
    ],
)
def test_a_bad_resource_at_authorize_is_redirected_as_invalid_target(world: World, resource: str, why: str) -> None:
    query = authorize(world, [MCP, resource])
    assert query["error"] == ["invalid_target"] and why in query["error_description"][0]
    assert query["iss"] == [ISSUER] and query["state"][0].startswith("xyz-") and "code" not in query


def test_a_code_yields_only_what_was_authorized(world: World) -> None:
    query = authorize(world, [MCP, FILES])
    status, refused = exchange(world, query, OTHER)
    assert status == 400 and refused["error"] == "invalid_target"
    status, refused = exchange(world, query, ISSUER)  # allowed, but not authorized
    assert status == 400 and refused["error"] == "invalid_target"
    # nothing was consumed: the same code with a resource it was authorized for works
    status, tokens = exchange(world, query, FILES)
    assert status == 200, tokens
    assert introspect(world, tokens["access_token"])["aud"] == FILES
    assert introspect(world, tokens["refresh_token"])["aud"] == [MCP, FILES]  # the grant's, to narrow later


def test_both_resources_when_none_is_named_at_the_token_endpoint(world: World) -> None:
    status, tokens = exchange(world, authorize(world, [MCP, FILES, MCP]))
    assert status == 200
    assert introspect(world, tokens["access_token"])["aud"] == [MCP, FILES]


def test_a_refresh_narrows_and_never_widens(world: World) -> None:
    status, tokens = exchange(world, authorize(world, [MCP, FILES]))
    assert status == 200
    form = [("grant_type", "refresh_token"), ("refresh_token", str(tokens["refresh_token"]))]
    status, refused = token(world, [*form, ("resource", OTHER)])
    assert status == 400 and refused["error"] == "invalid_target"
    status, refused = token(world, [*form, ("resource", MCP), ("resource", ISSUER)])  # allowed, not granted
    assert status == 400 and refused["error"] == "invalid_target"
    status, narrowed = token(world, [*form, ("resource", MCP)])  # the refused ones consumed nothing
    assert status == 200, narrowed
    assert introspect(world, narrowed["access_token"])["aud"] == MCP
    # the rotated refresh token keeps the grant's resources: the next refresh may name the other one
    form = [("grant_type", "refresh_token"), ("refresh_token", str(narrowed["refresh_token"]))]
    status, other = token(world, [*form, ("resource", FILES)])
    assert status == 200, other
    assert introspect(world, other["access_token"])["aud"] == FILES
    status, whole = token(world, [("grant_type", "refresh_token"), ("refresh_token", str(other["refresh_token"]))])
    assert status == 200 and introspect(world, whole["access_token"])["aud"] == [MCP, FILES]


def test_a_grant_made_without_resource_is_for_the_issuer_alone(world: World) -> None:
    """The person consented to no resource server: its tokens cannot be bound to one later, though MCP is allowed
    for every client; naming the issuer (the default audience) is no widening."""
    query = authorize(world, [])
    for other in (MCP, OTHER):
        status, refused = exchange(world, query, other)
        assert status == 400 and refused["error"] == "invalid_target"
    status, tokens = exchange(world, query, ISSUER + "/")
    assert status == 200 and introspect(world, tokens["access_token"])["aud"] == ISSUER
    assert "aud" not in introspect(world, tokens["refresh_token"])
    form = [("grant_type", "refresh_token"), ("refresh_token", str(tokens["refresh_token"]))]
    status, refused = token(world, [*form, ("resource", FILES)])
    assert status == 400 and refused["error"] == "invalid_target"
    status, renewed = token(world, form)
    assert status == 200 and "aud" not in introspect(world, renewed["access_token"])


def test_a_relative_resource_at_the_token_endpoint_is_invalid_target(world: World) -> None:
    query = authorize(world, [MCP])
    for bad in ("/mcp", "https://mcp.example/mcp#x", ""):
        status, refused = exchange(world, query, bad)
        if bad == "":  # sent without a value: as if omitted (RFC 6749 §3.1)
            assert status == 200, refused
            continue
        assert status == 400 and refused["error"] == "invalid_target", refused


def test_a_json_token_request_names_resources_as_an_array(world: World) -> None:
    query = authorize(world, [MCP, FILES])
    body = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "code_verifier": query["verifier"][0],
        "redirect_uri": REDIRECT_URI,
        "client_id": world.public.client_id,
        "resource": [FILES],
    }
    response = world.http.post("/oauth/token", json=body)
    assert response.status_code == 200, response.text
    assert introspect(world, response.json()["access_token"])["aud"] == FILES


def add_client(world: World, resources: Sequence[str], grant_types: Sequence[str] = ()) -> Registered:
    async def add() -> Registered:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            client, secret = await register_client(
                store,
                name="Own resource app",
                redirect_uris=[REDIRECT_URI],
                public=False,
                scope=None,
                grant_types=grant_types,
                known_scopes=DEFAULT_SCOPES,
                now=1_700_000_000,
                resources=resources,
            )
            return Registered(client.client_id, secret)
        finally:
            await store.close()

    return asyncio.run(add())


def test_a_client_may_name_its_own_resources(world: World) -> None:
    own = add_client(world, [OWN], ["authorization_code", "refresh_token", "client_credentials"])
    query = authorize(world, [OWN, MCP], own.client_id)
    status, tokens = token(
        world,
        [
            ("grant_type", "authorization_code"),
            ("code", query["code"][0]),
            ("code_verifier", query["verifier"][0]),
            ("redirect_uri", REDIRECT_URI),
        ],
        own,
    )
    assert status == 200 and introspect(world, tokens["access_token"])["aud"] == [OWN, MCP]
    status, machine = token(
        world, [("grant_type", "client_credentials"), ("scope", "read:account"), ("resource", OWN)], own
    )
    assert status == 200, machine
    assert introspect(world, machine["access_token"])["aud"] == OWN
    status, refused = token(
        world, [("grant_type", "client_credentials"), ("scope", "read:account"), ("resource", OTHER)], own
    )
    assert status == 400 and refused["error"] == "invalid_target"
    status, machine = token(world, [("grant_type", "client_credentials"), ("scope", "read:account")], own)
    assert status == 200 and "aud" not in introspect(world, machine["access_token"])


def test_jwt_aud_is_the_resource(jwt_world: World) -> None:
    status, one = exchange(jwt_world, authorize(jwt_world, [MCP]))
    assert status == 200 and audience(jwt_world, one["access_token"]) == MCP
    status, both = exchange(jwt_world, authorize(jwt_world, [MCP, FILES]))
    assert status == 200 and audience(jwt_world, both["access_token"]) == [MCP, FILES]
    form = [("grant_type", "refresh_token"), ("refresh_token", str(both["refresh_token"])), ("resource", FILES)]
    status, narrowed = token(jwt_world, form)
    assert status == 200 and audience(jwt_world, narrowed["access_token"]) == FILES
    assert introspect(jwt_world, narrowed["access_token"])["aud"] == FILES
    assert audience(jwt_world, jwt_world.tokens()["access_token"]) == ISSUER  # without resource: as before
    assert api_me(jwt_world, one["access_token"]) == 401  # the demo API is not MCP
