"""schemathesis against a real `sekisho serve` over loopback HTTP, driven by the server's own GET /openapi.json.

Every documented operation, with generated data that fits the document (positive) and data that does not
(negative), with and without valid credentials (a confidential client's Basic auth, a bearer token carrying every
scope, and ids of notes that exist). Checks: never a 5xx, and the status code, Content-Type, headers and JSON body
are the documented ones. `negative_data_rejection` is left out on purpose: RFC 6749 tells servers to ignore unknown
parameters and to answer most bad authorization requests with a redirect, not a 4xx.

Bounded for CI: SEKISHO_FUZZ_EXAMPLES (default 50) examples per operation and generation mode, derandomized.
A longer run: `SEKISHO_FUZZ_EXAMPLES=500 python -m pytest -s tests/e2e/test_openapi_fuzz.py`.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Databases
from tests.live import LiveServer, cli, form_field, serve_for, user_tokens

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("SEKISHO_FUZZ_EXAMPLES", "50"))
PASSWORD = "fuzz password 1"
REDIRECT = "http://127.0.0.1:9/callback"
CSRF_FORMS = {
    "/login",
    "/logout",
    "/settings/apps/revoke",
    "/oauth/authorize",
    "/i/oauth2/authorize",
    "/miauth/{session}",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Credentials:
    basic: str  # the whole Authorization header value
    bearer: str
    cookies: dict[str, str]  # alice's session and a CSRF cookie
    csrf_token: str  # the form token that goes with that cookie
    misskey_ids: list[str] = field(default_factory=list)  # notes for /api/notes/* (delete spends them)
    x_ids: list[str] = field(default_factory=list)  # and for /2/tweets/{id}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    flags = ("--registration", "open", "--registration-limit", "1000000")  # /oauth/register is fuzzed too
    flags += ("--device-authorization-limit", "1000000", "--par-limit", "1000000")  # fuzzed from one address
    with serve_for(request, databases, tmp_path_factory, "fuzz", flags, user=("alice", PASSWORD)) as running:
        yield running


def credentials(server: LiveServer) -> Credentials:
    database = server.database
    grants = ("authorization_code", "refresh_token", "client_credentials")
    flags = [arg for grant in grants for arg in ("--grant-type", grant)]
    added = cli("client", "add", "--name", "Fuzzer", "--redirect-uri", REDIRECT, "--json", *flags, database=database)
    client = json.loads(added.stdout)
    scopes = httpx.get(server.url + "/.well-known/oauth-authorization-server").json()["scopes_supported"]
    tokens = user_tokens(
        server.url, client, redirect_uri=REDIRECT, scope=" ".join(scopes), username="alice", password=PASSWORD
    )
    pair = f"{client['client_id']}:{client['client_secret']}".encode()
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        signed_in = browser.post(
            "/login",
            data={
                "username": "alice",
                "password": PASSWORD,
                "csrf_token": form_field(browser.get("/login").text, "csrf_token"),
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        cookies = dict(browser.cookies)
        csrf_token = form_field(browser.get("/login").text, "csrf_token")
    found = Credentials("Basic " + base64.b64encode(pair).decode(), tokens["access_token"], cookies, csrf_token)
    for ids in (found.misskey_ids, found.x_ids):
        for text in ("first", "second", "third"):
            created = httpx.post(
                server.url + "/api/notes/create",
                json={"text": text},
                headers={"Authorization": "Bearer " + found.bearer},
            )
            assert created.status_code == 200, created.text
            ids.append(created.json()["createdNote"]["id"])
    return found


def with_credentials(case: Any, creds: Credentials, use_auth: bool, known_id: int | None) -> dict[str, str]:
    """Valid credentials and ids that exist, when the draw says so; returns the cookies to send."""
    security = {name for requirement in case.operation.definition.raw.get("security", []) for name in requirement}
    body = case.body if isinstance(case.body, dict) else {}
    if use_auth and "clientBasic" in security:
        case.headers = {**(case.headers or {}), "Authorization": creds.basic}
        body.pop("client_id", None)  # else a 400 for naming another client, or for two ways to authenticate
        body.pop("client_secret", None)
    if use_auth and "bearer" in security:
        case.headers = {**(case.headers or {}), "Authorization": "Bearer " + creds.bearer}
    if known_id is not None and case.path_parameters and "id" in case.path_parameters:
        case.path_parameters["id"] = creds.x_ids[known_id]
    if known_id is not None and "noteId" in body:
        body["noteId"] = creds.misskey_ids[known_id]
    if known_id is not None and case.operation.path == "/oauth/register" and isinstance(case.body, dict):
        # metadata a registration takes, but for the name and auth method drawn: so some answers are 201s
        for name in ("grant_types", "response_types", "client_uri", "logo_uri"):
            body.pop(name, None)
        body |= {"redirect_uris": [REDIRECT], "scope": "read:account"}
    if not use_auth:
        return {}
    if case.operation.path in CSRF_FORMS and isinstance(case.body, dict):
        body["csrf_token"] = creds.csrf_token
    if case.operation.path == "/logout":  # signing out would end the session the next operations use
        return {name: value for name, value in creds.cookies.items() if "session" not in name}
    return creds.cookies


def fuzz(operation: Any, mode: GenerationMode, creds: Credentials, seen: Counter[tuple[str, int]]) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        use_auth=st.booleans(),
        known_id=st.none() | st.integers(0, 2),
    )
    def run(case: Any, use_auth: bool, known_id: int | None) -> None:
        cookies = with_credentials(case, creds, use_auth, known_id)
        response = case.call(cookies=cookies, timeout=10)
        seen[operation.label, response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # nothing to make invalid: no parameters or body, or only strings that take any value


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(server: LiveServer) -> None:
    creds = credentials(server)
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    seen: Counter[tuple[str, int]] = Counter()  # (operation, status): how many
    failures, operations = [], 0  # every operation runs; all failures are reported together
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, creds, seen)
            except (Exception, BaseExceptionGroup) as failure:  # schemathesis's FailureGroup is a BaseExceptionGroup
                failures.append(f"{operation.label} [{mode.value}]: {failure}")
    elapsed = time.monotonic() - started
    print(f"\nschemathesis: {operations} operations, {seen.total()} requests in {elapsed:.1f} s ({EXAMPLES} examples)")
    for label in dict.fromkeys(label for label, _ in seen):
        print(f"  {label}: " + ", ".join(f"{status}×{n}" for (at, status), n in sorted(seen.items()) if at == label))
    assert not failures, "\n\n".join(failures)
    assert "Traceback" not in server.output()
