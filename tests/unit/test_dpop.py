"""sekisho.protocol.dpop: every proof defect of RFC 9449 §4.3 refused with the right error."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from sekisho.errors import InvalidDPoPProof, UseDPoPNonce
from sekisho.protocol import dpop

NOW = 1_800_000_000
URL = "https://as.example/oauth/token"
TOKEN = "an-access-token"
SECRET = b"s" * 32
KEY = ECKey.generate_key("P-256", auto_kid=False)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _proof(
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    key: Any = KEY,
    alg: str = "ES256",
    drop: tuple[str, ...] = (),
) -> str:
    h: dict[str, Any] = {"typ": "dpop+jwt", "alg": alg, "jwk": KEY.as_dict(private=False)}
    h.update(header or {})
    c: dict[str, Any] = {"jti": "j1", "htm": "POST", "htu": URL, "iat": NOW}
    c.update(claims or {})
    for name in drop:
        h.pop(name, None)
        c.pop(name, None)
    return jws.serialize_compact(h, json.dumps(c).encode(), key, algorithms=[alg])


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _resigned_by_other_key() -> str:
    other = ECKey.generate_key("P-256")
    return _proof(key=other)  # the header names KEY's public part, the signature is other's


def _private_jwk() -> str:
    return _proof(header={"jwk": KEY.as_dict(private=True)})


def _hs256() -> str:
    secret = OctKey.generate_key(256)
    return _proof(header={"jwk": secret.as_dict(private=False)}, key=secret, alg="HS256")


def _rs256() -> str:
    rsa = RSAKey.generate_key(2048)
    return _proof(header={"jwk": rsa.as_dict(private=False)}, key=rsa, alg="RS256")


def _es384() -> str:
    p384 = ECKey.generate_key("P-384")
    return _proof(header={"jwk": p384.as_dict(private=False)}, key=p384, alg="ES384")


def _eddsa() -> str:
    ed = OKPKey.generate_key("Ed25519")
    return _unsigned({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": ed.as_dict(private=False)}, {})


def _ed_key_as_es256() -> str:
    ed = OKPKey.generate_key("Ed25519")
    return _proof(header={"jwk": ed.as_dict(private=False)})


DEFECTS: list[tuple[str, Callable[[], str], str]] = [
    ("not a JWS", lambda: "not-a-jwt", "compact JWS"),
    ("JSON serialization", lambda: json.dumps({"payload": "x"}), "compact JWS"),
    ("typ missing", lambda: _proof(drop=("typ",)), "typ"),
    ("typ JWT", lambda: _proof(header={"typ": "JWT"}), "typ"),
    ("typ at+jwt", lambda: _proof(header={"typ": "at+jwt"}), "typ"),
    ("alg none", lambda: _unsigned({"typ": "dpop+jwt", "alg": "none", "jwk": KEY.as_dict(private=False)}, {}), "alg"),
    ("alg HS256", _hs256, "alg"),
    ("alg RS256 (an RSA key's header is too large)", _rs256, "too large"),
    ("alg ES384 (not supported)", _es384, "alg"),
    ("alg EdDSA (not supported)", _eddsa, "alg"),
    ("jwk missing", lambda: _proof(drop=("jwk",)), "jwk"),
    ("jwk private", _private_jwk, "public key"),
    ("jwk not an object", lambda: _unsigned({"typ": "dpop+jwt", "alg": "ES256", "jwk": "key"}, {}), "jwk"),
    ("jwk of another curve", _ed_key_as_es256, "P-256"),
    ("signature by another key", _resigned_by_other_key, "signature"),
    ("jti missing", lambda: _proof(drop=("jti",)), "jti"),
    ("jti empty", lambda: _proof(claims={"jti": ""}), "jti"),
    ("jti too long", lambda: _proof(claims={"jti": "j" * 300}), "jti"),
    ("htm missing", lambda: _proof(drop=("htm",)), "htm"),
    ("htm GET", lambda: _proof(claims={"htm": "GET"}), "htm"),
    ("htm lower case", lambda: _proof(claims={"htm": "post"}), "htm"),
    ("htu missing", lambda: _proof(drop=("htu",)), "htu"),
    ("htu other path", lambda: _proof(claims={"htu": "https://as.example/oauth/other"}), "htu"),
    ("htu other host", lambda: _proof(claims={"htu": "https://evil.example/oauth/token"}), "htu"),
    ("htu http", lambda: _proof(claims={"htu": "http://as.example/oauth/token"}), "htu"),
    ("iat missing", lambda: _proof(drop=("iat",)), "iat"),
    ("iat string", lambda: _proof(claims={"iat": str(NOW)}), "iat"),
    ("iat too old", lambda: _proof(claims={"iat": NOW - 61}), "iat"),
    ("iat in the future", lambda: _proof(claims={"iat": NOW + 61}), "iat"),
    ("payload not an object", lambda: jws.serialize_compact(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.as_dict(private=False)}, b"[1]", KEY, algorithms=["ES256"]
    ), "JSON object"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "words"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_defect_refused(name: str, make: Callable[[], str], words: str) -> None:
    with pytest.raises(InvalidDPoPProof) as caught:
        dpop.check(make(), method="POST", url=URL, now=NOW)
    assert caught.value.error == "invalid_dpop_proof"
    assert words in caught.value.description


@given(st.dictionaries(st.sampled_from(["typ", "alg", "jwk", "kid", "crit"]), JSON, max_size=4), JSON)
@settings(max_examples=300, deadline=None)
def test_any_header_and_payload_is_refused_cleanly(header: dict[str, Any], payload: Any) -> None:
    """Whatever JSON a forged proof holds, the answer is an RFC error, never another exception."""
    base = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.as_dict(private=False)}
    signed = jws.serialize_compact(base, json.dumps(payload).encode(), KEY, algorithms=["ES256"])
    for proof in (_unsigned({**base, **header}, payload), _unsigned(header, payload), signed):
        with pytest.raises((InvalidDPoPProof, UseDPoPNonce)):
            dpop.check(proof, method="POST", url=URL, now=NOW, nonce_secret=SECRET)


def test_valid_proof_gives_the_thumbprint() -> None:
    proof = dpop.check(_proof(), method="POST", url=URL, now=NOW)
    assert proof.jkt == KEY.thumbprint()
    assert proof.jti == "j1"


def test_htu_compared_without_query_and_normalised() -> None:
    proof = _proof(claims={"htu": "HTTPS://AS.example:443/oauth/token"})
    assert dpop.check(proof, method="post", url=URL + "?x=1#f", now=NOW).jkt == KEY.thumbprint()


def test_iat_window_edges_accepted() -> None:
    for iat in (NOW - 60, NOW + 60):
        dpop.check(_proof(claims={"iat": iat}), method="POST", url=URL, now=NOW)


def test_get_with_query_accepted() -> None:
    proof = dpop.sign(KEY, method="GET", url="https://rs.example/api?q=1", now=NOW, jti="e")
    assert dpop.check(proof, method="GET", url="https://rs.example/api", now=NOW).jkt == KEY.thumbprint()


def test_ath_checked_when_a_token_is_presented() -> None:
    good = dpop.sign(KEY, method="GET", url=URL, now=NOW, jti="a", access_token=TOKEN)
    dpop.check(good, method="GET", url=URL, now=NOW, access_token=TOKEN)
    for proof in (_proof(claims={"htm": "GET"}), _proof(claims={"htm": "GET", "ath": dpop.access_token_hash("x")})):
        with pytest.raises(InvalidDPoPProof, match="ath"):
            dpop.check(proof, method="GET", url=URL, now=NOW, access_token=TOKEN)


def test_nonce_required_and_rotated() -> None:
    with pytest.raises(UseDPoPNonce):
        dpop.check(_proof(), method="POST", url=URL, now=NOW, nonce_secret=SECRET)
    nonce = dpop.new_nonce(SECRET, NOW)
    proof = _proof(claims={"nonce": nonce})
    assert dpop.check(proof, method="POST", url=URL, now=NOW, nonce_secret=SECRET).nonce == nonce
    assert dpop.nonce_valid(nonce, SECRET, NOW + dpop.NONCE_STEP)
    assert not dpop.nonce_valid(nonce, SECRET, NOW + 2 * dpop.NONCE_STEP + dpop.NONCE_STEP)
    assert not dpop.nonce_valid(nonce, b"other secret", NOW)
    assert not dpop.nonce_valid("garbage!", SECRET, NOW)
    assert dpop.new_nonce(SECRET, NOW) != dpop.new_nonce(SECRET, NOW + 2 * dpop.NONCE_STEP)
    with pytest.raises(UseDPoPNonce):
        dpop.check(_proof(claims={"nonce": "forged"}), method="POST", url=URL, now=NOW, nonce_secret=SECRET)


def test_one_header_only() -> None:
    assert dpop.one_header([]) is None
    assert dpop.one_header(["p"]) == "p"
    with pytest.raises(InvalidDPoPProof, match="exactly one"):
        dpop.one_header(["p", "q"])


def test_replay_key_depends_on_key_and_jti() -> None:
    a = dpop.check(_proof(), method="POST", url=URL, now=NOW)
    other = ECKey.generate_key("P-256")
    b = dpop.check(dpop.sign(other, method="POST", url=URL, now=NOW, jti="j1"), method="POST", url=URL, now=NOW)
    assert a.replay_key != b.replay_key and len(a.replay_key) == 64
