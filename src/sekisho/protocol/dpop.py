"""DPoP proofs (RFC 9449): every check of §4.3, the access token hash `ath`, and stateless server nonces.

Sans-I/O: the caller passes the request's method and URL, the time, and the nonce secret; the single use of a
proof's `jti` is the caller's (a store shared by every server), keyed by `replay_key`. joserfc does the
cryptography.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import ExceededSizeError, JoseError
from joserfc.jwk import ECKey, JWKRegistry

from sekisho.errors import InvalidDPoPProof, InvalidRequest, UseDPoPNonce
from sekisho.protocol import resources

TYPE: Final = "dpop+jwt"
# Asymmetric only: `none` and HMAC can prove no key (RFC 9449 §4.3 step 5). Not EdDSA: joserfc warns it is
# deprecated by RFC 9864, whose `Ed25519` name clients do not send yet.
ALGORITHMS: Final = ("ES256",)
LEEWAY: Final = 60  # seconds: a proof's `iat` may be this far behind or ahead of the server's clock
MAX_PROOF_LENGTH: Final = 8192  # characters; a proof with an EC or OKP key is about 500
MAX_JTI_LENGTH: Final = 256
NONCE_STEP: Final = 300  # seconds: a server nonce is accepted in its step and the next one
_THUMBPRINT: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_CURVES: Final = {"ES256": (ECKey, "P-256")}
# RFC 7518 §6.2.2, §6.3.2 and RFC 8037 §2: the members only a private key has.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(frozen=True, slots=True)
class Proof:
    """A checked proof: `jkt` is the RFC 7638 thumbprint of its key (what a token is bound to)."""

    jkt: str
    jti: str
    issued_at: int
    nonce: str | None

    @property
    def replay_key(self) -> str:
        """The digest a replay store keeps for this proof: its `jti` under its key, so one key's proofs cannot
        use up another's identifiers."""
        return hashlib.sha256(f"{self.jkt}\n{self.jti}".encode()).hexdigest()


def access_token_hash(access_token: str) -> str:
    """RFC 9449 §4.2 `ath`: BASE64URL(SHA-256(ASCII(access token)))."""
    return _b64(hashlib.sha256(access_token.encode("ascii")).digest())


def target_uri(url: str) -> str:
    """The `htu` a request at `url` expects: without query and fragment, as RFC 3986 §6.2.2-6.2.3 compares it."""
    parts = urlsplit(url)
    return resources.canonical(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))


def check_jkt(value: str | None) -> str | None:
    """An authorization request's `dpop_jkt` (RFC 9449 §10): an RFC 7638 SHA-256 thumbprint, 43 base64url
    characters, or None."""
    if value is not None and not _THUMBPRINT.fullmatch(value):
        raise InvalidRequest("dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)")
    return value


def one_header(values: Sequence[str]) -> str | None:
    """The single `DPoP` header value of a request, None without one; two or more are refused (§4.3 step 1)."""
    if not values:
        return None
    if len(values) > 1:
        raise InvalidDPoPProof("a request must carry exactly one DPoP header")
    return values[0]


def check(
    proof: str,
    *,
    method: str,
    url: str,
    now: int,
    access_token: str | None = None,
    nonce_secret: bytes | None = None,
    algorithms: Sequence[str] = ALGORITHMS,
    leeway: int = LEEWAY,
) -> Proof:
    """Every check of RFC 9449 §4.3 but the `jti`'s single use; `access_token`: the token the request presents
    (its hash must be `ath`); `nonce_secret`: a nonce from `new_nonce` is required. `InvalidDPoPProof` or
    `UseDPoPNonce` otherwise."""
    header, payload, key = _verify(proof, algorithms)
    claims = _claims(payload)
    if claims["htm"] != method.upper():
        raise InvalidDPoPProof("the DPoP proof's htm is not the request's method")
    if not isinstance(claims["htu"], str) or target_uri(claims["htu"]) != target_uri(url):
        raise InvalidDPoPProof("the DPoP proof's htu is not the request's URL")
    if abs(claims["iat"] - now) > leeway:
        raise InvalidDPoPProof("the DPoP proof's iat is outside the accepted window")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
            raise InvalidDPoPProof("the DPoP proof's ath does not match the access token")
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidDPoPProof("the DPoP proof's nonce is not a string")
    if nonce_secret is not None and (nonce is None or not nonce_valid(nonce, nonce_secret, now)):
        raise UseDPoPNonce("a DPoP proof with the nonce from the DPoP-Nonce header is required")
    return Proof(jkt=key.thumbprint(), jti=claims["jti"], issued_at=claims["iat"], nonce=nonce)


