"""The login page: CSRF, cookies, safe `next`, and throttling per account and per address (429 + Retry-After)."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx2 import Response
from starlette.testclient import TestClient

from sekisho.server.settings import Settings
from tests.conftest import ISSUER, PASSWORD, World, csrf_of, hidden_fields, make_world

MESSAGE = "That username and password do not match."


def login(world: World, username: str, password: str, next_: str = "/", http: TestClient | None = None) -> Response:
    http = http or world.http
    page = http.get("/login")
    data = {"username": username, "password": password, "csrf_token": csrf_of(page.text), "next": next_}
    return http.post("/login", data=data, follow_redirects=False)


def from_address(world: World, host: str) -> TestClient:
    """A second browser, at another address, on the same running app (not entered: the app is running)."""
    other = TestClient(world.http.app, base_url=str(world.http.base_url), client=(host, 50000))
    other.portal = world.http.portal  # share the running app's event loop and store
    return other


def alert(response: Response) -> str:
    match = re.search(r'<p class="message" role="alert">([^<]*)</p>', response.text)
    assert match, response.text
    return match.group(1)


def signed_in(world: World) -> bool:
    params = world.authorize_params(world.public.client_id)
    return world.http.get("/oauth/authorize", params=params, follow_redirects=False).status_code == 200


# the form


def test_login_page_has_the_contract_form(world: World) -> None:
    page = world.http.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert re.search(r'<form method="post" action="/login">', page.text)
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert 'type="password"' in page.text
    assert csrf_of(page.text)


def test_right_password_starts_a_session(world: World) -> None:
    response = login(world, "alice", PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert world.http.cookies["sekisho_session"].startswith("sek_ss_")
    assert signed_in(world)


def test_wrong_password_is_refused(world: World) -> None:
    response = login(world, "alice", "wrong password")
    assert response.status_code == 401
    assert alert(response) == MESSAGE
    assert "sekisho_session" not in world.http.cookies
    assert not signed_in(world)
    assert 'value="alice"' in response.text  # the username is kept for the next try; the password never is
    assert "wrong password" not in response.text


def test_unknown_usernames_get_the_same_answer_as_wrong_passwords(world: World) -> None:
    wrong = login(world, "alice", "wrong password")
    for username in ("nobody", "ALICE_", "a" * 65, "al ice", "<b>x</b>"):
        unknown = login(world, username, "wrong password")
        assert unknown.status_code == wrong.status_code == 401
        assert alert(unknown) == alert(wrong) == MESSAGE
        assert "<b>x</b>" not in unknown.text


def test_empty_fields_are_refused(world: World) -> None:
    for username, password in (("", PASSWORD), ("alice", ""), ("", "")):
        response = login(world, username, password)
        assert response.status_code == 401 and alert(response) == MESSAGE


def test_bob_cannot_sign_in_with_alices_password_for_alice(world: World) -> None:
    assert login(world, "bob", PASSWORD).status_code == 303
    params = world.authorize_params(world.public.client_id)
    page = world.http.get("/oauth/authorize", params=params)
    assert "Signed in as <strong>bob</strong>" in page.text


# CSRF


def test_login_without_a_valid_csrf_token_is_refused(world: World) -> None:
    world.http.get("/login")  # the browser has a CSRF cookie
    for token in (None, "", "0" * 64, "not-even-hex"):
        data = {"username": "alice", "password": PASSWORD, "next": "/"}
        if token is not None:
            data["csrf_token"] = token
        response = world.http.post("/login", data=data, follow_redirects=False)
        assert response.status_code == 400, token
        assert '<strong id="error-code">invalid_request</strong>' in response.text
        assert "sekisho_session" not in world.http.cookies
    assert not signed_in(world)


def test_a_csrf_token_without_its_cookie_is_refused(world: World) -> None:
    token = csrf_of(world.http.get("/login").text)
    world.http.cookies.clear()
    data = {"username": "alice", "password": PASSWORD, "csrf_token": token, "next": "/"}
    response = world.http.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 400 and "sekisho_session" not in world.http.cookies


def test_a_csrf_token_from_another_browser_is_refused(world: World) -> None:
    token = csrf_of(world.http.get("/login").text)
    other = world.http.cookies["sekisho_csrf"]
    world.http.cookies.clear()
    world.http.get("/login")  # a fresh cookie
    assert world.http.cookies["sekisho_csrf"] != other
    data = {"username": "alice", "password": PASSWORD, "csrf_token": token, "next": "/"}
    assert world.http.post("/login", data=data, follow_redirects=False).status_code == 400


def test_logout_needs_the_csrf_token(world: World) -> None:
    world.login()
    response = world.http.post("/logout", data={}, follow_redirects=False)
    assert response.status_code == 400
    assert signed_in(world)
    token = csrf_of(world.http.get("/").text)
    assert world.http.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert not signed_in(world)


# cookies


def set_cookies(response: Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def test_cookies_are_httponly_and_samesite_lax(world: World) -> None:
    page = world.http.get("/login")
    csrf = set_cookies(page)["sekisho_csrf"]
    response = login(world, "alice", PASSWORD)
    session = set_cookies(response)["sekisho_session"]
    for cookie in (csrf, session):
        attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        assert "secure" not in attributes  # plain http issuer: a Secure cookie would never come back
    assert "max-age=604800" in session.lower()


def test_logout_clears_the_session_cookie(world: World) -> None:
    world.login()
    token = csrf_of(world.http.get("/").text)
    response = world.http.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    cookie = set_cookies(response)["sekisho_session"].lower()
    assert "max-age=0" in cookie or "expires=thu, 01 jan 1970" in cookie


def test_a_forged_session_cookie_is_ignored(world: World) -> None:
    for value in ("sek_ss_" + "A" * 43, "x" * 5000, "sek_ss_" + "A" * 200):
        world.http.cookies.set("sekisho_session", value)
        assert not signed_in(world)


def test_sessions_expire(world: World) -> None:
    world.login()
    world.clock.advance(7 * 24 * 3600 - 1)
    assert signed_in(world)
    world.clock.advance(1)
    assert not signed_in(world)


# next: same-site paths only


OFF_SITE = [
    "//evil.example",
    "//evil.example/path",
    "https://evil.example",
    "https://evil.example/oauth/authorize",
    "http:evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "///evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "evil.example",
    " //evil.example",
]


def test_next_never_leaves_the_site(world: World, subtests: pytest.Subtests) -> None:
    for target in OFF_SITE:
        with subtests.test(target=target):
            page = world.http.get("/login", params={"next": target})
            assert page.status_code == 200
            assert hidden_fields(page.text)["next"] == "/"
            if "\t" in target:
                continue  # a form field cannot carry a tab: the login POST refuses control characters outright
            response = login(world, "alice", PASSWORD, next_=target)
            assert response.status_code == 303
            assert response.headers["location"] == "/"


def test_next_with_a_tab_in_the_form_is_refused(world: World) -> None:
    response = login(world, "alice", PASSWORD, next_="/\t/evil.example")
    assert response.status_code == 400 and "location" not in response.headers


def test_next_keeps_same_site_paths(world: World) -> None:
    params = world.authorize_params(world.public.client_id)
    first = world.http.get("/oauth/authorize", params=params, follow_redirects=False)
    target = parse_qs(urlsplit(first.headers["location"]).query)["next"][0]
    page = world.http.get(first.headers["location"])
    assert hidden_fields(page.text)["next"] == target
    response = login(world, "alice", PASSWORD, next_=target)
    assert response.status_code == 303 and response.headers["location"] == target
    assert world.http.get(target).status_code == 200


def test_next_on_a_failed_login_is_kept_safe(world: World) -> None:
    response = login(world, "alice", "wrong", next_="//evil.example")
    assert hidden_fields(response.text)["next"] == "/"


# throttling


def test_account_is_throttled_after_five_failures(world: World) -> None:
    for _ in range(5):  # five free failures: answered at once, no waiting
        assert login(world, "alice", "wrong password").status_code == 401
    sixth = login(world, "alice", "wrong password")
    assert sixth.status_code == 401  # the failure that exceeds the free ones starts the back-off
    blocked = login(world, "alice", PASSWORD)
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "1"
    assert "Too many failed attempts" in alert(blocked)
    assert "sekisho_session" not in world.http.cookies
    assert not signed_in(world)


def test_the_back_off_doubles_and_lifts_after_the_delay(world: World) -> None:
    for _ in range(6):
        login(world, "alice", "wrong password")
    assert login(world, "alice", PASSWORD).headers["retry-after"] == "1"
    world.clock.advance(1)
    assert login(world, "alice", "wrong password").status_code == 401  # 7th failure: 2 s
    blocked = login(world, "alice", PASSWORD)
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "2"
    world.clock.advance(1)
    assert login(world, "alice", PASSWORD).headers["retry-after"] == "1"
    world.clock.advance(1)
    response = login(world, "alice", PASSWORD)
    assert response.status_code == 303
    assert signed_in(world)


def test_a_blocked_attempt_is_not_counted_and_success_resets(world: World) -> None:
    for _ in range(6):
        login(world, "alice", "wrong password")
    for _ in range(5):  # refused without checking the password, so the delay does not grow
        assert login(world, "alice", "wrong password").headers["retry-after"] == "1"
    world.clock.advance(1)
    assert login(world, "alice", PASSWORD).status_code == 303
    for _ in range(5):  # a success forgets the account's failures
        assert login(world, "alice", "wrong password").status_code == 401


def test_throttling_is_per_account(world: World) -> None:
    for _ in range(6):
        login(world, "alice", "wrong password")
    assert login(world, "alice", PASSWORD).status_code == 429
    assert login(world, "bob", PASSWORD).status_code == 303


def test_username_case_does_not_escape_the_account_throttle(world: World) -> None:
    for name in ("alice", "ALICE", "Alice", "aLiCe", "alicE", "ALIce"):
        login(world, name, "wrong password")
    assert login(world, "alice", PASSWORD).status_code == 429


def test_unknown_usernames_are_throttled_like_real_ones(world: World) -> None:
    for _ in range(6):
        assert login(world, "nobody", "wrong password").status_code == 401
    blocked = login(world, "nobody", "wrong password")
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "1"


def test_an_address_over_its_ceiling_is_slowed_but_never_locks_out_an_account(world: World) -> None:
    """Issue 21 finding 3: 21 failures with other user names from one address (a spray, or many people behind one
    proxy) used to answer 429 to any account from that address for up to 15 minutes. Now the address only slows:
    each attempt over its 20 free ones pauses (1 s, 2 s, 4 s … at most 10 s), and an account with no failures of
    its own gets in."""
    for number in range(20):
        assert login(world, f"user{number}", "wrong password").status_code == 401
    assert world.clock.slept == []  # twenty free attempts from one address
    assert login(world, "user20", "wrong password").status_code == 401  # the 21st waits 1 s
    assert world.clock.slept == [1]
    response = login(world, "alice", PASSWORD)  # an account that never failed, from the same address
    assert response.status_code == 303
    assert world.clock.slept == [1, 2]
    assert signed_in(world)
    other = from_address(world, "192.0.2.7")  # another address is not slowed at all
    assert login(world, "bob", PASSWORD, http=other).status_code == 303
    other.close()
    assert world.clock.slept == [1, 2]


def test_the_address_pause_is_capped_and_a_success_gives_back_its_attempt(world: World) -> None:
    """Issue 21 finding 3: however long the spray, a person behind the same address waits at most 10 s."""
    for number in range(40):
        login(world, f"user{number}", "wrong password")
    assert max(world.clock.slept) == 10
    world.clock.slept.clear()
    for _ in range(3):
        assert login(world, "alice", PASSWORD).status_code == 303
    assert world.clock.slept == [10, 10, 10]  # forgiven attempts do not push the address further


def test_a_parallel_burst_reaches_the_password_check_only_within_the_budget(
    world: World, hashed: list[tuple[str, str]]
) -> None:
    """Issue 21 finding 1: 100 concurrent POST /login for one account, the last with the right password, used to
    reach argon2 100 times and sign in (the check ran before the hash and the failure was counted after it). Each
    attempt is now counted before its hash, atomically: the five free ones and the one that starts the back-off
    reach the hash; the other 94 are 429 with Retry-After (the test clock does not move during the burst, so no
    back-off lapses: the budget is exact)."""
    token = csrf_of(world.http.get("/login").text)
    passwords_sent = [f"guess {number}" for number in range(99)] + [PASSWORD]

    def attempt(password: str) -> Response:
        data = {"username": "alice", "password": password, "csrf_token": token, "next": "/"}
        return world.http.post("/login", data=data, follow_redirects=False)

    with ThreadPoolExecutor(max_workers=100) as pool:
        responses = list(pool.map(attempt, passwords_sent))
    statuses = Counter(response.status_code for response in responses)
    checked = [password for _, password in hashed]
    assert len(checked) == 6, statuses
    assert statuses[401] + statuses[303] == 6 and statuses[429] == 94, statuses
    assert all(response.headers["retry-after"] == "1" for response in responses if response.status_code == 429)
    if PASSWORD not in checked:  # the right password came after the budget: refused without its hash
        assert responses[-1].status_code == 429
        assert not any(response.status_code == 303 for response in responses)


def test_a_parallel_burst_from_one_address_is_spread_out_not_refused(world: World) -> None:
    """Issue 21 finding 3, as a burst: 60 concurrent attempts on 60 accounts from one address. None is refused
    (no account has failures of its own); the 40 over the address's ceiling each pause, 1 s, 2 s … 10 s."""
    token = csrf_of(world.http.get("/login").text)

    def attempt(number: int) -> int:
        data = {"username": f"sprayed{number}", "password": "wrong password", "csrf_token": token, "next": "/"}
        return world.http.post("/login", data=data, follow_redirects=False).status_code

    with ThreadPoolExecutor(max_workers=60) as pool:
        statuses = list(pool.map(attempt, range(60)))
    assert statuses == [401] * 60
    assert sorted(world.clock.slept) == [1, 2, 4, 8] + [10] * 36


