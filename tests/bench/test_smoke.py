"""`bench/run --smoke`: every scenario runs for 2 s against a real sekisho serve (and node's oidc-provider where it
is compared), gets answers, and every answer has the expected status (issue 6).

Needs wrk, taskset, npm and PostgreSQL's server binaries: without one it skips on a developer machine and fails
in CI (CI=true). It loads both cores for about a minute; deselect it with `-m "not bench"`.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from bench.scenarios import SCENARIOS

from tests.needs import unavailable
from tests.pg import PostgresMissing, server_binaries

pytestmark = pytest.mark.bench

RUN = Path(__file__).resolve().parents[2] / "bench" / "run"
TIMEOUT = 600  # about a minute, plus `npm ci` of tests/oidc_provider the first time


def _require_tools() -> None:
    for tool, package in (("wrk", "wrk"), ("taskset", "util-linux"), ("npm", "nodejs npm")):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is missing (apt-get install {package}, or run scripts/system-deps as root)")
    try:
        server_binaries()
    except PostgresMissing as exc:
        unavailable(str(exc))


def _run_smoke(out: Path) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [str(RUN), "--smoke", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # the harness stops its servers, node and PostgreSQL on SIGTERM
        output, _ = process.communicate(timeout=60)
        pytest.fail(f"bench/run --smoke took more than {TIMEOUT} s:\n{output[-4000:]}")
    return subprocess.CompletedProcess(process.args, process.returncode, output, "")


def test_every_scenario_answers_with_the_expected_status(tmp_path: Path) -> None:
    _require_tools()
    done = _run_smoke(tmp_path)
    if done.returncode == 2:  # a tool is missing after all, or `npm ci` failed
        unavailable(f"bench/run --smoke could not run:\n{done.stdout[-2000:]}")
    assert done.returncode in (0, 1), done.stdout[-4000:]
    rows = {row["name"]: row for row in json.loads((tmp_path / "results.json").read_text())["rows"]}
    assert set(rows) == {scenario.name for scenario in SCENARIOS}, done.stdout[-4000:]
    for scenario in SCENARIOS:
        row = rows[scenario.name]
        sides = {"sekisho": row["sekisho"]} | ({"peer": row["peer"]} if scenario.peer else {})
        for side, measured in sides.items():
            summary = measured["summary"]
            assert summary["requests_per_s"] > 0, f"{scenario.name} ({side}): no requests\n{done.stdout[-4000:]}"
            assert summary["unexpected"] == 0, (
                f"{scenario.name} ({side}): {summary['unexpected']} responses with an unexpected status, "
                f"first: {summary['sample']}"
            )
            assert measured["peak_rss_mib"] > 0, f"{scenario.name} ({side}): no peak RSS"
    assert (tmp_path / "RESULTS.md").read_text().count("|") > 0
    assert (tmp_path / "results.png").stat().st_size > 0
