"""A real HTTP server on 127.0.0.1, in a thread, that plays the web pages of URL clients.

Each test says what each path answers (status, headers — several `Link` headers allowed —, body, content type,
a delay before answering, an event to hold the answer until, a slow drip of the body, a redirect) and reads back
the log of requests it received and how many of them a path had in flight at once.

    with ClientPages() as pages:
        pages.html("/app/", links=["/cb"], link_headers=['</cb2>; rel="redirect_uri"'])
        client_id = pages.url("/app/")
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# A real PNG: one transparent pixel, with correct chunk checksums.
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
    + _png_chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00"))
    + _png_chunk(b"IEND", b"")
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


@dataclass
class Reply:
    """What one path answers."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: Sequence[tuple[str, str]] = ()  # sent in order; a name may repeat (several Link headers)
    location: str | None = None  # a redirect target, sent as Location
    delay: float = 0.0  # seconds to wait before the status line
    hold: threading.Event | None = None  # no status line until the test sets this (or HOLD_LIMIT s pass)
    drip: float = 0.0  # seconds to wait between body chunks
    chunk: int = 64 * 1024  # body chunk size when dripping or repeating
    repeat: int = 1  # the body is sent this many times, produced lazily (gigabyte bodies cost nothing)
    content_length: bool | int = True  # True: the real length; False: none (body ends at close); int: this value


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    client: str  # the peer address the request came from


@dataclass
class _State:
    replies: dict[str, Reply] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    in_flight: dict[str, int] = field(default_factory=dict)  # by path without query: requests not yet answered
    peaks: dict[str, int] = field(default_factory=dict)  # by path without query: the most in flight at once


HOLD_LIMIT = 30.0  # a held answer is given anyway after this long, so a failing test cannot hang


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: every fetch opens (and checks) its own
    server_version = "client-pages/1"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        state = self.server.state
        path = self.path
        bare = path.split("?", 1)[0]
        with state.lock:
            state.log.append(
                Logged("GET", path, {k.lower(): v for k, v in self.headers.items()}, self.client_address[0])
            )
            reply = state.replies.get(path) or state.replies.get(bare)
            state.in_flight[bare] = state.in_flight.get(bare, 0) + 1
            state.peaks[bare] = max(state.peaks.get(bare, 0), state.in_flight[bare])
        try:
            self._answer(reply or Reply(status=404, body=b"not found", content_type="text/plain"))
        finally:
            with state.lock:
                state.in_flight[bare] -= 1

    def _answer(self, reply: Reply) -> None:
        state = self.server.state
        if reply.delay and state.stopping.wait(reply.delay):
            return
        if reply.hold is not None and not _held_until(reply.hold, state.stopping):
            return
        self.send_response(reply.status)
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        if reply.location is not None:
            self.send_header("Location", reply.location)
        for name, value in reply.headers:
            self.send_header(name, value)
        total = len(reply.body) * reply.repeat
        if reply.content_length is True:
            self.send_header("Content-Length", str(total))
        elif reply.content_length is not False:
            self.send_header("Content-Length", str(reply.content_length))
        self.end_headers()
        for piece in _pieces(reply):
            self.wfile.write(piece)
            self.wfile.flush()
            if reply.drip and state.stopping.wait(reply.drip):
                return

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the test reads `ClientPages.log` instead


def _held_until(hold: threading.Event, stopping: threading.Event) -> bool:
    """Wait for `hold`; False if the server stops first."""
    deadline = time.monotonic() + HOLD_LIMIT
    while not hold.wait(0.02):
        if stopping.is_set():
            return False
        if time.monotonic() > deadline:
            break
    return True


def _pieces(reply: Reply) -> Iterable[bytes]:
    for _ in range(reply.repeat):
        body = reply.body
        if not reply.drip and len(body) <= reply.chunk:
            yield body
            continue
        for start in range(0, len(body), reply.chunk):
            yield body[start : start + reply.chunk]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a fetcher that hangs up on a slow or huge page is what these pages are for


class ClientPages:
    """The page server; a context manager that starts it and stops it."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        """`tls`: serve https with this server context (tests/certs.py makes one a test CA signs)."""
        self._state = _State()
        self._server = _Server((host, 0), _Handler)
        self._server.state = self._state
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> ClientPages:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._state.stopping.set()  # wakes handlers that sleep in a delay or a drip
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    # what the pages answer

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def set(self, path: str, reply: Reply | None = None, **fields: Any) -> Reply:
        """Make `path` answer `reply` (or a Reply built from `fields`); replaces what it answered before."""
        reply = reply or Reply(**fields)
        with self._state.lock:
            self._state.replies[path] = reply
        return reply

    def html(
        self,
        path: str,
        body: str | None = None,
        *,
        links: Sequence[str] = (),
        link_headers: Sequence[str] = (),
        app: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        **fields: Any,
    ) -> Reply:
        """An HTML client page: `<link rel="redirect_uri">` for each of `links`, one `Link` header for each of
        `link_headers`, and `app` (raw HTML, e.g. an h-app) in the body; or a `body` given whole."""
        if body is None:
            elements = "\n".join(f'<link rel="redirect_uri" href="{href}">' for href in links)
            body = (
                f"<!doctype html>\n<html><head><title>client</title>\n{elements}\n</head>\n"
                f"<body>{app or ''}</body></html>\n"
            )
        all_headers = [*(("Link", value) for value in link_headers), *headers]
        return self.set(path, Reply(body=body.encode(), headers=all_headers, **fields))

    def json(self, path: str, body: str | bytes, **fields: Any) -> Reply:
        fields.setdefault("content_type", "application/json")
        return self.set(path, Reply(body=body.encode() if isinstance(body, str) else body, **fields))

    def redirect(self, path: str, target: str, status: int = 302) -> Reply:
        return self.set(path, Reply(status=status, location=target, body=b"", content_type=None))

    # what the pages saw

    @property
    def log(self) -> list[Logged]:
        with self._state.lock:
            return list(self._state.log)

    def hits(self, path: str) -> int:
        return sum(1 for entry in self.log if entry.path == path)

    def peak(self, path: str) -> int:
        """The most requests for `path` (query ignored) this server had in flight at once."""
        with self._state.lock:
            return self._state.peaks.get(path, 0)

    def waiting(self, path: str) -> int:
        """Requests for `path` (query ignored) received and not yet answered."""
        with self._state.lock:
            return self._state.in_flight.get(path, 0)

    def clear_log(self) -> None:
        with self._state.lock:
            self._state.log.clear()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_for(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())
