"""Thin handlers for MiAuth: GET/POST /miauth/{session} (the user) and POST /api/miauth/{session}/check (the app)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sekisho.protocol.params import parse_form, parse_items
from sekisho.protocol.redirects import build_redirect, host_of
from sekisho.protocol.scopes import describe
from sekisho.server import miauth
from sekisho.server.web.requests import read_body, state
from sekisho.server.web.responses import redirect, render
from sekisho.server.web.sessions import check_decision_method, current_user


async def consent(request: Request) -> Response:
    app = state(request)
    session = request.path_params["session"]
    if request.method == "POST":
        params = parse_form(await read_body(request))
    else:
        params = parse_items(request.query_params.multi_items())
    decision, csrf_token = params.pop("decision", None), params.pop("csrf_token", None)
    check_decision_method(request, decision)
    checked = miauth.check_request(session, params, app.settings.scopes)
    now = app.now()
    user = await current_user(request, app.store, now)
    if user is None:
        return redirect("/login?" + urlencode({"next": f"/miauth/{session}?" + urlencode(params)}))
    if decision is None:
        return await render(
            request,
            "consent.html",
            client_name=checked.name,
            client_host=host_of(checked.callback) if checked.callback else None,
            client_id=f"MiAuth session {session}",
            logo=await app.url_clients.logo(params.get("icon")),  # fetched safely, never hot-linked
            scopes=describe(checked.scope, app.settings.scopes),
            username=user.username,
            viewer=user.username,
            fields=list(params.items()),
            action=f"/miauth/{session}",
        )
    app.csrf.check(request, csrf_token)
    allowed = decision == "allow"
    await miauth.decide(app.store, checked, user, allowed=allowed, now=now)
    if allowed and checked.callback:
        return redirect(build_redirect(checked.callback, {"session": session}))
    title = "Access allowed" if allowed else "Access denied"
    message = "You can close this page and go back to the app." if allowed else "The app gets no access."
    return await render(
        request, "miauth_done.html", title=title, message=message, allowed=allowed, app_name=checked.name
    )


async def check(request: Request) -> Response:
    """Misskey: `{"ok": true, "token", "user"}` once for an allowed session, `{"ok": false}` otherwise."""
    app = state(request)
    redeemed = await miauth.redeem(app.store, app.settings, request.path_params["session"], app.now())
    if redeemed is None:
        return JSONResponse({"ok": False}, headers={"Cache-Control": "no-store"})
    user = await app.store.users.find(redeemed[0])
    if user is None:
        return JSONResponse({"ok": False}, headers={"Cache-Control": "no-store"})
    body = {"ok": True, "token": redeemed[1], "user": miauth.user_json(user)}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
