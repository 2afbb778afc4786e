"""JwtVerifier on its own: pinned algorithms, claims, skew, and how it fetches and refetches the JWKS."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from sekisho.errors import InvalidToken
from sekisho.protocol import jwt_access
from sekisho.protocol.jwt_access import AccessClaims
from sekisho.resource import JwtVerifier, TokenInfo, VerifierUnavailable
from sekisho.resource.jwks import usable_keys
from tests.conftest import Clock

T = TypeVar("T")
ISSUER = "https://as.example"
AUDIENCE = "https://api.example"
JWKS_URL = f"{ISSUER}/oauth/jwks"
START = 1_800_000_000


@dataclass
class Jwks:
    """The authorization server's JWKS endpoint; counts its fetches and can be made to fail."""

    keys: list[dict[str, Any]]
    fetches: int = 0
    status: int = 200
    body: bytes | None = None
    clock: Clock = field(default_factory=lambda: Clock(START))

    def serve(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "GET" and str(request.url) == JWKS_URL
        self.fetches += 1
        return httpx.Response(self.status, content=self.body or json.dumps({"keys": self.keys}).encode())

    def run(self, scenario: Callable[[JwtVerifier], Awaitable[T]], **options: Any) -> T:
        async def main() -> T:
            async with httpx.AsyncClient(transport=httpx.MockTransport(self.serve)) as http:
                verifier = JwtVerifier(
                    JWKS_URL, issuer=ISSUER, audience=AUDIENCE, http=http, clock=self.clock, **options
                )
                return await scenario(verifier)

        return asyncio.run(main())

    def verify(self, *tokens: str, **options: Any) -> list[TokenInfo | InvalidToken]:
        """Each token's info or refusal, in turn, by one verifier."""

        async def scenario(verifier: JwtVerifier) -> list[TokenInfo | InvalidToken]:
            results: list[TokenInfo | InvalidToken] = []
            for token in tokens:
                try:
                    results.append(await verifier.verify(token))
                except InvalidToken as error:
                    results.append(error)
            return results

        return self.run(scenario, **options)


def public(key: ECKey | RSAKey) -> dict[str, Any]:
    return key.as_dict(private=False)


@pytest.fixture
def key() -> ECKey:
    return jwt_access.new_signing_key("k1")


@pytest.fixture
def jwks(key: ECKey) -> Jwks:
    return Jwks([public(key)])


def claims(**changes: Any) -> AccessClaims:
    base = AccessClaims(
        issuer=ISSUER,
        subject="user-1",
        audience=AUDIENCE,
        client_id="client-1",
        scope="read:account write:notes",
        issued_at=START,
        expires_at=START + 3600,
        jwt_id="jti-1",
    )
    return replace(base, **changes)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_token(jwks: Jwks, key: ECKey) -> None:
    [info] = jwks.verify(jwt_access.sign(claims(), key))
    assert info == TokenInfo("client-1", "user-1", ("read:account", "write:notes"), START + 3600)


def test_a_token_whose_subject_is_its_client_acts_for_no_user(jwks: Jwks, key: ECKey) -> None:
    [info] = jwks.verify(jwt_access.sign(claims(subject="client-1"), key))
    assert isinstance(info, TokenInfo) and info.user_id is None


@pytest.mark.parametrize(
    "options",
    [
        {"leeway": -1},
        {"leeway": jwt_access.MAX_LEEWAY + 1},
        {"algorithms": ()},
        {"algorithms": "ES256"},
        {"algorithms": ("none",)},
        {"algorithms": ("ES256", "HS256")},
        {"algorithms": ("hs512",)},
        {"jwks_ttl": -1},
        {"min_refetch_interval": -1},
        {"remembered": -1},
    ],
)
def test_unsafe_settings_are_refused_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        JwtVerifier(JWKS_URL, issuer=ISSUER, audience=AUDIENCE, **options)


def test_a_jwks_url_that_is_not_http_is_refused_at_construction() -> None:
    with pytest.raises(ValueError):
        JwtVerifier("jwks.json", issuer=ISSUER, audience=AUDIENCE)


def test_alg_none_is_refused_without_fetching_keys(jwks: Jwks) -> None:
    header = {"alg": "none", "typ": "at+jwt", "kid": "k1"}
    [refused] = jwks.verify(f"{b64(header)}.{b64(claims().as_dict())}.")
    assert isinstance(refused, InvalidToken) and jwks.fetches == 0


def test_hs256_signed_with_the_public_key_is_refused(jwks: Jwks, key: ECKey) -> None:
    secret = OctKey.import_key(json.dumps(public(key)))
    forged = jwt.encode({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, claims().as_dict(), secret, ["HS256"])
    [refused] = jwks.verify(forged)
    assert isinstance(refused, InvalidToken)


def test_symmetric_and_unfit_keys_in_the_jwks_are_ignored(key: ECKey) -> None:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa"})
    document = {
        "keys": [
            {"kty": "oct", "kid": "k1", "k": "c2VjcmV0"},
            public(rsa),
            public(key) | {"kid": "encryption", "use": "enc"},
            public(key) | {"kid": "other-alg", "alg": "ES384"},
            {k: v for k, v in public(key).items() if k != "kid"},
            public(key) | {"kid": "broken", "x": "not-a-point"},
            "not a key",
            public(key),
        ]
    }
    assert [k.kid for k in usable_keys(document, ["ES256"])] == ["k1"]
    assert [k.kid for k in usable_keys(document, ["RS256"])] == ["rsa"]


def test_keys_whose_members_have_the_wrong_json_types_are_ignored(key: ECKey) -> None:
    # Found by fuzzing (tests/unit/test_fuzz_parsers.py): a list `kty` raised TypeError, a 500 at the resource server.
    odd = [{"kty": ["EC"]}, {"kty": {"EC": 1}}, {"use": ["sig"]}, {"alg": ["ES256"]}, {"kid": ["k1"]}, {"crv": 5}]
    odd += [{"crv": ""}, {"crv": "P-999"}]  # an unknown curve raised KeyError inside joserfc (found by fuzzing too)
    document = {"keys": [public(key) | {"kid": f"odd-{n}"} | change for n, change in enumerate(odd)] + [public(key)]}
    assert [k.kid for k in usable_keys(document, ["ES256"])] == ["k1"]


def test_an_unknown_kid_refetches_at_most_once_per_interval(jwks: Jwks, key: ECKey) -> None:
    stranger = jwt_access.new_signing_key("stranger")
    valid, unknown = jwt_access.sign(claims(), key), jwt_access.sign(claims(), stranger)

    async def scenario(verifier: JwtVerifier) -> None:
        await verifier.verify(valid)
        assert jwks.fetches == 1
        for expected_fetches in (1, 2, 3):  # just fetched; then 10 s later; then 10 s later again
            for _ in range(5):
                with pytest.raises(InvalidToken):
                    await verifier.verify(unknown)
            assert jwks.fetches == expected_fetches
            jwks.clock.advance(10)
        await verifier.verify(valid)
        assert jwks.fetches == 3

    jwks.run(scenario)


def test_a_rotated_in_key_is_found_by_refetching(jwks: Jwks, key: ECKey) -> None:
    successor = jwt_access.new_signing_key("k2")

    async def scenario(verifier: JwtVerifier) -> None:
        await verifier.verify(jwt_access.sign(claims(), key))
        jwks.keys.append(public(successor))
        jwks.clock.advance(10)
        info = await verifier.verify(jwt_access.sign(claims(issued_at=START + 10), successor))
        assert info.client_id == "client-1" and jwks.fetches == 2

    jwks.run(scenario)


def test_keys_are_refetched_after_the_ttl(jwks: Jwks, key: ECKey) -> None:
    token = jwt_access.sign(claims(), key)

    async def scenario(verifier: JwtVerifier) -> None:
        await verifier.verify(token)
        jwks.clock.advance(99)
        await verifier.verify(token)
        assert jwks.fetches == 1
        jwks.clock.advance(1)
        await verifier.verify(token)
        assert jwks.fetches == 2

    jwks.run(scenario, jwks_ttl=100)


def test_a_key_reusing_a_known_kid_fails_the_signature(jwks: Jwks) -> None:
    impostor = jwt_access.new_signing_key("k1")
    [refused] = jwks.verify(jwt_access.sign(claims(), impostor))
    assert isinstance(refused, InvalidToken) and jwks.fetches == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer": "https://evil.example"},
        {"audience": "https://other-api.example"},
        {"client_id": ""},
        {"expires_at": START - 31},
        {"issued_at": START + 31},
    ],
    ids=["wrong iss", "wrong aud", "no client_id", "expired beyond leeway", "issued in the future"],
)
def test_wrong_claims_are_refused(jwks: Jwks, key: ECKey, changes: dict[str, Any]) -> None:
    [refused] = jwks.verify(jwt_access.sign(claims(**changes), key))
    assert isinstance(refused, InvalidToken)


