"""bench/instructions.py's inner run, without valgrind: the real app answers each scenario's requests with 200, on
both backends (the count under callgrind is only worth reading if every request succeeded the same way)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from bench import instructions, mint, targets

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.parametrize("count", [0, 2])
def test_the_inner_run_takes_the_command_line_the_outer_run_builds(database: str, tmp_path: Path, count: int) -> None:
    """Both counts the outer run passes, 0 (start-up and warm-up alone) among them; as under valgrind, minus it."""
    seed = targets.seed(database)
    secrets = tmp_path / "secrets.json"
    secrets.write_text("[]")
    arguments = instructions.inner_arguments("cc", count, database, seed, secrets)
    done = subprocess.run(
        [sys.executable, "-m", *arguments], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr


def usage_error(*arguments: str) -> str:
    """The one-line complaint of `python -m bench.instructions ARGUMENTS`, which must exit 2 before any cluster."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.instructions", *arguments],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("count", ["0", "-3", "many"])
def test_a_request_count_below_one_is_refused(count: str) -> None:
    assert "--requests: must be a whole number of at least 1" in usage_error("api", "--requests", count)


def test_a_tree_without_sekisho_is_refused(tmp_path: Path) -> None:
    assert f"no src/sekisho in {tmp_path}" in usage_error("api", "--tree", str(tmp_path))


def test_an_unknown_scenario_is_refused() -> None:
    assert "invalid choice: 'nope'" in usage_error("nope")
