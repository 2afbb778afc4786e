"""`Signer.sign`: the tokens asked for in one turn of the event loop are signed together at the start of the next.

Each request still gets its own token, or its own error; a request given up meanwhile gets nothing; a turn left
waiting on another loop holds up neither.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from joserfc.jwk import ECKey, KeySet

from sekisho.protocol import jwt_access
from sekisho.protocol.jwt_access import AccessClaims
from sekisho.server.signing_keys import Signer

KEY = jwt_access.new_signing_key("k1")
ISSUER = "https://as.example"


def claims(subject: str) -> AccessClaims:
    return AccessClaims(ISSUER, subject, ISSUER, "bot", "read", 1_000, 2_000, f"jti-{subject}")


def verified(token: str) -> AccessClaims:
    return jwt_access.verify(token, KeySet([KEY]), issuer=ISSUER, audience=ISSUER, now=1_500)


def recording(monkeypatch: pytest.MonkeyPatch, events: list[str], fail: str | None = None) -> None:
    """jwt_access.sign as it is, noting each signature in `events` (and failing for the subject `fail`)."""
    real: Callable[[AccessClaims, ECKey], str] = jwt_access.sign

    def sign(claimed: AccessClaims, key: ECKey) -> str:
        events.append(f"signed {claimed.subject}")
        if claimed.subject == fail:
            raise ValueError("this one cannot be signed")
        return real(claimed, key)

    monkeypatch.setattr(jwt_access, "sign", sign)


def test_the_tokens_of_one_turn_are_signed_together_and_each_gets_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    recording(monkeypatch, events)
    signer = Signer(KEY)

    async def request(subject: str) -> str:
        token = await signer.sign(claims(subject))
        events.append(f"resumed {subject}")
        return token

    async def main() -> list[str]:
        return await asyncio.gather(*(request(f"u{n}") for n in range(5)))

    tokens = asyncio.run(main())
    assert [verified(token).subject for token in tokens] == [f"u{n}" for n in range(5)]
    assert len(set(tokens)) == 5
    assert events == [f"signed u{n}" for n in range(5)] + [f"resumed u{n}" for n in range(5)]


def test_the_next_turn_is_signed_in_the_next_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    recording(monkeypatch, events)
    signer = Signer(KEY)

    async def main() -> None:
        # A turn already signed takes no more tokens: the second waits for a turn of its own, not forever.
        first = await asyncio.wait_for(signer.sign(claims("first")), timeout=5)
        second = await asyncio.wait_for(signer.sign(claims("second")), timeout=5)
        assert verified(first).subject == "first" and verified(second).subject == "second"

    asyncio.run(main())
    assert events == ["signed first", "signed second"]


def test_an_error_reaches_its_own_request_only(monkeypatch: pytest.MonkeyPatch) -> None:
    recording(monkeypatch, [], fail="bad")
    signer = Signer(KEY)

    async def main() -> list[str | BaseException]:
        return await asyncio.gather(*(signer.sign(claims(s)) for s in ("a", "bad", "b")), return_exceptions=True)

    a, bad, b = asyncio.run(main())
    assert isinstance(bad, ValueError)
    assert isinstance(a, str) and verified(a).subject == "a"
    assert isinstance(b, str) and verified(b).subject == "b"


def test_a_request_given_up_before_its_turn_is_not_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    recording(monkeypatch, events)
    signer = Signer(KEY)

    async def main() -> str:
        given_up = asyncio.ensure_future(signer.sign(claims("gone")))
        kept = asyncio.ensure_future(signer.sign(claims("kept")))
        await asyncio.sleep(0)  # both wait in the signer now
        given_up.cancel()
        return await kept

    assert verified(asyncio.run(main())).subject == "kept"
    assert events == ["signed kept"]


def test_a_turn_waiting_on_another_loop_holds_up_neither() -> None:
    """As when a loop closes with a turn still waiting (tests run one loop after another): the next loop signs its
    own tokens, and the first still signs its own if it runs again."""
    signer = Signer(KEY)
    first = asyncio.new_event_loop()
    try:
        left = first.create_task(signer.sign(claims("left")))
        first.call_soon(first.stop)
        first.run_forever()  # one turn: the request waits, and the loop stops before its turn's callback runs
        assert not left.done()

        async def main() -> str:
            return await asyncio.wait_for(signer.sign(claims("next")), timeout=5)

        assert verified(asyncio.run(main())).subject == "next"
        assert verified(first.run_until_complete(left)).subject == "left"
    finally:
        first.close()
