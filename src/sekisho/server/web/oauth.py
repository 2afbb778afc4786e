"""Thin handlers for metadata, the authorization endpoint and the token endpoint; the authorization, token and
revocation handlers come in two dialects (sekisho.server.dialects): sekisho's paths, and X's for the stand-in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sekisho.errors import AccessDenied, InvalidRequest, OAuthError, UnauthorizedClient, UnsupportedGrantType
from sekisho.protocol.metadata import DEMO_CLIENT_METADATA, build_metadata
from sekisho.protocol.params import (
    AUTHORIZE_PARAMETERS,
    PUSH_PARAMETERS,
    AuthorizationRequest,
    TokenRequest,
    parse_body,
    parse_form,
    parse_items,
)
from sekisho.protocol.redirects import build_redirect, host_of
from sekisho.protocol.scopes import describe
from sekisho.server import authorize as authz
from sekisho.server import client_auth, clients, introspection, par, revocation
from sekisho.server.dialects import SEKISHO, OAuthDialect, X
from sekisho.server.grants import HANDLERS, GrantContext
from sekisho.server.rate_limits import PUSHED_REQUESTS
from sekisho.server.setup import DEMO_CLIENT_ID
from sekisho.server.token import Minted
from sekisho.server.web import dpop as dpop_web
from sekisho.server.web.observe import count_issued
from sekisho.server.web.requests import count_request, read_body, state
from sekisho.server.web.responses import CORS, NO_STORE, error_page, redirect, render, token_json, wants_json
from sekisho.server.web.sessions import check_decision_method, current_user


async def metadata(request: Request) -> Response:
    app = state(request)
    body = build_metadata(
        app.settings.issuer,
        scopes=app.settings.scopes,
        grant_types=sorted(HANDLERS),
        jwt_access_tokens=app.settings.access_token_format == "jwt",
        registration=app.settings.registration != "off",
        require_par=app.settings.require_par,
    )
    if app.settings.demo:
        # Only with --demo: the seeded public demo app (loopback redirect URIs, RFC 8252 §7.3), which the CLI may use
        # when it is given no client id, so a first login needs nothing copied (RFC 8414 §2 allows extra members).
        body[DEMO_CLIENT_METADATA] = DEMO_CLIENT_ID
    return JSONResponse(body, headers={**CORS, "Cache-Control": "public, max-age=300"})


async def cors_preflight(request: Request) -> Response:
    return Response(
        status_code=204,
        headers={
            **CORS,
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, DPoP",
            "Access-Control-Max-Age": "86400",
        },
    )


Handler = Callable[[Request], Awaitable[Response]]


def authorize_in(dialect: OAuthDialect) -> Handler:
    async def authorize(request: Request) -> Response:
        return await authorization(request, dialect)

    return authorize


async def authorization(request: Request, dialect: OAuthDialect) -> Response:
    app = state(request)
    issuer = app.settings.issuer if dialect.issuer_in_redirect else None
    if request.method == "POST":
        params = parse_form(await read_body(request), known=AUTHORIZE_PARAMETERS)
    else:
        params = parse_query(request)
    decision, csrf_token = params.pop("decision", None), params.pop("csrf_token", None)
    request_uri = params.pop("request_uri", None) if dialect.pushed_requests else None
    check_decision_method(request, decision)
    now = app.now()
    user = await current_user(request, app.store, now)
    if request_uri is not None:
        # RFC 9126 §4: the pushed request is the request; any other parameter but client_id is ignored. Looked at
        # only until the user has signed in, then taken: the consent form carries it on, as it does any request.
        client_id = params.get("client_id")
        req = await par.pushed_request(app.store, client_id, request_uri, now, take=user is not None)
        if user is None:
            back = dialect.authorize_path + "?" + urlencode({"client_id": client_id, "request_uri": request_uri})
            return redirect("/login?" + urlencode({"next": back}))
    else:
        req = AuthorizationRequest.from_params(params)
    target = await authz.check_client_and_redirect(
        req, app.store, app.url_clients
    )  # errors above here are never redirected
    if request_uri is None and decision is None and dialect.pushed_requests:
        # RFC 9126 §5: a request that had to be pushed is refused; the consent form (a decision, its CSRF token
        # checked below before anything is issued) carries on a request that was pushed.
        if app.settings.require_par or target.client.require_par:
            raise InvalidRequest("this authorization request must be pushed to /oauth/par first (RFC 9126)")
    try:
        checked = authz.check_request(
            req,
            target,
            app.settings.scopes,
            method_any_case=dialect.method_any_case,
            allowed_resources=app.settings.allowed_resources(target.client.resources),
        )
    except OAuthError as error:
        if authz.redirects_errors_before_decision(target.client):
            return error_redirect(issuer, target.redirect_uri, req.state, error)
        return await error_with_link(request, target.redirect_uri, req.state, error)
    if user is None:
        back = dialect.authorize_path + "?" + urlencode(req.form_fields())
        return redirect("/login?" + urlencode({"next": back}))
    if decision is None:
        return await consent_page(request, checked, user.username, action=dialect.authorize_path)
    app.csrf.check(request, csrf_token)
    if decision != "allow":
        denied = AccessDenied("the user denied the request")
        return error_redirect(issuer, target.redirect_uri, req.state, denied)
    code = await authz.issue_code(app.store, checked, user, now=now, ttl=app.settings.code_ttl)
    # RFC 9207: the issuer goes with every authorization response (not in X's dialect: X sends none).
    params_out = {"code": code, "state": checked.state, "iss": issuer}
    return redirect(build_redirect(checked.redirect_uri, params_out), status=303)


async def pushed_authorization(request: Request) -> Response:
    """RFC 9126 §2: POST /oauth/par; the client authenticates as at the token endpoint, errors are JSON (§2.3)."""
    app = state(request)
    await count_request(request, PUSHED_REQUESTS, app.settings.par_limit)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ("application/x-www-form-urlencoded", ""):
        raise InvalidRequest("the body must be application/x-www-form-urlencoded (RFC 9126 §2.1)")
    params = parse_form(await read_body(request), known=PUSH_PARAMETERS)
    authorization = request.headers.get("authorization")
    client = await client_auth.authenticate(authorization, params, app.store, app.url_clients)
    now = app.now()
    bound = par.bind_to_proof(params, await dpop_web.request_key(request, app, now))  # RFC 9449 §10.1
    allowed = app.settings.allowed_resources(client.resources)
    pushed = await par.push(bound, client, app.store, app.url_clients, app.settings.scopes, allowed, now)
    response = token_json({"request_uri": pushed.request_uri, "expires_in": pushed.expires_in}, status=201)
    response.headers.update(dpop_web.nonce_header(app, now))
    return response


def parse_query(request: Request) -> dict[str, str]:
    """The query, decoded strictly: a value that is not UTF-8 (`state=%FF`) is refused, never echoed altered."""
    try:
        query = request.scope["query_string"].decode("utf-8")
        items = parse_qsl(query, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("the query string is not valid UTF-8 URL encoding") from exc
    return parse_items(items, known=AUTHORIZE_PARAMETERS)


async def consent_page(
    request: Request, checked: authz.CheckedAuthorization, username: str, *, action: str
) -> Response:
    app = state(request)
    return await render(
        request,
        "consent.html",
        client_name=checked.client.name,
        client_host=host_of(checked.client.client_uri or checked.redirect_uri) or checked.redirect_uri,
        client_id=checked.client.client_id,
        logo=await clients.logo_of(checked.client, app.store),
        self_registered=checked.client.dynamic,  # RFC 7591: its name, logo and website are its own word
        website=checked.client.website,
        scopes=describe(checked.scope, app.settings.scopes),
        username=username,
        viewer=username,
        fields=checked.request.form_fields(),
        resources=checked.resource,  # RFC 8707: where the token will be usable
        action=action,
    )


def error_redirect(issuer: str | None, redirect_uri: str, state_value: str | None, error: OAuthError) -> Response:
    """RFC 6749 §4.1.2.1 error response, with `iss` (RFC 9207) unless `issuer` is None (X's dialect)."""
    params = {**error.body(), "state": state_value, "iss": issuer}
    return redirect(build_redirect(redirect_uri, params), status=303)


async def error_with_link(request: Request, redirect_uri: str, state_value: str | None, error: OAuthError) -> Response:
    """RFC 9700 §4.11.2: a 400 page naming the error, with a plain link back (`state`, `iss`), never a redirect."""
    if wants_json(request):
        return JSONResponse(error.body(), status_code=400, headers={"Cache-Control": "no-store"})
    link = build_redirect(redirect_uri, {**error.body(), "state": state_value, "iss": state(request).settings.issuer})
    host = host_of(redirect_uri) or redirect_uri
    return await error_page(request, error, 400, back_link=link, back_host=host)


def token_in(dialect: OAuthDialect) -> Handler:
    async def token(request: Request) -> Response:
        params = parse_body(await read_body(request), request.headers.get("content-type", ""))
        req = TokenRequest.from_params(params)
        minted = await grant(request, req, params, dialect)
        count_issued(req.grant_type)
        response = token_json(minted.response(dialect.token_type))
        app = state(request)
        response.headers.update(dpop_web.nonce_header(app, app.now()))
        return response

    return token


async def grant(request: Request, req: TokenRequest, params: dict[str, str], dialect: OAuthDialect = SEKISHO) -> Minted:
    """Authenticate the client and run its grant, once. The client may be recalled from memory: the grant's one
    write re-checks it, and a client removed meanwhile is refused there (`invalid_client`)."""
    app = state(request)
    authorization = request.headers.get("authorization")
    same_secret_twice = dialect.same_secret_twice
    client = await client_auth.authenticate(
        authorization, params, app.store, app.url_clients, same_secret_twice=same_secret_twice
    )
    handler = HANDLERS.get(req.grant_type)
    if handler is None or (dialect.grant_types is not None and req.grant_type not in dialect.grant_types):
        raise UnsupportedGrantType(f"grant_type {req.grant_type!r} is not supported")
    if req.grant_type not in client.grant_types:
        raise UnauthorizedClient(f"this client may not use the {req.grant_type} grant")
    now = app.now()
    jkt = await dpop_web.token_request_key(request, app, client, now)  # RFC 9449 §5: before the grant runs
    signer = await app.signer(now)
    return await handler(req, client, GrantContext(app.store, app.settings, now, signer, dialect, jkt))


def revoke_in(dialect: OAuthDialect) -> Handler:
    async def revoke(request: Request) -> Response:
        app = state(request)
        params = parse_body(await read_body(request), request.headers.get("content-type", ""))
        authorization = request.headers.get("authorization")
        client = await client_auth.authenticate(
            authorization, params, app.store, app.url_clients, same_secret_twice=dialect.same_secret_twice
        )
        await revocation.revoke(params, client, app.store, app.now())
        if dialect.revoked_body is not None:
            return token_json(dialect.revoked_body)
        return Response(status_code=200, headers={**NO_STORE, **CORS})

    return revoke


authorize, token, revoke = authorize_in(SEKISHO), token_in(SEKISHO), revoke_in(SEKISHO)
x_authorize, x_token, x_revoke = authorize_in(X), token_in(X), revoke_in(X)


async def introspect(request: Request) -> Response:
    """RFC 7662. The caller may be recalled from memory: the token lookup re-checks it (`introspection.introspect`)."""
    app = state(request)
    params = parse_body(await read_body(request), request.headers.get("content-type", ""))
    authorization = request.headers.get("authorization")
    caller = await client_auth.authenticate(authorization, params, app.store, app.url_clients)
    body = await introspection.introspect(params, caller, app.store, app.settings.issuer, app.now())
    return token_json(body)


async def jwks(request: Request) -> Response:
    """RFC 7517 key set of the access-token signing keys (RFC 9068); empty while tokens are opaque."""
    app = state(request)
    body = await app.signing_keys.jwks(app.now())
    return JSONResponse(body, headers={**CORS, "Cache-Control": "public, max-age=60"})
