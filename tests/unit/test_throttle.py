"""sekisho.server.throttle.backoff: free failures, then 1 s, 2 s, 4 s … up to 15 minutes."""

from __future__ import annotations

import pytest

from sekisho.server.throttle import ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES, MAX_DELAY, backoff, keys


def test_free_failures_have_no_delay() -> None:
    delay = backoff(5)
    assert [delay(failures) for failures in range(6)] == [0, 0, 0, 0, 0, 0]


def test_delay_doubles_after_the_free_failures() -> None:
    delay = backoff(5)
    assert [delay(failures) for failures in range(6, 16)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def test_delay_is_capped_at_fifteen_minutes() -> None:
    delay = backoff(5)
    assert MAX_DELAY == 900
    assert delay(16) == 900
    assert delay(17) == 900
    assert delay(10_000) == 900
    assert delay(10**9) == 900


def test_no_free_failures() -> None:
    delay = backoff(0)
    assert [delay(n) for n in range(5)] == [0, 1, 2, 4, 8]


@pytest.mark.parametrize("failures", [-1, -100])
def test_negative_failures_have_no_delay(failures: int) -> None:
    assert backoff(5)(failures) == 0


def test_delay_never_decreases() -> None:
    delay = backoff(3)
    delays = [delay(n) for n in range(100)]
    assert delays == sorted(delays)
    assert all(isinstance(value, int) for value in delays)


def test_defaults_are_per_account_stricter_than_per_address() -> None:
    assert ACCOUNT_FREE_FAILURES == 5
    assert ADDRESS_FREE_FAILURES == 20


def test_keys_fold_case_and_bound_length() -> None:
    assert keys("Alice", "192.0.2.1") == ("user:alice", "addr:192.0.2.1")
    user_key, addr_key = keys("A" * 1000, "x" * 1000)
    assert user_key == "user:" + "a" * 256
    assert addr_key == "addr:" + "x" * 64
