"""What a run found: results.json, RESULTS.md (keeping its "What was tried" section) and results.png."""

from __future__ import annotations

import json
import platform
import re
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import Summary

ROOT = Path(__file__).resolve().parent.parent
TRIED_HEADING = "## What was tried"


@dataclass(frozen=True)
class Measurement:
    summary: Summary
    peak_rss_mib: float


@dataclass(frozen=True)
class Row:
    name: str
    title: str
    sekisho: Measurement
    peer: Measurement | None

    @property
    def ratio(self) -> float | None:
        if self.peer is None or self.peer.summary.requests_per_s == 0:
            return None
        return self.sekisho.summary.requests_per_s / self.peer.summary.requests_per_s


# ------------------------------------------------------------------------------------------ machine, versions


def _output(command: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=cwd, check=False)
    except OSError:
        return "?"
    return (done.stdout or done.stderr).strip() or "?"


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return {
        "nproc": _output(["nproc"]),
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "ram": f"{int(memory.group(1)) / 1024 / 1024:.1f} GiB" if memory else "?",
        "kernel": platform.release(),
        "load average at start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def versions(postgres_bin: Path | None, node: Path | None) -> dict[str, str]:
    commit = _output(["git", "rev-parse", "--short", "HEAD"], ROOT)
    if _output(["git", "status", "--porcelain", "--untracked-files=no"], ROOT) not in ("", "?"):
        commit += " (with uncommitted changes)"
    found = {"Python": platform.python_version(), "sekisho commit": commit}
    found["PostgreSQL"] = _output([str(postgres_bin / "postgres"), "--version"]) if postgres_bin else "not used"
    found["Node"] = _output([str(node), "--version"]) if node else "not used"
    if node is not None:
        package = node.parents[2] / "oidc-provider" / "package.json"
        found["oidc-provider"] = json.loads(package.read_text())["version"] if package.exists() else "?"
    else:
        found["oidc-provider"] = "not used"
    found["wrk"] = _output(["wrk", "-v"]).splitlines()[0].split(" Copyright")[0]
    found["uvicorn / asyncpg"] = _package_versions("uvicorn", "asyncpg")
    return found


def _package_versions(*names: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in names:
        try:
            found.append(version(name))
        except PackageNotFoundError:
            found.append("-")
    return " / ".join(found)


# ------------------------------------------------------------------------------------------------- writing


def write(out: Path, rows: list[Row], meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "rows": [asdict(row) | {"ratio": row.ratio} for row in rows]}, indent=2) + "\n"
    )
    results = out / "RESULTS.md"
    results.write_text(markdown(rows, meta, _kept_notes(results)))
    chart(rows, out / "results.png", meta)


def _kept_notes(results: Path) -> str:
    """The "What was tried" section of an earlier RESULTS.md, word for word (from its heading to the end)."""
    if results.exists():
        text = results.read_text()
        start = text.find(TRIED_HEADING)
        if start >= 0:
            return text[start:].rstrip() + "\n"
    return f"{TRIED_HEADING}\n\n(Notes on what was tried: the harness keeps this section when it rewrites the file.)\n"