def sign(
    key: ECKey,
    *,
    method: str,
    url: str,
    now: int,
    jti: str,
    access_token: str | None = None,
    nonce: str | None = None,
) -> str:
    """A proof (RFC 9449 §4.2) for a request at `url`, signed with a private P-256 `key` (ES256), its public part
    in the header; what a client sends."""
    header = {"typ": TYPE, "alg": "ES256", "jwk": key.as_dict(private=False)}
    claims: dict[str, Any] = {"jti": jti, "htm": method.upper(), "htu": target_uri(url), "iat": now}
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return jws.serialize_compact(header, payload, key, algorithms=["ES256"])


def new_nonce(secret: bytes, now: int) -> str:
    """A server nonce (RFC 9449 §8): the time step and an HMAC of it under the server's secret; no state kept.
    It rotates every `NONCE_STEP` seconds."""
    step = (now // NONCE_STEP).to_bytes(8, "big")
    return _b64(step + _mac(secret, step))


def nonce_valid(nonce: str, secret: bytes, now: int) -> bool:
    """Whether `nonce` is one `new_nonce` made with `secret` in this time step or the previous one."""
    try:
        raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    except (ValueError, UnicodeError):
        return False
    step, mac = raw[:8], raw[8:]
    if len(step) != 8 or not hmac.compare_digest(mac, _mac(secret, step)):
        return False
    return 0 <= now // NONCE_STEP - int.from_bytes(step, "big") <= 1


def _verify(proof: str, algorithms: Sequence[str]) -> tuple[dict[str, Any], bytes, ECKey]:
    if not isinstance(proof, str) or len(proof) > MAX_PROOF_LENGTH or proof.count(".") != 2:
        raise InvalidDPoPProof("the DPoP proof is not a compact JWS")
    try:
        header = jws.extract_compact(proof.encode("ascii")).protected
    except ExceededSizeError:  # joserfc's limit on a header: an EC or OKP key fits well within it
        raise InvalidDPoPProof("the DPoP proof's header is too large") from None
    except (JoseError, ValueError, TypeError, UnicodeError) as error:
        raise InvalidDPoPProof("the DPoP proof is not a compact JWS", detail=str(error)) from None
    if not isinstance(header, dict) or header.get("typ") != TYPE:
        raise InvalidDPoPProof("the DPoP proof's typ must be dpop+jwt")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in _CURVES:
        raise InvalidDPoPProof("the DPoP proof's alg is not supported: use " + " or ".join(algorithms))
    key = _public_key(header.get("jwk"), alg)
    try:
        payload = jws.deserialize_compact(proof, key, algorithms=[alg]).payload
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidDPoPProof("the DPoP proof's signature is not valid", detail=str(error)) from None
    return header, payload, key


def _public_key(jwk: object, alg: str) -> ECKey:
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("the DPoP proof's header lacks its jwk")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise InvalidDPoPProof("the DPoP proof's jwk must be a public key")
    kind, curve = _CURVES[alg]
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise InvalidDPoPProof("the DPoP proof's jwk is not a valid key", detail=str(error)) from None
    if not isinstance(key, kind) or jwk.get("crv") != curve:
        raise InvalidDPoPProof(f"the DPoP proof's jwk is not a {curve} key, as {alg} needs")
    return key


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except (ValueError, UnicodeError):
        raise InvalidDPoPProof("the DPoP proof's payload is not JSON") from None
    if not isinstance(claims, dict):
        raise InvalidDPoPProof("the DPoP proof's payload is not a JSON object")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise InvalidDPoPProof("the DPoP proof lacks a jti")
    if not isinstance(claims.get("htm"), str) or not isinstance(claims.get("htu"), str):
        raise InvalidDPoPProof("the DPoP proof lacks htm or htu")
    if type(claims.get("iat")) is not int:
        raise InvalidDPoPProof("the DPoP proof lacks an integer iat")
    return claims


def _mac(secret: bytes, step: bytes) -> bytes:
    return hmac.new(secret, b"dpop-nonce\n" + step, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
