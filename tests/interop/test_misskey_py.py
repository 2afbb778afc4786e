"""Misskey.py 4.1 (PyPI `Misskey.py`), unmodified, against a real `sekisho serve --demo-api`: only its address is
sekisho's. Its MiAuth helper (generate_url → the person allows → check), then the notes cycle a bot runs, and its
token checks: `Misskey(address, i=…)` asks `POST /api/meta` with the token, the `token` setter asks `POST /api/i`;
either raises MisskeyAuthorizeFailedException on a 401 or 403. Assertions are on what Misskey.py returned or raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from misskey import MiAuth, Misskey, NoteVisibility, Permissions
from misskey.exceptions import MisskeyAPIException, MisskeyAuthorizeFailedException, MisskeyMiAuthFailedException

from tests.interop.misskey_stand_in import CALLBACK, USERNAME, allow_miauth, revoke_every_app, stand_in
from tests.live import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with stand_in(tmp_path_factory.mktemp("misskey-py")) as running:
        yield running


def miauth_login(server: LiveServer) -> str:
    """Misskey.py's MiAuth: its URL, the person's Allow, its check(); the token check() returned."""
    auth = MiAuth(
        server.url,
        name="interop bot",
        callback=CALLBACK,
        permission=[Permissions.READ_ACCOUNT, Permissions.WRITE_NOTES],
    )
    with pytest.raises(MisskeyMiAuthFailedException):
        auth.check()  # nobody has allowed it yet
    location = allow_miauth(server, auth.generate_url())
    assert location.startswith(CALLBACK + "?session=")
    token = auth.check()
    assert token and auth.token == token
    return token


def test_miauth_then_the_notes_cycle(server: LiveServer) -> None:
    token = miauth_login(server)
    bot = Misskey(server.url, i=token)  # checks the server and the token with POST /api/meta

    me = bot.i()
    assert (me["username"], me["host"]) == (USERNAME, None)

    first = bot.notes_create(text="hello from Misskey.py")["createdNote"]
    assert (first["text"], first["visibility"], first["user"]["username"]) == (
        "hello from Misskey.py",
        "public",
        USERNAME,
    )
    reply = bot.notes_create(
        text="a reply", visibility=NoteVisibility.HOME, cw="spoiler", local_only=True, reply_id=first["id"]
    )["createdNote"]
    assert (reply["replyId"], reply["visibility"], reply["cw"], reply["localOnly"]) == (
        first["id"],
        "home",
        "spoiler",
        True,
    )

    shown = bot.notes_show(reply["id"])
    assert (shown["id"], shown["text"], shown["replyId"]) == (reply["id"], "a reply", first["id"])
    anonymous = Misskey(server.url)  # no token: meta and notes/show need none
    assert anonymous.meta()["features"]["miauth"] is True
    assert anonymous.notes_show(first["id"])["text"] == "hello from Misskey.py"

    # Misskey.py asks for withFiles: true by default, so its default timeline call has no text-only note, as on Misskey.
    assert bot.notes_timeline() == []
    assert [note["id"] for note in bot.notes_timeline(limit=5, with_files=False)] == [reply["id"], first["id"]]
    assert [note["id"] for note in bot.notes_timeline(with_files=False, until_id=reply["id"])] == [first["id"]]
    assert [note["id"] for note in bot.notes_local_timeline(with_files=False)] == [first["id"]]  # public, no replies
    assert bot.users_show(username=USERNAME)["id"] == me["id"]
    # Misskey.py sends the old `includeReplies`; Misskey reads `withReplies` (default false), so replies stay out.
    assert [note["text"] for note in anonymous.users_notes(me["id"])] == ["hello from Misskey.py"]

    assert bot.notes_delete(reply["id"]) is True
    with pytest.raises(MisskeyAPIException) as gone:
        bot.notes_show(reply["id"])
    assert (gone.value.code, str(gone.value.id)) == ("NO_SUCH_NOTE", "24fcbfc6-2e37-42b6-8388-c29b3861a08d")
    with pytest.raises(MisskeyAPIException) as empty:
        bot.notes_create(text="")
    assert empty.value.code == "INVALID_PARAM"
    with pytest.raises(MisskeyAPIException) as anonymous_post:
        anonymous.notes_create(text="nobody")
    assert anonymous_post.value.code == "CREDENTIAL_REQUIRED"


def test_a_bad_token_is_reported_at_once(server: LiveServer) -> None:
    Misskey(server.url)  # the address alone is fine
    with pytest.raises(MisskeyAuthorizeFailedException):
        Misskey(server.url, i="sek_at_" + uuid.uuid4().hex)  # POST /api/meta with the token: 401
    bot = Misskey(server.url)
    with pytest.raises(MisskeyAuthorizeFailedException):
        bot.token = "not-a-token"  # POST /api/i with the token: 401
    assert bot.token is None


def test_a_revoked_token_is_reported_at_once(server: LiveServer) -> None:
    token = miauth_login(server)
    bot = Misskey(server.url, i=token)
    assert bot.i()["username"] == USERNAME
    revoke_every_app(server)
    with pytest.raises(MisskeyAuthorizeFailedException):
        Misskey(server.url, i=token)
    with pytest.raises(MisskeyAPIException) as refused:
        bot.i()
    assert (refused.value.code, str(refused.value.id)) == (
        "AUTHENTICATION_FAILED",
        "b0a7f5f8-dc2f-4171-b91f-de88ad238e14",
    )