@pytest.fixture
def proxied(database: str) -> Iterator[World]:
    """The app behind a reverse proxy at 10.0.0.1 (`--trusted-proxy 10.0.0.0/8`)."""
    settings = Settings(issuer=ISSUER, database=database, trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))
    with make_world(database, settings) as running:
        yield running


def through_proxy(world: World, client: str, username: str, password: str) -> Response:
    proxy = from_address(world, "10.0.0.1")
    proxy.headers["X-Forwarded-For"] = client
    try:
        return login(world, username, password, http=proxy)
    finally:
        proxy.close()


def test_behind_a_trusted_proxy_each_client_has_its_own_address(proxied: World) -> None:
    """Issue 21 finding 3, as it was found: a spray through the proxy used to make every login through it 429.
    With the proxy trusted, the spray counts against the sprayer's address only; another person through the same
    proxy is neither refused nor slowed."""
    for number in range(25):
        assert through_proxy(proxied, "203.0.113.66", f"user{number}", "wrong password").status_code == 401
    assert proxied.clock.slept == [1, 2, 4, 8, 10]  # the sprayer, past its 20 free attempts
    assert through_proxy(proxied, "198.51.100.7", "alice", PASSWORD).status_code == 303
    assert proxied.clock.slept == [1, 2, 4, 8, 10]  # alice waited for nothing


