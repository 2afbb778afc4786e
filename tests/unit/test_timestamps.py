"""The demo API's timestamps: Misskey's `createdAt` form, written with `time.strftime` on the hot path."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from sekisho.demo.notes import iso

LAST_SECOND = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


def by_datetime(seconds: int) -> str:
    """The same form as datetime writes it, as the demo wrote it before."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@given(st.integers(min_value=0, max_value=LAST_SECOND))
def test_iso_matches_the_datetime_form(seconds: int) -> None:
    assert iso(seconds) == by_datetime(seconds)


def test_iso_is_misskeys_form() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1_700_000_000) == "2023-11-14T22:13:20.000Z"
    assert iso(951_782_400) == "2000-02-29T00:00:00.000Z"
