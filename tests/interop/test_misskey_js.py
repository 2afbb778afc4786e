"""misskey-js 2026.5 (npm), Misskey's own JavaScript SDK, unmodified, against a real `sekisho serve --demo-api`: only
`origin` is sekisho's. tests/misskey_js/bot.mjs runs a bot's calls through `api.APIClient` and prints what the SDK
parsed (resolved values, and `api.isAPIError` refusals with their code and id); the assertions are on that.

npm installs tests/misskey_js (misskey-js and the Node 22 it runs on) with `npm ci` when needed (tests/node.py); no
npm skips these tests on a developer machine and fails them in CI (CI=true).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import node
from tests.interop.misskey_stand_in import USERNAME, miauth_token, stand_in
from tests.live import LiveServer
from tests.needs import unavailable

pytestmark = pytest.mark.e2e

FOLDER = Path(__file__).parent.parent / "misskey_js"
AUTHENTICATION_FAILED = "b0a7f5f8-dc2f-4171-b91f-de88ad238e14"


@pytest.fixture(scope="module")
def misskey_js() -> Path:
    """The Node 22 binary of tests/misskey_js, after `npm ci` there if needed."""
    try:
        return node.install(FOLDER)
    except node.NodeUnavailable as missing:
        unavailable(str(missing))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with stand_in(tmp_path_factory.mktemp("misskey-js")) as running:
        yield running


def run_bot(node_binary: Path, scenario: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [str(node_binary), str(FOLDER / "bot.mjs"), json.dumps(scenario)],
        cwd=FOLDER,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_misskey_js_reads_without_a_credential_and_reports_a_bad_one(misskey_js: Path, server: LiveServer) -> None:
    token = miauth_token(server, str(uuid.uuid4()), "read:account,write:notes")
    notes = {}
    for visibility in ("public", "home"):
        created = httpx.post(
            f"{server.url}/api/notes/create", json={"i": token, "text": visibility, "visibility": visibility}
        )
        notes[visibility] = created.json()["createdNote"]["id"]

    out = run_bot(
        misskey_js,
        {"origin": server.url, "token": token, "publicNoteId": notes["public"], "homeNoteId": notes["home"]},
    )

    assert out["meta"] == {"name": "sekisho", "uri": server.url, "miauth": True}
    # notes/show is requireCredential: false; public and home notes are shown to anyone
    assert out["anonymousPublic"] == {
        "id": notes["public"],
        "text": "public",
        "username": USERNAME,
        "visibility": "public",
        "replyId": None,
        "cw": None,
    }
    assert out["anonymousHome"]["text"] == "home" and out["anonymousHome"]["visibility"] == "home"
    assert out["anonymousI"]["code"] == "CREDENTIAL_REQUIRED"
    for refused in ("badI", "badShow", "badMeta"):  # a bad credential fails everywhere, even where none is needed
        assert out[refused] == {
            "code": "AUTHENTICATION_FAILED",
            "id": AUTHENTICATION_FAILED,
            "kind": "client",
            "message": out[refused]["message"],
        }
    assert (out["missing"]["code"], out["missing"]["id"]) == ("NO_SUCH_NOTE", "24fcbfc6-2e37-42b6-8388-c29b3861a08d")

    assert out["me"]["username"] == USERNAME and out["me"]["host"] is None
    created = out["created"]
    assert created == {
        "id": created["id"],
        "text": "from misskey-js",
        "username": USERNAME,
        "visibility": "home",
        "replyId": notes["public"],
        "cw": "hello",
    }
    assert out["shown"] == created
    assert out["timeline"] == ["from misskey-js", "home"]
    assert out["olderInTimeline"] == ["home", "public"]
    assert out["localTimeline"] == ["public"]  # public notes only, and no replies by default
    assert out["userShow"] == {"id": out["me"]["id"], "username": USERNAME}
    assert out["userNotes"] == ["from misskey-js", "home", "public"]
    assert out["deleted"] is None  # 204: misskey-js resolves with null
    assert out["afterDelete"]["code"] == "NO_SUCH_NOTE"
    assert out["badParam"]["code"] == "INVALID_PARAM"
