"""Thin handlers for the device authorization grant (RFC 8628): POST /oauth/device_authorization (the device) and
GET/POST /device (the person: enter the user code, sign in, allow or deny)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from sekisho.protocol import resources
from sekisho.protocol.device import build_device_response, normalize_user_code, show_user_code
from sekisho.protocol.params import parse_body, parse_form, parse_items, repeated
from sekisho.protocol.redirects import host_of
from sekisho.protocol.scopes import describe, split_scope
from sekisho.server import client_auth, clients, device
from sekisho.server.entities import DeviceCode, User
from sekisho.server.events import security_event
from sekisho.server.rate_limits import DEVICE_AUTHORIZATIONS
from sekisho.server.web.requests import client_address, count_request, read_body, state
from sekisho.server.web.responses import redirect, render, token_json
from sekisho.server.web.sessions import check_decision_method, current_user

FIELDS = frozenset({"user_code", "decision", "csrf_token"})


async def device_authorization(request: Request) -> Response:
    """RFC 8628 §3.1-3.2; the client authenticates as at the token endpoint (public clients send client_id)."""
    app = state(request)
    await count_request(request, DEVICE_AUTHORIZATIONS, app.settings.device_authorization_limit)
    params = parse_body(await read_body(request), request.headers.get("content-type", ""))
    authorization = request.headers.get("authorization")
    client = await client_auth.authenticate(authorization, params, app.store, app.url_clients)
    started = await device.start(
        app.store,
        client,
        params.get("scope"),
        app.settings.scopes,
        app.now(),
        resource=repeated(params, "resource"),
        allowed_resources=app.settings.allowed_resources(client.resources),
    )
    body = build_device_response(
        app.settings.issuer,
        started.device_code,
        started.user_code,
        expires_in=started.expires_in,
        interval=started.interval,
    )
    return token_json(body)  # Cache-Control: no-store, as for tokens (it holds the device code)


async def verification(request: Request) -> Response:
    """GET /device[?user_code=…]: the entry form (prefilled, never submitted by itself: RFC 8628 §5.4); POST: the
    entry, then the decision on the consent page."""
    app = state(request)
    if request.method == "POST":
        form = parse_form(await read_body(request), known=FIELDS)
    else:
        form = parse_items(request.query_params.multi_items(), known=FIELDS)
    decision, csrf_token = form.pop("decision", None), form.pop("csrf_token", None)
    check_decision_method(request, decision)
    entered = form.get("user_code", "")
    now = app.now()
    user = await current_user(request, app.store, now)
    if user is None:
        back = "/device" + ("?" + urlencode({"user_code": entered}) if entered else "")
        return redirect("/login?" + urlencode({"next": back}))
    if request.method == "GET":
        return await render(request, "device.html", user_code=entered, viewer=user.username)
    app.csrf.check(request, csrf_token)
    address = client_address(request)
    admitted = await device.reserve_entry(app.store, user, address, now)
    if admitted.retry_after > 0:
        wait = admitted.retry_after
        security_event("device_entry_throttled", user_id=user.id, address=address, retry_after=wait)
        message = f"Too many codes entered. Try again in {wait} seconds."
        response = await render(request, "device.html", 429, user_code=entered, message=message)
        response.headers["Retry-After"] = str(wait)
        return response
    if admitted.delay > 0:  # the address is over its ceiling: slowed, never refused
        security_event("device_entry_delayed", user_id=user.id, address=address, delay=admitted.delay)
        await app.sleep(admitted.delay)
    code = normalize_user_code(entered)
    found = await app.store.devices.find(code) if code else None
    if found is None:
        security_event("device_code_unknown", user_id=user.id, address=address)
        message = "That code is not valid. Check the code your device shows and type it again."
        return await render(request, "device.html", 400, user_code=entered, message=message)
    if found.status != "pending" or found.expires_at <= now:
        return await _spent(request)
    if decision is None:
        return await _consent(request, found, user)
    allowed = decision == "allow"
    if not await device.decide(app.store, found, user, allowed=allowed, now=now):
        return await _spent(request)
    return await render(
        request,
        "device_done.html",
        title="Device connected" if allowed else "Access denied",
        message="You can return to your device." if allowed else "The device gets no access. You can close this page.",
        tone="success" if allowed else "info",
        allowed=allowed,
        app_name=await app.store.clients.app_name(found.client_id) or found.client_id,
    )


async def _consent(request: Request, found: DeviceCode, user: User) -> Response:
    """The code flow's consent page, naming the user code, so the person can check it is their device's."""
    app = state(request)
    client = await app.store.clients.find(found.client_id)
    shown = show_user_code(found.user_code)
    return await render(
        request,
        "consent.html",
        client_name=client.name if client else found.client_id,
        client_host=host_of(client.client_uri) if client and client.client_uri else None,
        client_id=found.client_id,
        logo=await clients.logo_of(client, app.store) if client else None,
        self_registered=client is not None and client.dynamic,
        website=client.website if client else None,
        scopes=describe(split_scope(found.scope), app.settings.scopes),
        username=user.username,
        viewer=user.username,
        fields=[("user_code", shown)],
        resources=resources.split(found.resource),  # RFC 8707: where the tokens will be usable
        action="/device",
        user_code=shown,
    )


async def _spent(request: Request) -> Response:
    return await render(
        request,
        "device_done.html",
        400,
        title="This code can no longer be used",
        message="It has expired or was already used. Start again on your device to get a new code.",
        tone="warning",
        allowed=False,
        again=True,
    )
