"""bench/instructions.py's inner run, without valgrind: the real app answers each scenario's requests with 200, on
both backends (the count under callgrind is only worth reading if every request succeeded the same way)."""

from __future__ import annotations

import asyncio

import pytest

from bench import instructions, mint, targets


@pytest.mark.parametrize("scenario", instructions.SCENARIOS)
def test_every_scenario_is_answered_200(database: str, scenario: str) -> None:
    seed = targets.seed(database)
    user_id = mint.user_id(database, targets.USERNAME)
    secrets = instructions.minted(scenario, database, seed, user_id, 5)
    asyncio.run(instructions.drive(scenario, database, seed, secrets, 5))


def test_a_request_that_fails_stops_the_run(database: str) -> None:
    seed = targets.seed(database)
    with pytest.raises(RuntimeError, match="gave 400"):  # a refresh token never minted
        asyncio.run(instructions.drive("refresh", database, seed, ["srt_unknown"], 1))
