"""The scenarios: what each one sends, and what has to exist on the server before it can be sent."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode, urlsplit

import httpx
from joserfc.jwk import ECKey

from bench import mint
from bench.load import Request
from bench.targets import REDIRECT_URI, SCOPE, USERNAME, Seed, basic
from sekisho.protocol import dpop

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Target:
    """A running server as the workloads see it: sekisho (with the seed of its database) or the peer."""

    url: str
    folder: Path  # where request bodies and pools are written
    client_id: str  # a confidential client allowed client_credentials
    client_secret: str
    token_path: str
    introspection_path: str
    seed: Seed | None = None  # sekisho only: what the CLI registered (the scenario's database is a copy)
    user_id: str | None = None  # sekisho only: the seeded user's id
    database: str | None = None  # sekisho only: the scenario's database
    api_url: str | None = None  # where the protected API is, when not at `url` (bench/resource_api.py)

    @classmethod
    def of_sekisho(cls, url: str, folder: Path, seed: Seed, user_id: str, database: str) -> Target:
        """`sekisho serve` at `url` on `database`, seeded with `seed` (its service client calls the token path)."""
        return cls(
            url=url,
            folder=folder,
            client_id=seed.service_id,
            client_secret=seed.service_secret,
            token_path="/oauth/token",
            introspection_path="/oauth/introspect",
            seed=seed,
            user_id=user_id,
            database=database,
        )

    def sekisho(self) -> tuple[Seed, str, str]:
        """The seed, the user's id and the database URL; only sekisho has them."""
        if self.seed is None or self.user_id is None or self.database is None:
            raise RuntimeError("this workload needs sekisho (a seeded database)")
        return self.seed, self.user_id, self.database

    def write(self, name: str, content: str) -> Path:
        """A file for wrk to read, named after this server's port so that two servers never share one."""
        path = self.folder / f"{urlsplit(self.url).port}-{name}"
        path.write_text(content)
        return path


@dataclass(frozen=True)
class Workload:
    """`make(n)` gives the request for the next wrk run; pooled workloads mint `n` single-use secrets for it."""

    make: Callable[[int], Request]
    pooled: bool = False


def fixed(request: Request) -> Workload:
    """The same request for every run, tried once first."""
    check_once(request)
    return Workload(lambda _size: request)


def check_once(request: Request) -> httpx.Response:
    """Send the request once before wrk does, so a mistake shows as a clear error rather than 32 000 of them."""
    assert request.body is not None
    response = httpx.post(request.url, headers=request.headers, content=request.body.read_bytes(), timeout=30)
    if response.status_code != request.expect:
        raise RuntimeError(
            f"POST {request.url} answered {response.status_code}, not {request.expect}: {response.text[:300]}"
        )
    return response


# -------------------------------------------------------------------------------------------- the workloads


def client_credentials(target: Target) -> Workload:
    body = target.write("client_credentials.body", urlencode({"grant_type": "client_credentials", "scope": SCOPE}))
    headers = {"Authorization": basic(target.client_id, target.client_secret), "Content-Type": FORM}
    return fixed(Request(target.url + target.token_path, headers, body=body))


def introspection(target: Target) -> Workload:
    """Introspect one client_credentials token of the same client, over and over (a client's own token)."""
    auth = {"Authorization": basic(target.client_id, target.client_secret), "Content-Type": FORM}
    issued = httpx.post(
        target.url + target.token_path,
        headers=auth,
        content=urlencode({"grant_type": "client_credentials", "scope": SCOPE}),
        timeout=30,
    )
    issued.raise_for_status()
    body = target.write("introspect.body", urlencode({"token": issued.json()["access_token"]}))
    request = Request(target.url + target.introspection_path, auth, body=body)
    if check_once(request).json().get("active") is not True:
        raise RuntimeError(f"the token is not active at {request.url}")
    return Workload(lambda _size: request)


def refresh_rotation(target: Target) -> Workload:
    seed, user_id, database = target.sekisho()

    def make(size: int) -> Request:
        secrets, rows = mint.refresh_token_rows(database, user_id, seed.app_id, SCOPE, size)
        mint.insert(database, rows)
        lines = (
            urlencode({"grant_type": "refresh_token", "refresh_token": s, "client_id": seed.app_id}) for s in secrets
        )
        pool = target.write("refresh.pool", "\n".join(lines) + "\n")
        return Request(target.url + target.token_path, {"Content-Type": FORM}, pool=pool)

    return Workload(make, pooled=True)


