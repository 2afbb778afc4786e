"""Processes the harness starts: pinned to a core, tied to the harness's life, stopped by their own id.

Every child gets PR_SET_PDEATHSIG(SIGTERM), so a server or a peer ends even if the harness is killed outright;
PostgreSQL (pg_ctl daemonises it) is stopped by `tests.pg.throwaway_cluster` in a `finally`.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

SERVER_CORE = 0
LOAD_CORE = 1
_PR_SET_PDEATHSIG = 1
_STARTED = time.monotonic()


def say(message: str) -> None:
    """Progress on stderr, each line with the seconds since the harness started."""
    print(f"[{time.monotonic() - _STARTED:4.0f} s] {message}", file=sys.stderr, flush=True)


def die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the harness goes away."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def pinned(core: int, command: Sequence[str]) -> list[str]:
    """`taskset -c CORE COMMAND…`: taskset execs the command, so the child keeps the pid Popen returns."""
    return ["taskset", "-c", str(core), *command]


def start(
    command: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: int | None = subprocess.DEVNULL,
    stdout: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start `command` with stderr (and stdout unless given) going to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=stdin,
            stdout=stdout if stdout is not None else sink,
            stderr=sink,
            preexec_fn=die_with_parent,
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it lingers; only this process, by its pid."""
    if process.stdin is not None:
        process.stdin.close()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; fail with the log's tail if the process dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{_name(process)} exited ({process.returncode}) before serving:\n{tail(log)}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{_name(process)} did not serve {url} within {timeout:.0f} s:\n{tail(log)}")


def _name(process: subprocess.Popen[bytes]) -> str:
    args = process.args
    return " ".join(str(arg) for arg in args[:4]) if isinstance(args, list) else str(args)


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, parents first."""
    order, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        order.append(current)
        queue += _children(current)
    return order


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[1].rsplit(":", 1)[1] == f"{port:04X}" and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def serving_pid(root: int, port: int) -> int:
    """The process in `root`'s tree that holds the listening socket on `port` (the deepest one, for a uvicorn
    supervisor with workers); `root` itself when none can be told (no /proc access)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    holders = []
    for pid in _tree(root):
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        except OSError:
            continue
        if links & wanted:
            holders.append(pid)
    return holders[-1] if holders else root


def describe_tree(root: int) -> str:
    """`ps`-like lines (pid, ppid, RSS, command) for `root` and its descendants, to show which one serves."""
    lines = []
    for pid in _tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = _status_field(status, "PPid")
        rss = _status_field(status, "VmRSS")
        lines.append(f"    pid {pid} ppid {ppid} rss {rss}: {command.strip()[:100]}")
    return "\n".join(lines)


def _status_field(status: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(.+)$", status, re.MULTILINE)
    return match.group(1).strip() if match else "?"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far (all its threads)."""
    return _cpu_ticks(pid) / os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of proc(5))


def wait_idle(pid: int, timeout: float = 30.0, interval: float = 0.25) -> None:
    """Wait until `pid` uses (almost) no CPU, so that work queued by one run (a backlog of password hashes,
    say) does not eat into the next; gives up silently after `timeout`."""
    deadline = time.monotonic() + timeout
    before = _cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(interval)
        after = _cpu_ticks(pid)
        if after - before <= 1:  # at most one tick (10 ms) in 250 ms
            return
        before = after


def peak_rss_mib(pid: int) -> float:
    """VmHWM (the peak resident set since the process started) of `pid`, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    value = _status_field(status, "VmHWM")
    if not value.endswith("kB"):
        raise RuntimeError(f"no VmHWM in /proc/{pid}/status")
    return int(value.removesuffix("kB").strip()) / 1024
