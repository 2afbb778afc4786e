"""Try notes_server.py from a terminal: the official MCP Python SDK's client signs you in (in your browser, with
sekisho), then calls `post_note` and `list_notes`.

    python examples/mcp_notes/client.py "hello from MCP"

The SDK does the whole authorization: it meets the server's 401, reads its protected resource metadata and
sekisho's metadata, registers itself (RFC 7591), opens the authorization URL, takes the code from a loopback
redirect (http://127.0.0.1:PORT/callback) and redeems it with PKCE and `resource`. `--no-browser` prints the URL
instead of opening it. `--client-metadata-url URL` names an https client ID metadata document instead of
registering (the document must list this client's redirect URI).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import webbrowser
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

PAGE = b"<!doctype html><title>Signed in</title><p id=done>Signed in: you can close this window.</p>"


class Memory:
    """The SDK's TokenStorage, kept in memory (a real client keeps it on disk, private to the user)."""

    def __init__(self) -> None:
        self.tokens: list[OAuthToken] = []
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens[-1] if self.tokens else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class LoopbackRedirect:
    """The redirect URI's listener on 127.0.0.1 (RFC 8252 §7.3): the query of the first GET /callback."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.received: asyncio.Future[dict[str, str]] | None = None
        self._server: asyncio.Server | None = None

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    async def __aenter__(self) -> LoopbackRedirect:
        self.received = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = urlsplit(head.split(b" ", 2)[1].decode())
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError, UnicodeDecodeError):
            writer.close()
            return
        if target.path == "/callback" and self.received is not None and not self.received.done():
            self.received.set_result({name: values[0] for name, values in parse_qs(target.query).items()})
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nconnection: close\r\n")
        writer.write(b"content-length: %d\r\n\r\n%s" % (len(PAGE), PAGE))
        await writer.drain()
        writer.close()

    async def code(self, timeout: float = 300) -> AuthorizationCodeResult:
        """What the SDK's `callback_handler` returns: the code, state and iss the browser brought back."""
        assert self.received is not None, "use `async with`"
        query = await asyncio.wait_for(asyncio.shield(self.received), timeout)
        if "code" not in query:
            raise SystemExit(f"the authorization was refused: {query.get('error', 'no code')}")
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def provider(
    url: str,
    redirect: LoopbackRedirect,
    storage: Memory,
    send_user: Callable[[str], Awaitable[None]],
    *,
    client_metadata_url: str | None = None,
) -> OAuthClientProvider:
    """The SDK's OAuth client for the MCP server at `url`, as a public client (PKCE, no secret); `send_user` takes
    the user to the authorization URL."""
    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="sekisho notes (MCP example client)",
            redirect_uris=[AnyUrl(redirect.redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=send_user,
        callback_handler=redirect.code,
        client_metadata_url=client_metadata_url,
    )


def browser(open_it: bool) -> Callable[[str], Awaitable[None]]:
    async def send_user(authorization_url: str) -> None:
        print(f"Sign in and allow: {authorization_url}", file=sys.stderr, flush=True)
        if open_it:
            webbrowser.open(authorization_url)

    return send_user


async def post_and_list(url: str, text: str, auth: OAuthClientProvider) -> dict[str, Any]:
    """Connect through `auth`, post `text`, list the notes: {"posted": …, "notes": […]}."""
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        posted = await session.call_tool("post_note", {"text": text})
        listed = await session.call_tool("list_notes", {})
    if posted.is_error or listed.is_error:
        raise SystemExit(f"the tool failed: {posted.content or listed.content}")
    notes = (listed.structured_content or {}).get("result", [])  # a list result comes wrapped
    return {"posted": posted.structured_content, "notes": notes}


async def run(args: argparse.Namespace) -> None:
    storage = Memory()
    async with LoopbackRedirect(args.port) as redirect:
        send_user = browser(not args.no_browser)
        auth = provider(args.url, redirect, storage, send_user, client_metadata_url=args.client_metadata_url)
        result = await post_and_list(args.url, args.text, auth)
    print(json.dumps(result, ensure_ascii=False, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("text", help="the note to post")
    parser.add_argument("--url", default="http://127.0.0.1:8001/mcp", help="the MCP server")
    parser.add_argument("--port", type=int, default=0, help="the loopback redirect's port (default: any free one)")
    parser.add_argument("--no-browser", action="store_true", help="print the authorization URL, open nothing")
    parser.add_argument("--client-metadata-url", help="an https client ID metadata document URL, used as client_id")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
