"""`sekisho.server.web.wire`: uvicorn's protocol with a response's head sent with its body, over real loopback
sockets. Every response still arrives whole and in order; one that is ready at once reaches the socket in one
write; one that waits after its head still gets its head out at once."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import uvicorn
import uvloop

from sekisho.server.web.wire import HeldHead, OneWriteProtocol
from tests.live import free_port

WRITES: list[bytes] = []


class Recording:
    """The real transport, with every write it is given noted in WRITES."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class Recorded(OneWriteProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Recording(transport))  # type: ignore[arg-type]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if path == "/slow":  # the head now, the body later
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await asyncio.sleep(0.5)
        await send({"type": "http.response.body", "body": b"late"})
    elif path == "/chunks":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one", b"two", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    else:
        answer = b"echo " + path.encode() + b" " + body
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=Recorded, lifespan="off", log_level="critical", timeout_keep_alive=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(10)


def exchange(port: int, data: bytes, *, until: bytes | None = None, timeout: float = 5) -> bytes:
    """Send `data` on a new connection and read until the server closes it (or `until` has arrived)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while until is None or until not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def get(path: str, *, close: bool = True) -> bytes:
    connection = b"connection: close\r\n" if close else b""
    return b"GET " + path.encode() + b" HTTP/1.1\r\nhost: t\r\n" + connection + b"\r\n"


def test_a_response_ready_at_once_reaches_the_socket_in_one_write(port: int) -> None:
    WRITES.clear()
    received = exchange(port, get("/one", close=False), until=b"echo /one ")
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"\r\n\r\necho /one ")
    assert WRITES == [received]


def test_pipelined_requests_are_answered_whole_and_in_order(port: int) -> None:
    body = b"x=1"
    post = b"POST /p HTTP/1.1\r\nhost: t\r\ncontent-length: 3\r\n\r\n" + body
    received = exchange(port, get("/a", close=False) + post + get("/b"))
    answers = [part for part in received.split(b"HTTP/1.1 200 OK\r\n") if part]
    assert [answer.rpartition(b"\r\n\r\n")[2] for answer in answers] == [b"echo /a ", b"echo /p x=1", b"echo /b "]


def test_a_response_that_waits_after_its_head_gets_its_head_out_first(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(get("/slow"))
        sock.settimeout(0.3)  # the body comes 0.5 s after the head
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536) == b"late"


def test_streamed_chunks_and_empty_bodies_arrive_whole(port: int) -> None:
    chunked = exchange(port, get("/chunks"))
    assert chunked.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"transfer-encoding: chunked" in chunked
    assert chunked.endswith(b"\r\n\r\n3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n")
    empty = exchange(port, get("/empty"))
    assert empty.startswith(b"HTTP/1.1 204 No Content\r\n") and empty.endswith(b"\r\n\r\n")


def test_a_head_request_gets_the_head_alone(port: int) -> None:
    received = exchange(port, b"HEAD /h HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"\r\n\r\n")


def test_a_malformed_request_is_answered_400_before_the_connection_closes(port: int) -> None:
    received = exchange(port, b"NOT A REQUEST\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(port: int) -> None:
    started = time.monotonic()
    received = exchange(port, get("/idle", close=False))  # read until the server closes
    assert received.endswith(b"echo /idle ") and 0.5 < time.monotonic() - started < 5


LOOPS = pytest.mark.parametrize(
    "loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)


@LOOPS
def test_held_bytes_keep_their_order_through_every_way_of_writing(loop_factory: Any) -> None:
    """HeldHead on a real loopback transport: write, writelines, write_eof and close all keep the byte order."""

    async def writes(held: HeldHead) -> None:
        held.write(b"head;")
        held.writelines([b"body", b";"])
        held.write(b"alone;")
        await asyncio.sleep(0)  # the loop's next turn sends what is held
        await asyncio.sleep(0)
        held.write(b"last;")
        held.write_eof()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        assert runner.run(received_from(writes)) == b"head;body;alone;last;"


@LOOPS
def test_a_write_held_when_the_transport_is_aborted_or_closed_underneath_is_dropped_quietly(loop_factory: Any) -> None:
    """The flush the write scheduled still runs, and writes to a transport that is gone: nothing reaches the peer
    and nothing reaches the loop's exception handler."""

    def held_then(end: Callable[[HeldHead], None]) -> Callable[[HeldHead], Awaitable[None]]:
        async def writes(held: HeldHead) -> None:
            held.write(b"held")
            end(held)
            await asyncio.sleep(0)  # the flush scheduled by the write runs, and must send nothing

        return writes

    errors: list[str] = []
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.get_loop().set_exception_handler(lambda loop, context: errors.append(context["message"]))
        assert runner.run(received_from(held_then(lambda held: held.abort()))) == b""
        # closed underneath, as uvicorn's connection_lost closes it, before the loop's next turn
        assert runner.run(received_from(held_then(lambda held: held.transport.close()))) == b""
    assert errors == []


async def received_from(writes: Callable[[HeldHead], Awaitable[None]]) -> bytes:
    """What a loopback peer receives, until the connection ends, from `writes` through a HeldHead."""
    received = bytearray()
    done = asyncio.Event()

    async def reader(stream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            received.extend(await stream.read())  # until EOF
        except ConnectionError:  # an abort may reset the connection
            pass
        writer.close()
        done.set()

    server = await asyncio.start_server(reader, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    held = HeldHead(transport, loop)  # type: ignore[arg-type]
    await writes(held)
    await asyncio.wait_for(done.wait(), 5)
    held.close()
    server.close()
    return bytes(received)
