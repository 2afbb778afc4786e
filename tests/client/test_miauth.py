"""MiAuth's check (sekisho.client.miauth): whatever the server answers, a token or one ClientError line."""

from __future__ import annotations

import httpx
import pytest

from sekisho.client import miauth
from sekisho.client.errors import ClientError
from tests.client.conftest import run

DEEP = b"[" * 100_000  # deeper than Python's stack: json.loads raises RecursionError, not ValueError


def test_deeply_nested_json_is_a_client_error_and_not_misskey() -> None:
    # Found by fuzzing (tests/client/test_fuzz_client.py): RecursionError escaped as a traceback.
    session = miauth.start("https://misskey.example", name="app", callback="http://127.0.0.1:9/cb", permissions=[])

    async def go() -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=DEEP))
        async with httpx.AsyncClient(transport=transport) as http:
            with pytest.raises(ClientError):
                await miauth.check(http, "https://misskey.example", session)
            assert not await miauth.has_misskey_api(http, "https://misskey.example")

    run(go())