def code_exchange(target: Target) -> Workload:
    seed, user_id, database = target.sekisho()

    def make(size: int) -> Request:
        codes = _mint_codes(database, seed, user_id, size)
        pool = target.write("code.pool", "\n".join(_exchange_body(seed, code) for code in codes) + "\n")
        return Request(target.url + target.token_path, {"Content-Type": FORM}, pool=pool)

    return Workload(make, pooled=True)


def _mint_codes(database: str, seed: Seed, user_id: str, count: int) -> list[str]:
    codes, rows = mint.code_rows(user_id, seed.app_id, REDIRECT_URI, SCOPE, count)
    mint.insert(database, rows)
    return codes


def _exchange_body(seed: Seed, code: str) -> str:
    return urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": seed.app_id,
            "code_verifier": mint.VERIFIER,
        }
    )


def protected_api(target: Target) -> Workload:
    """`POST /api/i` with the user's access token (opaque or JWT, as the server issues them), from a real
    code exchange."""
    seed, user_id, database = target.sekisho()
    (code,) = _mint_codes(database, seed, user_id, 1)
    exchanged = httpx.post(
        target.url + target.token_path, headers={"Content-Type": FORM}, content=_exchange_body(seed, code), timeout=30
    )
    exchanged.raise_for_status()
    headers = {"Authorization": f"Bearer {exchanged.json()['access_token']}", "Content-Type": "application/json"}
    api = target.api_url or target.url
    return fixed(Request(api + "/api/i", headers, body=target.write("api.body", "{}")))


def _proofs(key: ECKey, url: str, count: int, access_token: str | None = None) -> list[str]:
    """`count` DPoP proofs for POST `url`, each with its own jti, made now: good for 60 s (protocol.dpop.LEEWAY)."""
    now = int(time.time())
    return [
        dpop.sign(key, method="POST", url=url, now=now, jti=secrets.token_urlsafe(12), access_token=access_token)
        for _ in range(count)
    ]


def dpop_client_credentials(target: Target) -> Workload:
    """client_credentials with a DPoP proof per request: the proof checked, its jti recorded, a bound token."""
    url = target.url + target.token_path
    body = urlencode({"grant_type": "client_credentials", "scope": SCOPE})
    headers = {"Authorization": basic(target.client_id, target.client_secret), "Content-Type": FORM}
    key = ECKey.generate_key("P-256")
    (proof,) = _proofs(key, url, 1)
    tried = httpx.post(url, headers={**headers, "DPoP": proof}, content=body, timeout=30)
    if tried.status_code != 200 or tried.json().get("token_type") != "DPoP":
        raise RuntimeError(f"POST {url} with a DPoP proof answered {tried.status_code}: {tried.text[:300]}")

    def make(size: int) -> Request:
        pool = target.write("dpop_cc.pool", "".join(f"{proof}\t{body}\n" for proof in _proofs(key, url, size)))
        return Request(url, headers, pool=pool)

    return Workload(make, pooled=True)


def dpop_protected_api(target: Target) -> Workload:
    """`POST /api/i` with a DPoP-bound access token (from a code exchange with a proof) and a proof per request."""
    seed, user_id, database = target.sekisho()
    (code,) = _mint_codes(database, seed, user_id, 1)
    key = ECKey.generate_key("P-256")
    token_url = target.url + target.token_path
    exchanged = httpx.post(
        token_url,
        headers={"Content-Type": FORM, "DPoP": _proofs(key, token_url, 1)[0]},
        content=_exchange_body(seed, code),
        timeout=30,
    )
    exchanged.raise_for_status()
    token = exchanged.json()["access_token"]
    url = (target.api_url or target.url) + "/api/i"
    headers = {"Authorization": f"DPoP {token}", "Content-Type": "application/json"}

    def make(size: int) -> Request:
        lines = "".join(f"{proof}\t{{}}\n" for proof in _proofs(key, url, size, token))
        return Request(url, headers, pool=target.write("dpop_api.pool", lines))

    return Workload(make, pooled=True)


