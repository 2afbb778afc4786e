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
_DONE = """<!doctype html><meta charset="utf-8"><title>{title}</title>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; line-height: 1.5">
<h1>{title}</h1><p>{message}</p></body>"""


def client_page(name: str, client_id: str, redirect_uris: list[str]) -> str:
    """A client page for URL client ids: redirect URIs as `<link>`s and the app's name in an `h-app`."""
    links = "\n".join(f'<link rel="redirect_uri" href="{html.escape(uri)}">' for uri in redirect_uris)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}</title>
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
            return HTMLResponse(_page("Not signed in", message))
        return HTMLResponse(_page("Signed in", "You can close this tab and go back to the terminal."))


def _page(title: str, message: str) -> str:
    return _DONE.format(title=html.escape(title), message=html.escape(message))


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        raise ClientError(f"port {port} on 127.0.0.1 is in use ({error.strerror}); pick another with --port") from None
    sock.listen(16)
    return sock
