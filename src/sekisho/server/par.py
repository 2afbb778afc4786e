"""Pushed authorization requests (RFC 9126): a request pushed to /oauth/par is checked as /oauth/authorize would
check it, kept for EXPIRES_IN seconds under a one-time `request_uri` bound to the client that pushed it, and given
back once to /oauth/authorize."""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from sekisho.errors import InvalidDPoPProof, InvalidRequest, InvalidRequestUri
from sekisho.protocol import tokens
from sekisho.protocol.params import AuthorizationRequest, parse_items
from sekisho.server import authorize as authz
from sekisho.server.entities import Client, PushedRequest
from sekisho.server.store import Store
from sekisho.server.url_clients import UrlClients

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"  # RFC 9126 §2.2
EXPIRES_IN = 60  # seconds a request_uri lives (RFC 9126 §2.2: "a short duration")


@dataclass(frozen=True, slots=True)
class Pushed:
    """The answer to a push (RFC 9126 §2.2)."""

    request_uri: str = field(repr=False)
    expires_in: int


async def push(
    params: Mapping[str, str],
    client: Client,
    store: Store,
    url_clients: UrlClients,
    known_scopes: Mapping[str, str],
    allowed_resources: Collection[str],
    now: int,
) -> Pushed:
    """Check the request `client` (authenticated) pushed, every check /oauth/authorize makes, then keep it; errors
    are raised (`invalid_request` and the others of RFC 6749 §4.1.2.1, answered as JSON: RFC 9126 §2.3)."""
    if "request_uri" in params:
        raise InvalidRequest("request_uri must not be pushed (RFC 9126 §2.1)")
    if "request" in params:
        raise InvalidRequest("request objects are not supported: push the parameters themselves")
    request_params = {name: value for name, value in params.items() if name != "client_secret"}
    request_params["client_id"] = client.client_id  # the same as any sent (client_auth checked it)
    req = AuthorizationRequest.from_params(request_params)
    target = await authz.check_client_and_redirect(req, store, url_clients)
    authz.check_request(req, target, known_scopes, allowed_resources=allowed_resources)
    secret = secrets.token_urlsafe(32)
    pushed = PushedRequest(
        digest=tokens.digest(secret),
        client_id=client.client_id,
        params=json.dumps(req.form_fields()),
        expires_at=now + EXPIRES_IN,
    )
    await store.pushed_requests.add(pushed)
    return Pushed(REQUEST_URI_PREFIX + secret, EXPIRES_IN)


def bind_to_proof(params: Mapping[str, str], jkt: str | None) -> Mapping[str, str]:
    """RFC 9449 §10.1: a push with a DPoP proof binds the code to the proof's key, as `dpop_jkt` does; both given,
    they must name the same key."""
    if jkt is None:
        return params
    if params.get("dpop_jkt", jkt) != jkt:
        raise InvalidDPoPProof("dpop_jkt is not the thumbprint of the DPoP proof's key")
    return {**params, "dpop_jkt": jkt}


async def pushed_request(
    store: Store, client_id: str | None, request_uri: str, now: int, *, take: bool
) -> AuthorizationRequest:
    """The request pushed under `request_uri` by `client_id`, taken (never to be given again) or only looked at;
    `invalid_request_uri` when it is unknown, expired, taken already or another client's."""
    if client_id is None:
        raise InvalidRequest("client_id is required with request_uri (RFC 9126 §4)")
    if not request_uri.startswith(REQUEST_URI_PREFIX):
        raise InvalidRequestUri("request_uri is not one this server issued")
    digest = tokens.digest(request_uri.removeprefix(REQUEST_URI_PREFIX))
    parts = store.pushed_requests
    found = await (parts.take if take else parts.find)(digest, client_id, now)
    if found is None:
        raise InvalidRequestUri("request_uri is unknown, expired, used already, or not this client's")
    return AuthorizationRequest.from_params(parse_items((name, value) for name, value in json.loads(found)))
