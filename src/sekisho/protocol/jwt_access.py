"""RFC 9068 JWT access tokens: the claims, signing, and every check a resource server must make.

Sans-I/O: the caller passes the time, the keys and the token id. joserfc does the cryptography.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from sekisho.errors import InvalidToken
from sekisho.protocol import bearer, resources

ALGORITHM: Final = "ES256"
TYPE: Final = "at+jwt"
MAX_TOKEN_LENGTH: Final = bearer.MAX_TOKEN_LENGTH  # characters, as for any bearer token; sekisho's are about 600
MAX_LEEWAY: Final = 300  # seconds of clock skew a verifier may allow, at most
_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §4, compared case-insensitively


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The claims of RFC 9068 §2.2 that sekisho writes and checks."""

    issuer: str
    subject: str
    audience: str | tuple[str, ...]  # RFC 7519 §4.1.3: one, or several (RFC 8707 §2)
    client_id: str
    scope: str
    issued_at: int
    expires_at: int
    jwt_id: str
    jkt: str | None = None  # RFC 9449 §6.1: `cnf.jkt`, the thumbprint of the DPoP key the token is bound to

    def as_dict(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.audience if isinstance(self.audience, str) else list(self.audience),
            "client_id": self.client_id,
            "scope": self.scope,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "jti": self.jwt_id,
        }
        if self.jkt is not None:
            claims["cnf"] = {"jkt": self.jkt}
        return claims


def new_signing_key(kid: str | None = None) -> ECKey:
    """A fresh P-256 key for ES256, named `kid` or else by its RFC 7638 thumbprint."""
    parameters: dict[str, str] = {"use": "sig", "alg": ALGORITHM}
    if kid is not None:
        parameters["kid"] = kid
    return ECKey.generate_key("P-256", parameters=parameters, auto_kid=kid is None)  # type: ignore[arg-type]


def sign(claims: AccessClaims, key: ECKey) -> str:
    """The compact JWS of RFC 9068 §2.1: `typ: at+jwt`, `alg`, and the key's `kid`, signed by joserfc's `jws`
    (the claims are plain JSON types, so `jwt.encode`'s claim conversion has nothing to do)."""
    header = {"typ": TYPE, "alg": ALGORITHM, "kid": key.kid}
    payload = json.dumps(claims.as_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    return jws.serialize_compact(header, payload, key, algorithms=[ALGORITHM])


def unverified_header(token: str) -> dict[str, Any]:
    """The protected header, read without checking anything else; `InvalidToken` if it is not a JWS."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("the access token is too large")
    try:
        header = jws.extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, TypeError, UnicodeError) as error:
        raise InvalidToken("the access token is not a JWT", detail=str(error)) from None
    if not isinstance(header, dict):
        raise InvalidToken("the access token is not a JWT")
    return header


def verify(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    now: int,
    leeway: int = 0,
    algorithms: Collection[str] = (ALGORITHM,),
) -> AccessClaims:
    """Check signature, `typ`, `alg`, `iss`, `aud`, `exp`, `iat` and the claim types; `InvalidToken` otherwise."""
    header = unverified_header(token)
    if str(header.get("typ", "")).lower() not in _TYPES:
        raise InvalidToken("the token is not an access token (typ must be at+jwt)")
    if header.get("alg") not in algorithms:
        raise InvalidToken("the token is signed with an algorithm this server does not accept")
    if not isinstance(header.get("kid"), str) or header["kid"] not in {key.kid for key in keys}:
        raise InvalidToken("the token is signed with an unknown key")
    try:
        decoded = jwt.decode(token, keys, algorithms=list(algorithms))
    except (JoseError, ValueError, TypeError, json.JSONDecodeError) as error:
        raise InvalidToken("the access token's signature is not valid", detail=str(error)) from None
    return _check_claims(decoded.claims, issuer=issuer, audience=audience, now=now, leeway=leeway)


def _check_claims(claims: Mapping[str, Any], *, issuer: str, audience: str, now: int, leeway: int) -> AccessClaims:
    strings = {name: claims.get(name) for name in ("iss", "sub", "client_id", "jti")}
    if not all(isinstance(value, str) and value for value in strings.values()):
        raise InvalidToken("the access token lacks iss, sub, client_id or jti")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidToken("the access token's scope is not a string")
    times = {name: claims.get(name) for name in ("exp", "iat")}
    if not all(type(value) is int for value in times.values()):
        raise InvalidToken("the access token lacks exp or iat")
    expires_at, issued_at = int(claims["exp"]), int(claims["iat"])
    if claims["iss"] != issuer:
        raise InvalidToken("the access token comes from another issuer")
    audiences = claims.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise InvalidToken("the access token is meant for another audience")
    if not resources.names(audiences, audience):  # RFC 8707: a resource URL, as RFC 3986 compares it
        raise InvalidToken("the access token is meant for another audience")
    if expires_at + leeway <= now:
        raise InvalidToken("the access token has expired")
    if issued_at - leeway > now:
        raise InvalidToken("the access token was issued in the future")
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if cnf is not None and not isinstance(jkt, str):
        raise InvalidToken("the access token's cnf names no DPoP key")
    nbf = claims.get("nbf")
    if nbf is not None and (type(nbf) is not int or nbf - leeway > now):
        raise InvalidToken("the access token is not valid yet")
    return AccessClaims(
        issuer=issuer,
        subject=claims["sub"],
        audience=claims["aud"] if isinstance(claims["aud"], str) else tuple(audiences),
        client_id=claims["client_id"],
        scope=scope,
        issued_at=issued_at,
        expires_at=expires_at,
        jwt_id=claims["jti"],
        jkt=jkt,
    )
