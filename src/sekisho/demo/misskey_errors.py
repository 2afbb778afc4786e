"""Misskey's refusals as Misskey sends them: `{"error": {"message", "code", "id", "kind"}}`.

Codes, ids, kinds and statuses are Misskey's own (packages/backend/src/server/api/ApiCallService.ts, error.ts,
endpoint-base.ts, and each endpoint's `errors` in endpoints/*.ts); messages are sekisho's where it says more than
Misskey would (which scope is missing, which parameter is wrong). The WWW-Authenticate header follows RFC 6750 §3 as
Misskey's ApiCallService does: `invalid_token` for a bad token, no error code when none was sent (§3.1),
`insufficient_scope` with the scope wanted, each naming the API's metadata (RFC 9728 §5.1: `resource_metadata`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.responses import JSONResponse

from sekisho.errors import InsufficientScope, OAuthError, TemporarilyUnavailable
from sekisho.protocol import bearer
from sekisho.resource.metadata import ProtectedResource
from sekisho.resource.starlette import challenge_headers


@dataclass(frozen=True)
class MisskeyError(Exception):
    """One Misskey error: HTTP status, `code`, `id` (a UUID per error), `message`, `kind`, and its headers."""

    status: int
    code: str
    id: str
    message: str
    kind: str = "client"
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        body = {"message": self.message, "code": self.code, "id": self.id, "kind": self.kind}
        return JSONResponse({"error": body}, status_code=self.status, headers=self.headers)


def invalid_param(param: str, reason: str) -> MisskeyError:
    """endpoint-base.ts: a body its JSON schema refuses. Misskey puts the parameter and the reason in `info`; here
    they are in the message, and no `info` is sent."""
    return MisskeyError(400, "INVALID_PARAM", "3d81ceae-475f-4600-b2a8-2bc116157532", f"{param}: {reason}")


def credential_required(resource: ProtectedResource | None = None) -> MisskeyError:
    """ApiCallService.ts: an endpoint with `requireCredential: true` called without a token; the challenge names the
    API's metadata (RFC 9728 §5.1)."""
    headers = {
        "WWW-Authenticate": bearer.challenge(resource_metadata=None if resource is None else resource.metadata_url)
    }
    return MisskeyError(
        401, "CREDENTIAL_REQUIRED", "1384574d-a912-4b81-8601-c7b1c4085df1", "Credential required.", headers=headers
    )


def from_token_error(
    error: OAuthError, resource: ProtectedResource | None = None, dpop_algs: Sequence[str] = ()
) -> MisskeyError:
    """A token the verifier refused: AUTHENTICATION_FAILED (401, any endpoint, even those that need no token),
    PERMISSION_DENIED (403, kind `permission`) for a missing scope, or 503 when the token could not be checked."""
    headers = challenge_headers(error, resource, dpop_algs=dpop_algs)
    if isinstance(error, TemporarilyUnavailable):
        return MisskeyError(
            503, "TEMPORARILY_UNAVAILABLE", UNAVAILABLE_ID, error.description, "server", headers=headers
        )
    if isinstance(error, InsufficientScope):
        return MisskeyError(
            403, "PERMISSION_DENIED", "1370e5b7-d4eb-4566-bb1d-7748ee6a1838", error.description, "permission",
            headers=headers,
        )  # fmt: skip
    return MisskeyError(
        401, "AUTHENTICATION_FAILED", "b0a7f5f8-dc2f-4171-b91f-de88ad238e14", error.description, headers=headers
    )


UNAVAILABLE_ID = "8a1fb2b0-2d55-4a34-9c43-fa1a4d0e5b64"  # Misskey has no such error; this id is sekisho's

# endpoints/notes/show.ts, notes/delete.ts (the same id), notes/create.ts, users/show.ts
NO_SUCH_NOTE = MisskeyError(400, "NO_SUCH_NOTE", "24fcbfc6-2e37-42b6-8388-c29b3861a08d", "No such note.")
NO_SUCH_NOTE_TO_DELETE = MisskeyError(400, "NO_SUCH_NOTE", "490be23f-8c1f-4796-819f-94cb4f9d1630", "No such note.")
NO_SUCH_REPLY_TARGET = MisskeyError(
    400, "NO_SUCH_REPLY_TARGET", "749ee0f6-d3da-459a-bf02-282e2da4292c", "No such reply target."
)
NO_SUCH_USER = MisskeyError(404, "NO_SUCH_USER", "4362f8dc-731f-4ad8-a694-be5a88922a24", "No such user.")
