"""Posting and asking who one is (sekisho.client.posting): whatever a server answers, one ClientError line."""

from __future__ import annotations

import httpx
import pytest

from sekisho.client.errors import ClientError
from sekisho.client.posting import StaticBearer, post, whoami
from sekisho.client.providers import Api
from tests.client.conftest import run

DEEP = b"[" * 100_000  # deeper than Python's stack: json.loads raises RecursionError, not ValueError
APIS = [Api("sekisho", "https://as.example", "https://as.example/api"), Api("x", "https://x.test", "https://x.test")]


@pytest.mark.parametrize("api", APIS, ids=["misskey", "x"])
@pytest.mark.parametrize("status", [200, 400])
def test_deeply_nested_json_is_a_client_error(api: Api, status: int) -> None:
    # Found by fuzzing (tests/client/test_fuzz_client.py): RecursionError escaped as a traceback.
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=DEEP)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            with pytest.raises(ClientError):
                await whoami(http, api, StaticBearer("sek_at_x"))
            with pytest.raises(ClientError):
                await post(http, api, "hello", "alice")

    run(go())
