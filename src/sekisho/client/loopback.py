"""The RFC 8252 loopback receiver: an HTTP server on 127.0.0.1 that waits for the one authorization redirect.

At `/` it also serves the app's own client page (`<link rel="redirect_uri">` and an `h-app`), so that a server which
takes URL client ids (Misskey, IndieAuth, sekisho with `--allow-private-client-ids`) can use
`http://127.0.0.1:PORT/` as the client_id without the user hosting anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import socket
from types import TracebackType

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sekisho.client.errors import AuthorizationError, ClientError

CALLBACK_PATH = "/callback"
# The CLI's own pages (the end of a sign-in, the client page) in sekisho's look: the brand mark, light and dark, one
# small inline style sheet (the loopback server serves nothing else), readable on a phone.
_STYLE = """:root{color-scheme:light dark;--bg:#fff;--surface:#f5f7fa;--text:#16181d;--muted:#555e6c;--border:#d3d8e0;
--mark:#1a56c2;--mark-fg:#fff;--ok:#0f7661;--bad:#b3261e}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--surface:#181b21;--text:#e6e9ef;--muted:#a2abb9;
--border:#343a46;--mark:#8cb4ff;--mark-fg:#0b1733;--ok:#6fd3b3;--bad:#ffb4ab}}
*{box-sizing:border-box}body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--text);background:var(--bg)}header{background:var(--surface);border-bottom:1px solid var(--border);
padding:.6rem 1rem}header span{display:inline-flex;align-items:center;gap:.5rem;font-weight:700;font-size:1.125rem}
.mark rect{fill:var(--mark)}.mark path{fill:none;stroke:var(--mark-fg);stroke-width:2.6;stroke-linecap:round}
main{max-width:34rem;margin:0 auto;padding:2rem 1rem}.card{background:var(--surface);border:1px solid var(--border);
border-left:4px solid var(--ok);border-radius:.75rem;padding:1.25rem;margin-bottom:1rem}
.card.bad{border-left-color:var(--bad)}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .5rem;overflow-wrap:anywhere}p{margin:0 0 .5rem}
.muted{color:var(--muted);font-size:.875rem}"""
_MARK = (
    '<svg class="mark" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">'
    '<rect width="32" height="32" rx="7"/><path d="M5.5 9h21M8.5 13.5h15M11 9v16M21 9v16"/></svg>'
)
_DONE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · sekisho CLI</title>
<style>{style}</style></head><body><header><span>{mark}sekisho CLI</span></header>
<main><div class="card{tone}" role="status"><h1>{title}</h1><p>{message}</p></div>
<p class="muted">This page is served by the sekisho command on your computer, at 127.0.0.1.</p></main></body></html>"""


def client_page(name: str, client_id: str, redirect_uris: list[str]) -> str:
    """A client page for URL client ids: redirect URIs as `<link>`s and the app's name in an `h-app`."""
    links = "\n".join(f'<link rel="redirect_uri" href="{html.escape(uri)}">' for uri in redirect_uris)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{links}
</head><body>
<div class="h-app"><a class="u-url p-name" href="{html.escape(client_id)}">{html.escape(name)}</a></div>
<p>{html.escape(name)} signs in with OAuth 2.0 (authorization code with PKCE).</p>
</body></html>
"""


class LoopbackReceiver:
    """`async with LoopbackReceiver(port, app_name=…) as receiver:` then `await receiver.wait(timeout)`."""

    def __init__(self, port: int = 0, *, app_name: str = "sekisho CLI") -> None:
        self._requested_port = port
        self._app_name = app_name
        self._answer: asyncio.Future[str] | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = port

    @property
    def client_id(self) -> str:
        """The URL of the client page this receiver serves."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    async def __aenter__(self) -> LoopbackReceiver:
        sock = _bind(self._requested_port)
        self.port = sock.getsockname()[1]
        self._answer = asyncio.get_running_loop().create_future()
        app = Starlette(
            routes=[
                Route("/", self._page, methods=["GET"]),
                Route(CALLBACK_PATH, self._callback, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                raise ClientError(f"could not listen on 127.0.0.1:{self.port}")
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def wait(self, timeout: float) -> str:
        """The redirect's query string; `AuthorizationError` if the browser never comes back."""
        assert self._answer is not None, "use the receiver in `async with`"
        try:
            return await asyncio.wait_for(asyncio.shield(self._answer), timeout)
        except TimeoutError:
            raise AuthorizationError(
                f"no answer from the browser within {timeout:.0f} s; run the login again "
                "(with --no-browser it prints the URL to open yourself)"
            ) from None

    async def _page(self, request: Request) -> Response:
        return HTMLResponse(client_page(self._app_name, self.client_id, [self.redirect_uri]))

    async def _callback(self, request: Request) -> Response:
        assert self._answer is not None
        if self._answer.done():
            return HTMLResponse(_page("Already done", "This sign-in has finished; you can close this tab."), 409)
        self._answer.set_result(request.url.query)
        if "error" in request.query_params:
            message = "The sign-in did not go through; the terminal says why. You can close this tab."
            return HTMLResponse(_page("Not signed in", message, ok=False))
        return HTMLResponse(_page("Signed in", "You can close this tab and go back to the terminal."))


def _page(title: str, message: str, ok: bool = True) -> str:
    """A page of the CLI's: `title` and `message` in sekisho's look (a red edge when not `ok`), for humans only."""
    tone = "" if ok else " bad"
    return _DONE.format(title=html.escape(title), message=html.escape(message), style=_STYLE, mark=_MARK, tone=tone)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        raise ClientError(f"port {port} on 127.0.0.1 is in use ({error.strerror}); pick another with --port") from None
    sock.listen(16)
    return sock