def test_a_forwarding_header_from_an_untrusted_peer_does_not_escape_the_address_limit(proxied: World) -> None:
    """An attacker who connects directly and sends a new X-Forwarded-For with each attempt is still counted at its
    own address."""
    attacker = from_address(proxied, "203.0.113.66")
    for number in range(22):
        attacker.headers["X-Forwarded-For"] = f"198.51.100.{number}"
        assert login(proxied, f"user{number}", "wrong password", http=attacker).status_code == 401
    attacker.close()
    assert proxied.clock.slept == [1, 2]


def test_a_spoofed_hop_left_of_the_proxy_is_ignored(proxied: World) -> None:
    """The client prepends a random X-Forwarded-For; the proxy appends the address it saw: that one counts."""
    for number in range(21):
        client = f"192.0.2.{number}, 203.0.113.66"
        assert through_proxy(proxied, client, f"user{number}", "wrong password").status_code == 401
    assert proxied.clock.slept == [1]


def test_throttle_page_keeps_the_security_headers(world: World) -> None:
    for _ in range(6):
        login(world, "alice", "wrong password")
    blocked = login(world, "alice", PASSWORD)
    assert blocked.status_code == 429
    assert "frame-ancestors 'none'" in blocked.headers["content-security-policy"]
    assert blocked.headers["x-frame-options"] == "DENY"
    assert blocked.headers["referrer-policy"] == "no-referrer"


