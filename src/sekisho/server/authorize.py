"""The authorization endpoint's checks and the code it issues (RFC 6749 §4.1, RFC 7636, RFC 9207)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sekisho.errors import InvalidRequest, UnsupportedResponseType
from sekisho.protocol import client_ids, dpop, pkce, redirects, resources, tokens
from sekisho.protocol.params import AuthorizationRequest
from sekisho.protocol.scopes import check_scope, join_scope
from sekisho.server import clients
from sekisho.server.entities import AuthorizationCode, Client, Grant, User
from sekisho.server.ids import new_id
from sekisho.server.store import Store
from sekisho.server.url_clients import UrlClients


@dataclass(frozen=True, slots=True)
class ClientRedirect:
    """A client and a redirect URI it registered: from here on, errors are redirected."""

    client: Client
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class CheckedAuthorization:
    client: Client
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    code_challenge: str
    request: AuthorizationRequest
    resource: tuple[str, ...] = ()  # RFC 8707: the resources the token will be for
    jkt: str | None = None  # RFC 9449 §10: the DPoP key the code is bound to (`dpop_jkt`)


async def check_client_and_redirect(
    request: AuthorizationRequest, store: Store, url_clients: UrlClients
) -> ClientRedirect:
    """RFC 6749 §4.1.2.1: problems here MUST NOT be redirected."""
    client = await clients.resolve(request.client_id, store, url_clients, fetch=True, status=400)
    if request.redirect_uri is None:
        raise InvalidRequest("redirect_uri is required")
    # RFC 8252 §7.3: a loopback port may vary for native apps, which are public clients; others match exactly.
    if not redirects.matches(request.redirect_uri, client.redirect_uris, port_may_vary=client.is_public):
        raise InvalidRequest("redirect_uri is not registered for this client")
    return ClientRedirect(client, request.redirect_uri)


def redirects_errors_before_decision(client: Client) -> bool:
    """Whether errors found before the user decides may be redirected to this client's redirect URI.

    RFC 9700 §4.11.2: redirect automatically only to URIs the server trusts. The operator registered the other
    clients; a URL client's page, like a client that registered itself (RFC 7591), was vetted by nobody.
    """
    return not (client_ids.is_url(client.client_id) or client.dynamic)


def check_request(
    request: AuthorizationRequest,
    target: ClientRedirect,
    known_scopes: Mapping[str, str],
    *,
    method_any_case: bool = False,
    allowed_resources: Collection[str] = (),
) -> CheckedAuthorization:
    """The rest of the request; errors from here are sent back to the redirect URI. `method_any_case`: X's dialect,
    which takes `code_challenge_method=s256`. `allowed_resources`: those the client may name (RFC 8707 §2)."""
    check_response_type(request, target.client)
    challenge = pkce.check_challenge(request.code_challenge, request.code_challenge_method, any_case=method_any_case)
    scope = check_scope(
        request.scope,
        known=known_scopes,
        allowed=target.client.scopes,
        default=target.client.scopes or (),
    )
    resource = resources.check_resources(request.resource, allowed_resources)
    return CheckedAuthorization(
        client=target.client,
        redirect_uri=target.redirect_uri,
        scope=scope,
        state=request.state,
        code_challenge=challenge,
        request=request,
        resource=resource,
        jkt=dpop.check_jkt(request.dpop_jkt),
    )


def check_response_type(request: AuthorizationRequest, client: Client) -> None:
    if request.response_type is None:
        raise InvalidRequest("response_type is required")
    if request.response_type != "code":
        raise UnsupportedResponseType("only response_type=code is supported")
    if "authorization_code" not in client.grant_types:
        raise UnsupportedResponseType("this client may not use the authorization code grant")


async def issue_code(store: Store, checked: CheckedAuthorization, user: User, *, now: int, ttl: int) -> str:
    """Mint a code for a new grant and persist both; returns the code."""
    code = tokens.new_secret(tokens.AUTHORIZATION_CODE)
    grant = Grant(
        id=new_id(now * 1000),
        user_id=user.id,
        client_id=checked.client.client_id,
        scope=join_scope(checked.scope),
        created_at=now,
    )
    await store.grants.issue_code(
        grant,
        AuthorizationCode(
            digest=tokens.digest(code),
            grant_id=grant.id,
            client_id=grant.client_id,
            user_id=user.id,
            redirect_uri=checked.redirect_uri,
            scope=grant.scope,
            code_challenge=checked.code_challenge,
            expires_at=now + ttl,
            resource=resources.join(checked.resource),
            jkt=checked.jkt,
        ),
    )
    return code
