"""sekisho.server.ids: time-sortable record ids (nine base36 characters of milliseconds, then eight random)."""

from __future__ import annotations

import re
import time

from sekisho.server.ids import new_id

ID = re.compile(r"[0-9a-z]{17}")


def test_shape() -> None:
    assert ID.fullmatch(new_id())
    assert ID.fullmatch(new_id(0))


def test_time_part_is_base36_milliseconds() -> None:
    assert new_id(0)[:9] == "000000000"
    assert new_id(1)[:9] == "000000001"
    assert new_id(35)[:9] == "00000000z"
    assert new_id(36)[:9] == "000000010"
    assert int(new_id(1_800_000_000_000)[:9], 36) == 1_800_000_000_000


def test_default_time_is_now() -> None:
    before = int(time.time() * 1000)
    made = int(new_id()[:9], 36)
    after = int(time.time() * 1000)
    assert before <= made <= after


def test_ids_sort_by_creation_time() -> None:
    stamps = [0, 1, 35, 36, 1_000, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000, 36**9 - 1]
    ids = [new_id(stamp) for stamp in stamps]
    assert ids == sorted(ids)


def test_ids_in_the_same_millisecond_are_unique() -> None:
    ids = {new_id(1_700_000_000_000) for _ in range(1000)}
    assert len(ids) == 1000
    assert {made[:9] for made in ids} == {new_id(1_700_000_000_000)[:9]}