def _num(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def table(rows: list[Row]) -> str:
    """One line a scenario; CPU is what the serving process used during the runs, in % of its one core."""
    lines = [
        "| scenario | sekisho req/s | p50 ms | p99 ms | CPU % | peak RSS MiB | peer req/s | peer p50 / p99 ms "
        "| peer CPU % | peer RSS MiB | sekisho / peer |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        s, p = row.sekisho.summary, row.peer
        ours = f"{_num(s.requests_per_s)} | {_num(s.p50_ms, 2)} | {_num(s.p99_ms, 2)} | {_num(s.server_cpu_pct)}"
        theirs = "– | – | – | –"
        if p is not None:
            t = p.summary
            theirs = f"{_num(t.requests_per_s)} | {_num(t.p50_ms, 2)} / {_num(t.p99_ms, 2)} | {_num(t.server_cpu_pct)}"
            theirs += f" | {_num(p.peak_rss_mib, 1)}"
        ratio = f"{row.ratio:.2f}×" if row.ratio else "–"
        lines.append(
            f"| {row.title} (`{row.name}`) | {ours} | {_num(row.sekisho.peak_rss_mib, 1)} | {theirs} | {ratio} |"
        )
    return "\n".join(lines)


def problems(rows: list[Row]) -> list[str]:
    found = []
    for row in rows:
        for side, measured in (("sekisho", row.sekisho), ("peer", row.peer)):
            if measured is None:
                continue
            s = measured.summary
            if s.unexpected or s.socket_errors:
                found.append(
                    f"{row.name} ({side}): {s.unexpected} unexpected responses, {s.socket_errors} socket errors"
                    + (f"; first: {s.sample}" if s.sample else "")
                )
    return found


def how_measured(params: dict[str, Any]) -> str:
    warmup = f"after a {params['warmup_s']} s warm-up run" if params["warmup_s"] else "with no warm-up run"
    return (
        f"req/s, p50 and p99 are the medians of {params['runs']} wrk run(s) of {params['duration_s']} s each, "
        f"{warmup}.\nPeak RSS is VmHWM of the serving process, read after its last run: it counts from the "
        "process's start,\nso it includes start-up and any warm-up. The peer is node's oidc-provider with its "
        "in-memory adapter;\nit is measured once per configuration, so both client_credentials opaque rows compare "
        "against the same\npeer figures. CPU % is the CPU time the serving process used during the runs, in % of "
        "the one core it\nis pinned to: near 100 the server itself is the limit; well below, it waits (on "
        "PostgreSQL's fsync, say).\nPostgreSQL is not pinned: its backends run on whichever core is free, and their "
        "CPU and memory are not\ncounted here."
    )


def markdown(rows: list[Row], meta: dict[str, Any], notes: str) -> str:
    params = meta["parameters"]
    listing = "\n".join(f"- {key}: {value}" for key, value in meta["machine"].items())
    tools = "\n".join(f"- {key}: {value}" for key, value in meta["versions"].items())
    errors = problems(rows)
    warning = (
        "\n".join(f"- **{line}**" for line in errors) if errors else "- none: every response had the expected status"
    )
    note = f"\n> {meta['note']}\n" if meta.get("note") else ""
    servers = (
        "the scenarios of one backend and token format share one server (so peak RSS accumulates over\n  them) and"
        if params.get("share_servers")
        else "each scenario gets a fresh server and"
    )
    return f"""# sekisho benchmark results

Written by `bench/run` on {meta["date"]}; `bench/results.png` charts the same figures.
{note}
{table(rows)}

{how_measured(params)}

## Errors

{warning}

## How it was run

- command: `{params["command"]}`
- load: `taskset -c 1 wrk -t1 -c{params["connections"]} -d{params["duration_s"]}s --timeout 10s --latency`
  with bench/lua/post.lua or pool.lua, on 127.0.0.1; servers pinned with `taskset -c 0`, one process each
  (`sekisho serve --workers 1`); login-pg at most `-c4`: one account's logins at once past 5 are throttled by
  design (docs/security.md)
- PostgreSQL: a throwaway cluster with durable settings (fsync, synchronous_commit and full_page_writes on, as
  shipped); SQLite: a file in a temporary folder (WAL, synchronous=NORMAL, as sekisho opens it)
- {servers} a fresh copy of a database seeded with `sekisho user add` and
  `sekisho client add`
- refresh tokens and authorization codes are minted in bulk into the database before each run, one grant each
  (bench/mint.py), and handed out one per request by bench/lua/pool.lua
- introspection: the confidential client introspects one of its own client_credentials tokens, on both sides;
  /api/i uses a user's token from a real code exchange, sent with every request as a client would; `api-jwt-pg`
  is the demo API of `sekisho serve`, which looks every token up in the store (revocation counts at once);
  `api-jwt-local` is bench/resource_api.py, a resource server of `sekisho.resource` alone (JwtVerifier against
  sekisho's JWKS, no database), pinned to the server core beside `sekisho serve`; its peak RSS is its own;
  the login reuses one CSRF cookie/token pair
- the two `floor` rows are not sekisho: bench/floor_api.py on Starlette + uvicorn (+ asyncpg's pool) answers the
  same client_credentials request checking nothing, with no database or with one INSERT of the token's digest,
  on the server core; they show what sekisho's stack allows, and their last column is floor / peer

## Machine

{listing}

## Versions

{tools}

{notes}"""


def chart(rows: list[Row], path: Path, meta: dict[str, Any]) -> None:
    """Two panels: req/s (sekisho beside the peer where there is one) and peak RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row.name for row in rows]
    positions = list(range(len(rows)))
    width = 0.4
    figure, (speed, memory) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    ours = [row.sekisho.summary.requests_per_s for row in rows]
    theirs = [row.peer.summary.requests_per_s if row.peer else 0.0 for row in rows]
    speed.bar([x - width / 2 for x in positions], ours, width, label="sekisho", color="#3b6ea5")
    speed.bar([x + width / 2 for x in positions], theirs, width, label="oidc-provider (peer)", color="#c8763a")
    for x, value in zip(positions, ours, strict=True):
        speed.annotate(f"{value:,.0f}", (x - width / 2, value), ha="center", va="bottom", fontsize=7)
    for x, value in zip(positions, theirs, strict=True):
        if value:
            speed.annotate(f"{value:,.0f}", (x + width / 2, value), ha="center", va="bottom", fontsize=7)
    speed.set_ylabel("requests/s (median)")
    speed.set_title("Throughput, one core, wrk -c32")
    memory.bar([x - width / 2 for x in positions], [row.sekisho.peak_rss_mib for row in rows], width, color="#3b6ea5")
    memory.bar(
        [x + width / 2 for x in positions],
        [row.peer.peak_rss_mib if row.peer else 0.0 for row in rows],
        width,
        color="#c8763a",
    )
    memory.set_ylabel("peak RSS (MiB)")
    memory.set_title("Peak RSS of the serving process")
    for axes in (speed, memory):
        axes.set_xticks(positions, names, rotation=35, ha="right", fontsize=8)
        axes.grid(axis="y", alpha=0.3)
    speed.legend()
    params = meta["parameters"]
    figure.suptitle(
        f"sekisho {meta['versions']['sekisho commit']} vs oidc-provider {meta['versions']['oidc-provider']} — "
        f"{params['runs']}×{params['duration_s']} s, {meta['machine']['nproc']} cores, {meta['date'][:10]}",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def command_line() -> str:
    """How bench/run was called, less --note (its text heads RESULTS.md already)."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg.startswith("--note="):
            skip = False
            continue
        if arg == "--note":
            skip = True
            continue
        args.append(arg)
    return shlex.join(["bench/run", *args])
