"""Drive load with Debian's `wrk` on its own core, and read what it printed."""

from __future__ import annotations

import dataclasses
import re
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import procs

LUA = Path(__file__).parent / "lua"
THREADS = 1
TIMEOUT_S = 10  # wrk's per-request timeout; a login takes ~20 ms of CPU, so 32 queued ones wait ~0.7 s
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Request:
    """What wrk sends: `post.lua` with one fixed body, or `pool.lua` with one body a line from `pool`."""

    url: str
    headers: dict[str, str]
    expect: int = 200
    body: Path | None = None
    pool: Path | None = None

    def script_args(self) -> list[str]:
        args = [f"expect={self.expect}", f"threads={THREADS}"]
        args += [f"header={name}: {value}" for name, value in self.headers.items()]
        if self.pool is not None:
            return [*args, f"pool={self.pool}"]
        assert self.body is not None, "a Request needs a body or a pool"
        return [*args, f"body={self.body}"]

    @property
    def script(self) -> Path:
        return LUA / ("pool.lua" if self.pool is not None else "post.lua")


@dataclass(frozen=True)
class RunResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    unexpected: int  # responses whose status was not the expected one (2xx, or 303 for a login)
    socket_errors: int
    exhausted: bool  # a pool of single-use secrets ran out before the end
    sample: str = ""  # the first unexpected response, for diagnosis
    server_cpu_pct: float = 0.0  # CPU the serving process used during the run, in % of one core
    server_cpu_s: float = 0.0  # the same in seconds
    output: str = field(default="", repr=False)


def run_wrk(request: Request, duration: int, connections: int, server_pid: int) -> RunResult:
    """One wrk run pinned to the load core, and the CPU the server used meanwhile; wrk itself failing is an error,
    bad responses are counted."""
    command = procs.pinned(
        procs.LOAD_CORE,
        [
            "wrk",
            f"-t{THREADS}",
            f"-c{connections}",
            f"-d{duration}s",
            f"--timeout={TIMEOUT_S}s",
            "--latency",
            "-s",
            str(request.script),
            request.url,
            "--",
            *request.script_args(),
        ],
    )
    cpu, wall = procs.cpu_seconds(server_pid), time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120, check=False)
    cpu, wall = procs.cpu_seconds(server_pid) - cpu, time.monotonic() - wall
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return dataclasses.replace(parse(done.stdout), server_cpu_pct=100 * cpu / wall, server_cpu_s=cpu)


def parse(output: str) -> RunResult:
    """wrk's --latency report plus the `BENCH …` line that bench/lua/common.lua prints in done()."""
    bench = re.search(r"^BENCH unexpected=(\d+) exhausted=(\d+) sample=(.*)$", output, re.MULTILINE)
    if bench is None:
        raise RuntimeError(f"no BENCH line in wrk's output:\n{output}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return RunResult(
        requests_per_s=float(_find(r"^Requests/sec:\s+([\d.]+)", output)),
        p50_ms=_latency(output, "50%"),
        p99_ms=_latency(output, "99%"),
        requests=int(_find(r"^\s*(\d+) requests in", output)),
        unexpected=int(bench.group(1)),
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        exhausted=int(bench.group(2)) > 0,
        sample=bench.group(3).strip(),
        output=output,
    )


def _find(pattern: str, output: str) -> str:
    match = re.search(pattern, output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{pattern!r} not found in wrk's output:\n{output}")
    return match.group(1)


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {percentile} latency in wrk's output (was --latency given?):\n{output}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


@dataclass(frozen=True)
class Summary:
    """The medians of the measured runs (each figure on its own), and what went wrong in any of them."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_pct: float
    runs: int
    unexpected: int
    socket_errors: int
    sample: str

    @classmethod
    def of(cls, results: Sequence[RunResult]) -> Summary:
        return cls(
            requests_per_s=statistics.median(r.requests_per_s for r in results),
            p50_ms=statistics.median(r.p50_ms for r in results),
            p99_ms=statistics.median(r.p99_ms for r in results),
            server_cpu_pct=statistics.median(r.server_cpu_pct for r in results),
            runs=len(results),
            unexpected=sum(r.unexpected for r in results),
            socket_errors=sum(r.socket_errors for r in results),
            sample=next((r.sample for r in results if r.sample), ""),
        )
