"""RFC 8707 sans-I/O: the `resource` parameter's values, narrowing, the audience; `resource` may repeat."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from sekisho.errors import InvalidRequest, InvalidTarget
from sekisho.protocol import resources
from sekisho.protocol.params import AuthorizationRequest, TokenRequest, parse_body, parse_form, parse_json

MCP = "https://mcp.example/mcp"
FILES = "https://files.example/"


@pytest.mark.parametrize("value", [MCP, FILES, "urn:example:notes", "http://127.0.0.1:8000", "https://a.example/?q=1"])
def test_absolute_uris_without_fragment_are_resources(value: str) -> None:
    assert resources.check_uri(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "/mcp",
        "mcp",
        "//mcp.example/x",
        "https://mcp.example/#",
        "https://mcp.example/x#y",
        "https://a b",
        "https:",
        "1a:b",
        "https://é.example",
    ],
)
def test_anything_else_is_invalid_target(value: str) -> None:
    with pytest.raises(InvalidTarget):
        resources.check_uri(value)


def test_check_resources_keeps_order_drops_duplicates_and_refuses_what_is_not_allowed() -> None:
    assert resources.check_resources([FILES, MCP, FILES], {MCP, FILES}) == (FILES, MCP)
    with pytest.raises(InvalidTarget, match="not served"):
        resources.check_resources([MCP], {FILES})
    with pytest.raises(InvalidTarget, match="at most"):
        resources.check_resources([f"https://a.example/{n}" for n in range(17)], {"x"})


def test_narrow_never_widens() -> None:
    granted = f"{MCP} {FILES}"
    issuer = "https://issuer.example"
    assert resources.narrow((), granted, issuer) == granted
    assert resources.narrow((FILES,), granted, issuer) == FILES
    assert resources.narrow((), None, issuer) is None
    assert resources.narrow((issuer + "/",), None, issuer) == issuer  # a grant without resources: the issuer's
    for asked, grant in (((MCP, "https://other.example"), granted), ((issuer,), granted), ((MCP,), None)):
        with pytest.raises(InvalidTarget):
            resources.narrow(asked, grant, issuer)


def test_audience() -> None:
    assert resources.audience(None, "https://issuer") == "https://issuer"
    assert resources.audience(MCP, "https://issuer") == MCP
    assert resources.audience(f"{MCP} {FILES}", "https://issuer") == (MCP, FILES)


def test_resource_may_repeat_other_parameters_may_not() -> None:
    form = urlencode([("grant_type", "refresh_token"), ("resource", MCP), ("resource", ""), ("resource", FILES)])
    assert TokenRequest.from_params(parse_form(form.encode())).resource == (MCP, FILES)
    assert TokenRequest.from_params(parse_form(b"grant_type=x&resource=")).resource == ()
    with pytest.raises(InvalidRequest, match="more than once"):
        parse_form(b"scope=a&scope=b&resource=x")
    body = json.dumps({"grant_type": "refresh_token", "resource": [MCP, FILES]}).encode()
    assert TokenRequest.from_params(parse_json(body)).resource == (MCP, FILES)
    assert TokenRequest.from_params(parse_body(body, "application/json")).resource == (MCP, FILES)
    with pytest.raises(InvalidRequest, match="string"):
        parse_json(json.dumps({"resource": [MCP, 3]}).encode())
    with pytest.raises(InvalidRequest, match="control"):
        parse_form(urlencode([("resource", MCP + "\n" + FILES)]).encode())  # no value can smuggle a second one


def test_an_authorization_request_carries_its_resources_through_the_consent_form() -> None:
    query = urlencode([("client_id", "c"), ("resource", MCP), ("state", "s"), ("resource", FILES)])
    request = AuthorizationRequest.from_params(parse_form(query.encode()))
    assert request.resource == (MCP, FILES)
    fields = request.form_fields()
    assert [value for name, value in fields if name == "resource"] == [MCP, FILES]
    assert AuthorizationRequest.from_params(parse_form(urlencode(fields).encode())) == request
    assert AuthorizationRequest.from_params(request.as_params()) == request


@pytest.mark.parametrize(
    ("spelled", "same"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/"),
        ("https://MCP.example:443/mcp", "https://mcp.example/mcp"),
        ("HTTP://a.example:80", "http://a.example/"),
        ("urn:example:notes", "urn:example:notes"),
    ],
)
def test_canonical_resources_are_one(spelled: str, same: str) -> None:
    assert resources.canonical(spelled) == resources.canonical(same)
    assert resources.names((spelled,), same) and resources.names((same,), spelled)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://mcp.example/mcp", "https://mcp.example/mcp/"),  # paths compare exactly
        ("https://mcp.example/mcp", "https://mcp.example/MCP"),
        ("https://mcp.example", "http://mcp.example"),
        ("https://mcp.example:8443", "https://mcp.example"),
        ("https://u@mcp.example", "https://mcp.example"),
    ],
)
def test_other_resources_stay_apart(one: str, other: str) -> None:
    assert not resources.names((one,), other)


def test_a_resource_is_stored_as_the_server_spells_it() -> None:
    assert resources.check_resources(
        ["http://127.0.0.1:8000/", "HTTPS://MCP.example/mcp"], {"http://127.0.0.1:8000", MCP}
    ) == (
        "http://127.0.0.1:8000",
        MCP,
    )
