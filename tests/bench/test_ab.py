"""`python -m bench.ab`: two trees of sekisho served at once, their wrk runs interleaved (issue 22's performance
guard). Here this tree against a copy of its own src/, on SQLite, one short round: both servers answer, the line
names both and a ratio, and the copy's server really ran the copy.

Needs wrk and taskset: without them it skips on a developer machine and fails in CI (CI=true)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.needs import unavailable

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]


def test_ab_serves_both_trees_and_prints_their_ratio(tmp_path: Path) -> None:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is missing (run scripts/system-deps as root)")
    copy = tmp_path / "before"
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run(
        [sys.executable, "-m", "bench.ab", str(copy), "--only", "cc-opaque-sqlite", "--duration", "1", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    line = re.search(
        r"cc-opaque-sqlite +req/s +[\d,]+ → +[\d,]+: (\d\.\d+)× .* server CPU a request +\d+ → +\d+ µs: \d\.\d+×",
        done.stdout,
    )
    assert line is not None, done.stdout
    assert float(line.group(1)) > 0
    assert f"before: {copy / 'src' / 'sekisho' / '__init__.py'}" in done.stderr  # the copy's server ran the copy


def test_ab_refuses_a_folder_without_sekisho(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ab", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "no src/sekisho in" in done.stderr
