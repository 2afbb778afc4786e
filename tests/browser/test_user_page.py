"""/@alice in real Chromium: what bots posted through both dialects, newest first, as text and never as markup."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.browser.conftest import PASSWORD, USERNAME
from tests.live import user_tokens

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import Sekisho

pytestmark = pytest.mark.browser


def test_the_user_page_shows_notes_from_both_dialects(page: Page, sekisho: Sekisho) -> None:
    client_id = sekisho.register("Poster " + secrets.token_hex(3))
    tokens = user_tokens(
        sekisho.url,
        {"client_id": client_id, "client_secret": None},
        redirect_uri=sekisho.client_app.redirect_uri,
        scope="write:notes tweet.write",
        username=USERNAME,
        password=PASSWORD,
    )
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    marker = secrets.token_hex(4)
    misskey = httpx.post(
        sekisho.url + "/api/notes/create", headers=bearer, json={"text": f"from Misskey {marker}", "cw": "a warning"}
    )
    assert misskey.status_code == 200, misskey.text
    time.sleep(0.01)  # note ids sort by the millisecond
    script = f"<img src=x onerror=\"document.title='pwned'\"> from X {marker}"
    tweet = httpx.post(sekisho.url + "/2/tweets", headers=bearer, json={"text": script})
    assert tweet.status_code == 201, tweet.text
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    page.goto(f"{sekisho.url}/@{USERNAME}")
    assert page.locator("h1").inner_text() == f"@{USERNAME}"
    texts = [text for text in page.locator("article.note .text").all_inner_texts() if marker in text]
    assert texts == [script, f"from Misskey {marker}"]  # newest first, the markup shown as text
    assert page.locator(f"#note-{tweet.json()['data']['id']}").count() == 1
    assert page.locator(f"#note-{misskey.json()['createdNote']['id']} strong").inner_text() == "a warning"
    assert page.locator("article.note img").count() == 0 and page.title() != "pwned" and not dialogs

    assert httpx.delete(f"{sekisho.url}/2/tweets/{tweet.json()['data']['id']}", headers=bearer).status_code == 200
    page.reload()
    assert [text for text in page.locator("article.note .text").all_inner_texts() if marker in text] == [
        f"from Misskey {marker}"
    ]