def test_a_non_ascii_csrf_token_is_refused_cleanly(world: World) -> None:
    world.http.get("/login")  # sets the CSRF cookie
    response = world.http.post("/login", data={"username": "alice", "password": "x", "csrf_token": "é" * 64})
    assert response.status_code == 400
    assert "form has expired" in response.text


# no user enumeration: unknown usernames cost what real ones cost and read the same


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every argon2id verification the app runs, as (stored hash, password)."""
    from sekisho.server import passwords

    hasher = passwords.HASHER
    seen: list[tuple[str, str]] = []

    class CountingHasher:
        def verify(self, stored_hash: str, password: str) -> bool:
            seen.append((stored_hash, password))
            return hasher.verify(stored_hash, password)

        def check_needs_rehash(self, stored_hash: str) -> bool:
            return hasher.check_needs_rehash(stored_hash)

    monkeypatch.setattr(passwords, "HASHER", CountingHasher())
    return seen


def test_unknown_usernames_cost_one_password_hash_like_real_ones(world: World, hashed: list[tuple[str, str]]) -> None:
    from sekisho.server import passwords

    for username in ("alice", "nobody", "not a valid name!", "x" * 300):
        hashed.clear()
        assert login(world, username, "wrong password").status_code == 401
        assert len(hashed) == 1, username  # one argon2id verification, whether the account exists or not
        assert not passwords.HASHER.check_needs_rehash(hashed[0][0])  # at the same cost parameters as real hashes


def test_unknown_usernames_take_as_long_as_wrong_passwords(world: World) -> None:
    """CPU time (argon2 runs in a thread; process_time counts every thread), median of 5 each, side by side."""
    import statistics
    import time

    def cost(username: str) -> float:
        start = time.process_time()
        login(world, username, "wrong password")
        return time.process_time() - start

    known, unknown = [], []
    for number in range(5):  # interleaved, and under the five free failures of each account
        known.append(cost("alice" if number < 4 else "bob"))
        unknown.append(cost(f"nobody{number}"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.6, (known, unknown)


def test_unknown_usernames_get_the_same_page_as_wrong_passwords(world: World) -> None:
    def page(username: str) -> tuple[int, str, list[str]]:
        response = login(world, username, "wrong password")
        text = re.sub(r'name="csrf_token" value="[^"]*"', "", response.text)
        text = text.replace(f'value="{username}"', 'value=""')
        cookies = sorted(header.split("=", 1)[0] for header in response.headers.get_list("set-cookie"))
        return response.status_code, text, cookies

    assert page("alice") == page("nobody")