def test_expiry_within_the_leeway_is_accepted(jwks: Jwks, key: ECKey) -> None:
    token = jwt_access.sign(claims(issued_at=START - 100, expires_at=START - 29), key)
    [info] = jwks.verify(token)
    assert isinstance(info, TokenInfo)
    [refused] = jwks.verify(token, leeway=0)
    assert isinstance(refused, InvalidToken)


@pytest.mark.parametrize("typ", ["JWT", "jwt", None])
def test_a_token_that_is_not_typed_at_jwt_is_refused(jwks: Jwks, key: ECKey, typ: str | None) -> None:
    header = {"alg": "ES256", "kid": "k1"} | ({"typ": typ} if typ else {})
    token = jwt.encode(header, claims().as_dict(), key, ["ES256"], default_type=None)
    [refused] = jwks.verify(token)
    assert isinstance(refused, InvalidToken)


def test_an_unreachable_jwks_is_unavailable_not_invalid(jwks: Jwks, key: ECKey) -> None:
    token = jwt_access.sign(claims(), key)
    for status, body in ((500, None), (200, b"<html>"), (200, b'{"keys": "none"}'), (404, None)):
        jwks.status, jwks.body = status, body
        with pytest.raises(VerifierUnavailable) as caught:
            jwks.verify(token)
        assert caught.value.status == 503 and caught.value.error == "temporarily_unavailable"


