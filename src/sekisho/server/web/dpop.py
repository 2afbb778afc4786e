"""DPoP (RFC 9449) at the token endpoint and the pushed authorization request endpoint (§10.1): the request's proof
checked (protocol.dpop), its `jti` used once across every server on the database (store `Proofs`), and the server
nonce when `serve --dpop-nonce` asks for one."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request

from sekisho.errors import InvalidDPoPProof, UseDPoPNonce
from sekisho.protocol import dpop
from sekisho.server.entities import Client
from sekisho.server.web.requests import AppState


def public_url(issuer: str, request: Request) -> str:
    """The URL the client sent the request to, as the issuer names the server (behind a proxy, the request's own
    scheme and host are the proxy's): the issuer's scheme and authority, the request's path."""
    parts = urlsplit(issuer)
    return urlunsplit((parts.scheme, parts.netloc, request.url.path, "", ""))


async def token_request_key(request: Request, app: AppState, client: Client, now: int) -> str | None:
    """The thumbprint of the key the request's DPoP proof is made with, once the proof is checked and its `jti`
    recorded; None without a proof, which a client registered with `--require-dpop` must send."""
    jkt = await request_key(request, app, now)
    if jkt is None and client.require_dpop:
        raise InvalidDPoPProof("this client must send a DPoP proof (RFC 9449)")
    return jkt


async def request_key(request: Request, app: AppState, now: int) -> str | None:
    """The thumbprint of the key of the request's DPoP proof, checked (with the server's nonce when required) and
    its `jti` recorded; None without a proof."""
    value = dpop.one_header(request.headers.getlist("dpop"))
    if value is None:
        return None
    secret = app.dpop_secret if app.settings.dpop_nonce else None
    try:
        proof = dpop.check(
            value, method=request.method, url=public_url(app.settings.issuer, request), now=now, nonce_secret=secret
        )
    except UseDPoPNonce as error:
        error.nonce = dpop.new_nonce(app.dpop_secret, now)
        raise
    # §11.1: a proof is good once; kept until its iat is out of the window, past which it is refused anyway
    if not await app.store.proofs.use(proof.replay_key, proof.issued_at + dpop.LEEWAY + 1):
        raise InvalidDPoPProof("the DPoP proof was used before (its jti)")
    return proof.jkt


def nonce_header(app: AppState, now: int) -> dict[str, str]:
    """The DPoP-Nonce a response carries when nonces are required, so the client's next proof has a fresh one."""
    if not app.settings.dpop_nonce:
        return {}
    return {"DPoP-Nonce": dpop.new_nonce(app.dpop_secret, now), "Access-Control-Expose-Headers": "DPoP-Nonce"}
