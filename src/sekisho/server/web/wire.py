"""How responses go on the wire: uvicorn's httptools protocol, with a response's head sent together with its body.

uvicorn writes a response's status line and headers when the app sends `http.response.start`, and its body when
the app sends `http.response.body`: two `write` calls, and so two `write` system calls and two TCP segments, for
every response. On loopback the kernel delivers each segment to the reader within the writer's system call. The
head is kept back here until the next write of the same connection, at the latest until the event loop's next
turn, so a response that is ready at once (every response sekisho sends) goes out in one system call; a response
that sends its head and then waits still gets its head out on the next turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeldHead:
    """A transport that holds one write back until the next write or the loop's next turn, whichever comes first.

    Bytes keep their order: a write joins what is held, and `write_eof` and `close` send what is held first.
    Everything else, `abort` included, is the transport's."""

    __slots__ = ("held", "loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.held: bytes | None = None

    def write(self, data: bytes) -> None:
        if (held := self.held) is None:
            self.held = bytes(data)
            self.loop.call_soon(self.flush)
        else:
            self.held = None
            self.transport.write(held + data)

    def writelines(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def flush(self) -> None:
        if (held := self.held) is not None:
            self.held = None
            self.transport.write(held)  # a closed or aborted transport drops it, as it drops any late write

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (`uvicorn.run(..., http=OneWriteProtocol)`) whose requests write through
    `HeldHead`. Flow control stays on the real transport: uvicorn's FlowControl is built on it before the swap."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = HeldHead(transport, self.loop)  # type: ignore[assignment]
