"""DPoP (RFC 9449) on the client: one ES256 key per account, a fresh proof for each request, and the last nonce each
server gave (§8, §9), remembered for the next proof. joserfc makes the key and the signature."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Final
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from sekisho.protocol import dpop

ALGORITHM: Final = "ES256"
CURVE: Final = "P-256"
JTI_BYTES: Final = 16
NONCE_HEADER: Final = "DPoP-Nonce"
MAX_NONCE: Final = 512  # characters of a server's nonce kept at most; a longer one is ignored


def new_key() -> ECKey:
    """A fresh private P-256 key for one account's proofs."""
    return ECKey.generate_key(CURVE, private=True)


def key_to_json(key: ECKey) -> dict[str, Any]:
    """The private key as a JWK, for the account's 0600 file and nowhere else."""
    return dict(key.as_dict(private=True))


def key_from_json(data: object) -> ECKey:
    """The inverse of `key_to_json`; `ValueError` if it is not a private P-256 key."""
    if not isinstance(data, dict) or data.get("kty") != "EC" or data.get("crv") != CURVE or "d" not in data:
        raise ValueError("dpop_key is not a private P-256 JWK")
    try:
        key = ECKey.import_key(data)
    except (JoseError, ValueError, TypeError) as error:
        raise ValueError(f"dpop_key is not a valid key ({type(error).__name__})") from None
    if not key.is_private:
        raise ValueError("dpop_key is not a private P-256 JWK")
    return key


def offered(algorithms: tuple[str, ...]) -> bool:
    """Whether a server advertising `dpop_signing_alg_values_supported` takes this client's proofs."""
    return ALGORITHM in algorithms


def origin(url: str) -> str:
    """The server a nonce belongs to: scheme and authority (RFC 9449 §8: a nonce is the server's)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class Prover:
    """Signs proofs with one key; `nonces` (shared between provers, by origin) holds each server's last nonce."""

    def __init__(
        self,
        key: ECKey,
        nonces: MutableMapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.nonces: MutableMapping[str, str] = {} if nonces is None else nonces
        self._clock = clock

    def __repr__(self) -> str:
        return f"Prover(jkt={self.jkt!r})"  # never the private key

    @property
    def jkt(self) -> str:
        """RFC 7638 thumbprint: what `dpop_jkt` names and what tokens get bound to (`cnf.jkt`)."""
        return self.key.thumbprint()

    def proof(self, method: str, url: str, *, access_token: str | None = None) -> str:
        """RFC 9449 §4.2: `htm`, `htu` (without query and fragment), `iat`, a random `jti`, the server's last nonce,
        and `ath` when the request presents `access_token`."""
        return dpop.sign(
            self.key,
            method=method,
            url=url,
            now=int(self._clock()),
            jti=secrets.token_urlsafe(JTI_BYTES),
            access_token=access_token,
            nonce=self.nonces.get(origin(url)),
        )

    def remember(self, url: str, headers: Mapping[str, str]) -> bool:
        """Keep the `DPoP-Nonce` of a response from `url` for the next proof to that server (§8.2: any response
        may bring one); whether it brought a usable one."""
        nonce = headers.get(NONCE_HEADER)
        if not nonce or len(nonce) > MAX_NONCE or not nonce.isascii() or not nonce.isprintable():
            return False
        self.nonces[origin(url)] = nonce
        return True
