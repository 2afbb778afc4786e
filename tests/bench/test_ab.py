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
from bench.ab import summary_line
from bench.load import RunResult

from tests.needs import unavailable

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
# name, req/s before → after: median ratio (lowest–highest), CPU µs a request before → after: median ratio
LINE = re.compile(
    r"cc-opaque-sqlite +req/s +([\d,]+) → +([\d,]+): (\d\.\d+)× \((\d\.\d+)–(\d\.\d+)\) +"
    r"server CPU a request +(\d+) → +(\d+) µs: (\d\.\d+)×"
)


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
    line = LINE.search(done.stdout)
    assert line is not None, done.stdout
    before, after, ratio, _, _, cpu_before, cpu_after, cpu_ratio = figures(line)
    assert before > 0 and after > 0 and cpu_before > 0 and cpu_after > 0
    # one round: the ratios are of the figures printed beside them (rounded as printed: req/s and µs to units)
    assert ratio == pytest.approx(after / before, abs=0.002 + after / before / before)
    assert cpu_ratio == pytest.approx(cpu_before / cpu_after, abs=0.002 + cpu_before / cpu_after / cpu_after)
    assert f"before: {copy / 'src' / 'sekisho' / '__init__.py'}" in done.stderr  # the copy's server ran the copy


def test_the_line_gives_medians_and_the_ratio_of_each_round_on_known_runs() -> None:
    """Three rounds with known figures: req/s 1000 → 1100, 1200 → 1200, 900 → 1000 (ratios 1.100, 1.000, 1.111);
    CPU a request 100 → 80 µs, 100 → 100 µs, 120 → 100 µs (ratios 1.250, 1.000, 1.200)."""
    before = [run(1000, 100, 2.0), run(1200, 100, 3.0), run(900, 120, 1.0)]
    after = [run(1100, 80, 1.5), run(1200, 100, 2.5), run(1000, 100, 0.5)]
    text = summary_line("cc-opaque-sqlite", before, after)
    line = LINE.search(text)
    assert line is not None, text
    assert figures(line) == [1000, 1100, 1.1, 1.0, 1.111, 100, 100, 1.2]  # medians; the median round; min–max
    assert text.endswith("(1.000–1.250)   p50 2.00 → 1.50 ms")
    with pytest.raises(ValueError):  # a round with one side missing is a bug, never a ratio of unrelated runs
        summary_line("cc-opaque-sqlite", before, after[:2])


def run(requests_per_s: float, cpu_us: float, p50_ms: float) -> RunResult:
    """A run of 10,000 requests whose server used `cpu_us` µs of CPU for each."""
    return RunResult(requests_per_s, p50_ms, 2 * p50_ms, 10_000, 0, 0, False, server_cpu_s=cpu_us * 10_000 / 1e6)


def figures(line: re.Match[str]) -> list[float]:
    return [float(group.replace(",", "")) for group in line.groups()]


def test_ab_refuses_a_folder_without_sekisho(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ab", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "no src/sekisho in" in done.stderr
