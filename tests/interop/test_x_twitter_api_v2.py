"""twitter-api-v2 (npm, tests/twitter_api_v2) against a real `sekisho serve --demo-api` (issue 23): its OAuth 2.0
link (`code_challenge_method=s256`), login with a confidential client (HTTP Basic and the secret in the body),
refresh, then me → tweet → reply → singleTweet → userTimeline → deleteTweet, a bad token and a revocation.

The library hard-codes X's hosts; bot.mjs points it at the stand-in only through its documented options (a plugin's
`onBeforeRequestConfig`, and `httpAgent` for plain HTTP on loopback). Assertions are on what the library parsed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import LiveServer, cli, free_port, live_server, node_flow
from tests.needs import system_node

pytestmark = pytest.mark.e2e

FOLDER = Path(__file__).parents[1] / "twitter_api_v2"
USER = ("alice", "alice's password 1")


@pytest.fixture(scope="module")
def node_binary() -> str:
    return system_node(FOLDER)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("twitter-api-v2"), user=USER) as running:
        yield running


def run_bot(node_binary: str, server: LiveServer, env: dict[str, str]) -> tuple[dict[str, str], dict[str, object]]:
    """bot.mjs: the authorization URL it prints, the consent a browser gives, and the RESULT line it prints."""
    return node_flow([node_binary, "bot.mjs"], FOLDER, {"STAND_IN": server.url, **env}, server, USER)


def test_twitter_api_v2_logs_in_and_runs_a_post_cycle(node_binary: str, server: LiveServer) -> None:
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    added = cli(
        "client", "add", "--name", "node bot", "--redirect-uri", redirect_uri, "--json", database=server.database
    )
    app = json.loads(added.stdout)
    env = {"CLIENT_ID": app["client_id"], "CLIENT_SECRET": app["client_secret"], "REDIRECT_URI": redirect_uri}
    query, result = run_bot(node_binary, server, env)

    assert query["code_challenge_method"] == "s256"  # lower case, as X takes it
    assert result["login"] == {
        "expiresIn": 7200,
        "scope": ["tweet.read", "tweet.write", "users.read", "offline.access"],
        "hasRefresh": True,
    }
    assert result["refreshed"] == {"expiresIn": 7200, "newRefresh": True}
    me = result["me"]
    assert isinstance(me, dict) and me["username"] == "alice" and me["name"] == "alice" and me["created_at"]
    posted, reply, shown = result["posted"], result["reply"], result["shown"]
    assert isinstance(posted, dict) and isinstance(reply, dict) and isinstance(shown, dict)
    assert posted["text"] == "hello from twitter-api-v2" and posted["edit_history_tweet_ids"] == [posted["id"]]
    assert reply["text"] == "a reply"
    assert shown["id"] == posted["id"] and shown["author_id"] == me["id"]
    assert result["timeline"] == {"texts": ["a reply", "hello from twitter-api-v2"], "count": 2}
    assert result["deleted"] == {"deleted": True}
    [gone] = result["gone"]  # type: ignore[misc]
    assert gone["title"] == "Not Found Error" and gone["resource_id"] == reply["id"]
    assert result["badToken"] == {"code": 401, "title": "Unauthorized"}
    assert result["revoked"] == {"revoked": True}
    rate = result["rateLimit"]
    assert isinstance(rate, dict) and rate["limit"] == 75 and rate["remaining"] == 73