def test_keys_already_known_outlive_a_failing_jwks(jwks: Jwks, key: ECKey) -> None:
    token = jwt_access.sign(claims(expires_at=START + 7200), key)

    async def scenario(verifier: JwtVerifier) -> None:
        await verifier.verify(token)
        jwks.status = 503
        jwks.clock.advance(400)  # past the keys' ttl: a refetch is tried and fails
        await verifier.verify(token)
        await verifier.verify(token)
        assert jwks.fetches == 2  # the failed try counts against the refetch interval too

    jwks.run(scenario)


def test_a_failed_first_fetch_is_retried_after_the_interval(jwks: Jwks, key: ECKey) -> None:
    token = jwt_access.sign(claims(), key)

    async def scenario(verifier: JwtVerifier) -> TokenInfo:
        jwks.status = 502
        for _ in range(3):
            with pytest.raises(VerifierUnavailable):
                await verifier.verify(token)
        assert jwks.fetches == 1
        jwks.status = 200
        jwks.clock.advance(10)
        return await verifier.verify(token)

    assert jwks.run(scenario).client_id == "client-1"


@pytest.fixture
def signatures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature and claims jwt_access.verify checked, in order."""
    checked: list[str] = []
    real = jwt_access.verify

    def counting(token: str, *args: Any, **kwargs: Any) -> AccessClaims:
        checked.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt_access, "verify", counting)
    return checked


def test_a_token_that_passed_is_not_checked_in_full_again(jwks: Jwks, key: ECKey, signatures: list[str]) -> None:
    token = jwt_access.sign(claims(), key)
    infos = jwks.verify(token, token, token)
    assert infos == [TokenInfo("client-1", "user-1", ("read:account", "write:notes"), START + 3600)] * 3
    assert signatures == [token]
    assert len(jwks.verify(token, token, token, remembered=0)) == 3 and signatures == [token] * 4


def test_a_remembered_token_expires_like_any_other(jwks: Jwks, key: ECKey) -> None:
    token = jwt_access.sign(claims(expires_at=START + 60), key)

    async def scenario(verifier: JwtVerifier) -> None:
        await verifier.verify(token)
        jwks.clock.advance(60 + 29)  # within the 30 s leeway
        await verifier.verify(token)
        jwks.clock.advance(1)
        with pytest.raises(InvalidToken, match="expired"):
            await verifier.verify(token)

    jwks.run(scenario)


def test_a_remembered_token_is_refused_once_its_key_leaves_the_jwks(jwks: Jwks, key: ECKey) -> None:
    successor = jwt_access.new_signing_key("k2")
    token = jwt_access.sign(claims(expires_at=START + 7200), key)

    async def scenario(verifier: JwtVerifier) -> None:
        await verifier.verify(token)
        jwks.keys[:] = [public(successor)]  # k1 retired
        jwks.clock.advance(299)
        await verifier.verify(token)  # the keys are not refetched before their ttl, with or without memory
        jwks.clock.advance(1)
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(token)
        assert jwks.fetches == 2

    jwks.run(scenario)


def test_a_different_token_is_never_taken_for_a_remembered_one(jwks: Jwks, key: ECKey, signatures: list[str]) -> None:
    token = jwt_access.sign(claims(), key)
    head, body, signature = token.split(".")
    forged = ".".join((head, b64(claims(scope="admin").as_dict()), signature))
    first, refused = jwks.verify(token, forged)
    assert isinstance(first, TokenInfo) and isinstance(refused, InvalidToken)
    assert signatures == [token, forged]


def test_memory_is_bounded_and_forgets_the_oldest(jwks: Jwks, key: ECKey, signatures: list[str]) -> None:
    one, two, three = (jwt_access.sign(claims(jwt_id=f"jti-{n}"), key) for n in (1, 2, 3))
    jwks.verify(one, two, three, three, two, one, remembered=2)
    assert signatures == [one, two, three, one]


def test_confirm_with_is_asked_every_time(jwks: Jwks, key: ECKey, signatures: list[str]) -> None:
    token = jwt_access.sign(claims(), key)
    asked: list[str] = []

    class Revoked:
        async def verify(self, token: str) -> TokenInfo:
            asked.append(token)
            if len(asked) > 1:
                raise InvalidToken("revoked")
            return TokenInfo("client-1", "user-1", (), START + 3600)

    first, second = jwks.verify(token, token, confirm_with=Revoked())
    assert isinstance(first, TokenInfo) and isinstance(second, InvalidToken)
    assert asked == [token, token] and signatures == [token]