def password_login(target: Target) -> Workload:
    """`POST /login` with the right password: argon2id verification, a new session row, a 303.

    The CSRF token is a signed double-submit (HMAC of the cookie's value), stateless on the server, so one pair
    from one GET /login serves every request."""
    seed = target.sekisho()[0]
    page = httpx.get(target.url + "/login", timeout=30)
    page.raise_for_status()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    cookie = page.cookies.get("sekisho_csrf")
    if token is None or cookie is None:
        raise RuntimeError("GET /login gave no csrf_token field or sekisho_csrf cookie")
    form = {"username": USERNAME, "password": seed.password, "csrf_token": token.group(1), "next": "/"}
    headers = {"Content-Type": FORM, "Cookie": f"sekisho_csrf={cookie}"}
    return fixed(Request(target.url + "/login", headers, expect=303, body=target.write("login.body", urlencode(form))))


# -------------------------------------------------------------------------------------------- the table

Backend = Literal["pg", "sqlite"]
Format = Literal["opaque", "jwt"]
Measured = Literal["sekisho", "resource-api", "floor", "floor-pg"]


@dataclass(frozen=True)
class Peer:
    """How the peer runs for a comparison, and what is sent to it."""

    key: str
    token_format: Format
    workload: Callable[[Target], Workload]


PEER_CC_OPAQUE = Peer("cc-opaque", "opaque", client_credentials)
PEER_CC_JWT = Peer("cc-jwt", "jwt", client_credentials)
PEER_INTROSPECT = Peer("introspect", "opaque", introspection)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    backend: Backend
    token_format: Format
    workload: Callable[[Target], Workload]
    peer: Peer | None = None
    # Who answers the measured requests: sekisho serve itself, or an app of bench/ with sekisho serve beside it
    # (bench/resource_api.py: sekisho.resource alone; bench/floor_api.py: the stack's floor, with or without an INSERT)
    measured: Measured = "sekisho"
    connections: int | None = None  # wrk -c for this scenario, at most; None: the harness's --connections


SCENARIOS = (
    Scenario(
        "cc-opaque-pg", "client_credentials, opaque, PostgreSQL", "pg", "opaque", client_credentials, PEER_CC_OPAQUE
    ),
    Scenario(
        "cc-opaque-sqlite", "client_credentials, opaque, SQLite", "sqlite", "opaque", client_credentials, PEER_CC_OPAQUE
    ),
    Scenario("cc-jwt-pg", "client_credentials, JWT (ES256), PostgreSQL", "pg", "jwt", client_credentials, PEER_CC_JWT),
    Scenario("refresh-pg", "refresh_token with rotation, PostgreSQL", "pg", "opaque", refresh_rotation),
    Scenario("code-pg", "authorization_code + PKCE exchange, PostgreSQL", "pg", "opaque", code_exchange),
    Scenario("introspect-pg", "introspection (opaque), PostgreSQL", "pg", "opaque", introspection, PEER_INTROSPECT),
    Scenario("api-opaque-pg", "POST /api/i, opaque token, PostgreSQL", "pg", "opaque", protected_api),
    Scenario("api-jwt-pg", "POST /api/i, JWT looked up in the store, PostgreSQL", "pg", "jwt", protected_api),
    Scenario("dpop-cc-pg", "client_credentials with a DPoP proof, PostgreSQL", "pg", "opaque", dpop_client_credentials),
    Scenario("dpop-api-pg", "POST /api/i, DPoP token and proof, PostgreSQL", "pg", "opaque", dpop_protected_api),
    Scenario(
        "api-jwt-local",
        "POST /api/i, JWT validated locally by sekisho.resource",
        "pg",
        "jwt",
        protected_api,
        measured="resource-api",
    ),
    # One account from one address: more than 5 of its logins at once would be throttled by design (each attempt
    # counts until its password verifies: docs/security.md), so 4 connections, enough to keep the core hashing.
    Scenario("login-pg", "POST /login (argon2id), PostgreSQL", "pg", "opaque", password_login, connections=4),
    # The floor of the stack, for reading the figures above: issue 6's "bare Starlette form POST" and "raw asyncpg
    # INSERT per request", as a client_credentials request to bench/floor_api.py, which checks nothing.
    Scenario(
        "floor-starlette",
        "floor: bare Starlette form POST, no database (reference)",
        "pg",
        "opaque",
        client_credentials,
        PEER_CC_OPAQUE,
        measured="floor",
    ),
    Scenario(
        "floor-asyncpg-pg",
        "floor: Starlette form POST + one asyncpg INSERT, PostgreSQL (reference)",
        "pg",
        "opaque",
        client_credentials,
        PEER_CC_OPAQUE,
        measured="floor-pg",
    ),
)
