"""sekisho's benchmark harness: sekisho serve against node's oidc-provider, one core each way, in one command.

    bench/run                                   # every scenario: a warm-up run, then the median of 3 runs
    bench/run --duration 30 --runs 3 --warmup 10 --only cc-opaque-pg refresh-pg
    bench/run --smoke                           # each scenario once for 2 s, for CI (tests/bench/test_smoke.py)
    bench/run --list                            # the scenario names

What one run does (see bench/RESULTS.md for the figures):
- starts a throwaway PostgreSQL cluster with durable settings (tests/pg.py) when a scenario needs it, seeds a
  database with `sekisho user add` / `sekisho client add` (and a SQLite file likewise), and copies it for each
  scenario;
- starts `sekisho serve` (one worker, `taskset -c 0`) fresh for each scenario (with --smoke, one for each backend
  and token format), opaque or `--access-token-format jwt`, and node's oidc-provider 9 (tests/oidc_provider: Node
  22 from npm, `npm ci` when missing) on the same core for the scenarios that have a peer;
- drives each with `taskset -c 1 wrk -t1 -c32 --latency` and bench/lua/*.lua, and records req/s, p50, p99
  (medians of the runs after the warm-up), responses with an unexpected status, and the serving process's peak
  RSS (VmHWM);
- writes RESULTS.md, results.png and results.json to --out: bench/ for a full run; a new temporary folder
  (printed) for --smoke or --only, so that a partial run never replaces the full results.

Every process it starts (servers, node, wrk, PostgreSQL) is stopped before it exits, on errors too.
Exit status: 0 when every scenario ran with no unexpected response, 1 otherwise, 2 when a tool is missing.
"""

from __future__ import annotations

import argparse
import math
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from tests.node import NODE
from tests.pg import Cluster, PostgresMissing, server_binaries, throwaway_cluster

from bench import load, mint, procs, report, targets
from bench.report import Measurement, Row
from bench.scenarios import SCENARIOS, Peer, Scenario, Target, Workload

BENCH = Path(__file__).resolve().parent
FIRST_RATE_GUESS = 3000.0  # req/s, to size the first pool of single-use secrets; later pools follow measured rates
POOL_MARGIN = 1.5


@dataclass(frozen=True)
class Options:
    duration: int
    runs: int
    warmup: int  # seconds of the warm-up run; 0: none
    connections: int
    only: tuple[str, ...]
    out: Path | None  # None: a new temporary folder (--smoke, --only), made once the tools are known to be there
    note: str
    smoke: bool
    share_servers: bool  # one sekisho serve per configuration rather than per scenario (peak RSS accumulates)


def parse_options(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="each scenario once for 2 s, no warm-up (CI)")
    parser.add_argument("--duration", type=int, help="seconds per measured run (default 30; smoke 2)")
    parser.add_argument("--runs", type=int, help="measured runs per scenario, the median is kept (default 3)")
    parser.add_argument("--warmup", type=int, help="seconds of the warm-up run before them (default 10; 0: none)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (default 32)")
    parser.add_argument("--only", nargs="+", metavar="SCENARIO", help="run only these scenarios (see --list)")
    parser.add_argument("--out", type=Path, help="folder for RESULTS.md, results.png, results.json")
    parser.add_argument("--note", default="", help="a line to put at the top of RESULTS.md")
    parser.add_argument(
        "--share-servers",
        action=argparse.BooleanOptionalAction,
        help="one sekisho serve per backend and token format instead of one per scenario, so peak RSS accumulates "
        "over its scenarios (default: on for --smoke, off otherwise)",
    )
    parser.add_argument("--list", action="store_true", help="print the scenario names and exit")
    args = parser.parse_args(argv)
    if args.list:
        for scenario in SCENARIOS:
            peer = f"  (vs peer {scenario.peer.key})" if scenario.peer else ""
            print(f"{scenario.name:18} {scenario.title}{peer}")
        raise SystemExit(0)
    known = {scenario.name for scenario in SCENARIOS}
    unknown = sorted(set(args.only or ()) - known)
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)} (one of: {', '.join(sorted(known))})")
    duration = args.duration or (2 if args.smoke else 30)
    runs = args.runs or (1 if args.smoke else 3)
    warmup = args.warmup if args.warmup is not None else (0 if args.smoke else min(10, duration))
    if duration < 1 or runs < 1 or warmup < 0 or args.connections < 1:
        parser.error("--duration, --runs and --connections must be positive, --warmup not negative")
    partial = args.smoke or bool(args.only)
    out = args.out or (None if partial else BENCH)
    share = args.smoke if args.share_servers is None else args.share_servers
    only = tuple(args.only or ())
    return Options(duration, runs, warmup, args.connections, only, out, args.note, args.smoke, share)


say = procs.say


# ---------------------------------------------------------------------------------------------- measuring


def pool_size(rate: float, duration: int, connections: int) -> int:
    return math.ceil(rate * duration * POOL_MARGIN) + 4 * connections


def one_run(workload: Workload, duration: int, options: Options, rate: float, server_pid: int) -> load.RunResult:
    """One wrk run once the server is idle; a pooled workload whose pool ran out is run again with a pool three
    times the size."""
    for _ in range(3):
        request = workload.make(pool_size(rate, duration, options.connections) if workload.pooled else 0)
        procs.wait_idle(server_pid)
        result = load.run_wrk(request, duration, options.connections, server_pid)
        if not result.exhausted:
            return result
        say(f"    the pool of {pool_size(rate, duration, options.connections)} ran out: again with a bigger one")
        rate *= 3
    raise RuntimeError("the pool of single-use secrets ran out three times")


def measure(label: str, workload: Workload, options: Options, server_pid: int) -> load.Summary:
    """The warm-up run (not kept), then `runs` runs; their medians."""
    rate = FIRST_RATE_GUESS
    kept: list[load.RunResult] = []
    plan = [("warm-up", options.warmup)] if options.warmup else []
    plan += [(f"run {n + 1}/{options.runs}", options.duration) for n in range(options.runs)]
    for name, duration in plan:
        result = one_run(workload, duration, options, rate, server_pid)
        rate = max(result.requests_per_s, 50.0)
        say(
            f"  {label:34} {name:9} {result.requests_per_s:9,.0f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:7.2f} ms  CPU {result.server_cpu_pct:3.0f} %  unexpected {result.unexpected}  "
            f"socket errors {result.socket_errors}" + (f"  first: {result.sample}" if result.sample else "")
        )
        if name != "warm-up":
            kept.append(result)
    return load.Summary.of(kept)


# ------------------------------------------------------------------------------------------- environment


@dataclass
class Environment:
    """The databases, the seeds, the peer's client and a scratch folder for one harness run."""

    folder: Path
    cluster: Cluster | None
    seeds: dict[str, targets.Seed]
    user_ids: dict[str, str]
    peer_client: targets.PeerClient
    peer_results: dict[str, Measurement] = field(default_factory=dict)
    counter: int = 0

    @contextmanager
    def database(self, backend: str) -> Iterator[str]:
        """A fresh copy of the seeded database, dropped afterwards."""
        self.counter += 1
        name = f"scenario_{self.counter}"
        if backend == "pg":
            assert self.cluster is not None
            url = self.cluster.create_database(name, template="seed")
            try:
                yield url
            finally:
                self.cluster.drop_database(name)
            return
        copy = self.folder / f"{name}.db"
        for suffix in ("", "-wal"):  # the CLI's last connection checkpoints, but a WAL left behind goes along
            if Path(f"{self.folder / 'seed.db'}{suffix}").exists():
                shutil.copyfile(f"{self.folder / 'seed.db'}{suffix}", f"{copy}{suffix}")
        try:
            yield f"sqlite:///{copy}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)


def seed_databases(folder: Path, cluster: Cluster | None, backends: Collection[str]) -> dict[str, targets.Seed]:
    """Seed PostgreSQL and SQLite side by side with the CLI (each CLI call takes a second or two)."""
    urls = {}
    if "pg" in backends:
        assert cluster is not None
        urls["pg"] = cluster.create_database("seed")
    if "sqlite" in backends:
        urls["sqlite"] = f"sqlite:///{folder / 'seed.db'}"
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {backend: pool.submit(targets.seed, url) for backend, url in urls.items()}
        return {backend: future.result() for backend, future in futures.items()}


def check_tools(selected: Sequence[Scenario]) -> Path | None:
    """wrk and taskset always; PostgreSQL's binaries if a scenario needs them (returned); the peer's npm install."""
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise targets.Unavailable(f"{tool} is missing (apt-get install {'wrk' if tool == 'wrk' else 'util-linux'})")
    postgres = None
    if any(scenario.backend == "pg" for scenario in selected):
        try:
            postgres = server_binaries()
        except PostgresMissing as exc:
            raise targets.Unavailable(str(exc)) from exc
    if any(scenario.peer for scenario in selected):
        targets.install_peer()
    return postgres


# -------------------------------------------------------------------------------------------- scenarios


def server_groups(selected: Sequence[Scenario], shared: bool) -> list[list[Scenario]]:
    """Scenarios that run on one `sekisho serve`: each its own, or (shared) one per backend and token format."""
    if not shared:
        return [[scenario] for scenario in selected]
    groups: dict[tuple[str, str], list[Scenario]] = {}
    for scenario in selected:
        groups.setdefault((scenario.backend, scenario.token_format), []).append(scenario)
    return list(groups.values())


def run_sekisho(group: Sequence[Scenario], env: Environment, options: Options) -> dict[str, Measurement]:
    """The scenarios of `group` one after the other on one server and one fresh copy of the seeded database."""
    backend, token_format = group[0].backend, group[0].token_format
    seed = env.seeds[backend]
    measured = {}
    with env.database(backend) as database:
        log = env.folder / f"sekisho-{group[0].name}.log"
        with targets.sekisho_serve(database, token_format, log) as server:
            target = Target.of_sekisho(server.url, env.folder, seed, env.user_ids[backend], database)
            for scenario in group:
                say(f"{scenario.name}: {scenario.title}")
                with ExitStack() as stack:
                    measured_server, scenario_target = server, target
                    log = env.folder / f"{scenario.measured}-{scenario.name}.log"
                    if scenario.measured == "resource-api":  # sekisho serve issues the tokens it checks
                        measured_server = stack.enter_context(targets.resource_api(server.url, log))
                        scenario_target = replace(target, api_url=measured_server.url)
                    elif scenario.measured in ("floor", "floor-pg"):  # sekisho serve stands by, idle
                        floor_database = database if scenario.measured == "floor-pg" else None
                        measured_server = stack.enter_context(targets.floor_api(floor_database, log))
                        scenario_target = replace(target, url=measured_server.url)
                    workload = scenario.workload(scenario_target)
                    own = options
                    if scenario.connections is not None:
                        own = replace(options, connections=min(options.connections, scenario.connections))
                    summary = measure(f"sekisho {scenario.name}", workload, own, measured_server.serving_pid)
                    measured[scenario.name] = Measurement(summary, measured_server.peak_rss_mib())
    return measured


def run_peer(peer: Peer, env: Environment, options: Options) -> Measurement:
    """oidc-provider in `peer`'s configuration; measured once per harness run and reused."""
    if peer.key in env.peer_results:
        return env.peer_results[peer.key]
    log = env.folder / f"peer-{peer.key}.log"
    with targets.peer(peer.token_format, env.peer_client, log) as server:
        target = Target(
            url=server.url,
            folder=env.folder,
            client_id=env.peer_client.client_id,
            client_secret=env.peer_client.secret,
            token_path="/token",
            introspection_path="/token/introspection",
        )
        summary = measure(f"oidc-provider {peer.key}", peer.workload(target), options, server.serving_pid)
        measured = Measurement(summary, server.peak_rss_mib())
    env.peer_results[peer.key] = measured
    return measured


def run_all(selected: Sequence[Scenario], options: Options, folder: Path) -> list[Row]:
    backends = {scenario.backend for scenario in selected}
    with ExitStack() as stack:
        cluster = None
        if "pg" in backends:
            say("starting a throwaway PostgreSQL cluster (durable settings) …")
            cluster = stack.enter_context(throwaway_cluster(folder / "postgres", durable=True))
        say("seeding with sekisho user add / client add …")
        seeds = seed_databases(folder, cluster, backends)
        user_ids = {backend: mint.user_id(seed.database, targets.USERNAME) for backend, seed in seeds.items()}
        peer_client = targets.PeerClient("bench-service", secrets.token_urlsafe(24))
        env = Environment(folder, cluster, seeds, user_ids, peer_client)
        ours: dict[str, Measurement] = {}
        for group in server_groups(selected, options.share_servers):
            ours |= run_sekisho(group, env, options)
            for scenario in group:  # the peer right after, so that both see the machine in the same state
                if scenario.peer is not None:
                    run_peer(scenario.peer, env, options)
        return [Row(s.name, s.title, ours[s.name], env.peer_results[s.peer.key] if s.peer else None) for s in selected]


def metadata(options: Options, postgres: Path | None) -> dict[str, Any]:
    node = NODE if NODE.exists() else None
    return {
        "date": report.now(),
        "note": options.note,
        "machine": report.machine(),
        "versions": report.versions(postgres, node),
        "parameters": {
            "command": report.command_line(),
            "duration_s": options.duration,
            "runs": options.runs,
            "warmup_s": options.warmup,
            "connections": options.connections,
            "smoke": options.smoke,
            "share_servers": options.share_servers,
        },
    }


def _terminate(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # unwinds through every `finally`: servers, node and PostgreSQL stop


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    selected = [s for s in SCENARIOS if not options.only or s.name in options.only]
    started = time.monotonic()
    try:
        postgres = check_tools(selected)
    except targets.Unavailable as exc:
        say(f"bench/run: {exc}")
        return 2
    meta = metadata(options, postgres)  # before the load, so the load average is the machine's own
    with tempfile.TemporaryDirectory(prefix="sekisho-bench-work-") as scratch:
        folder = Path(scratch)
        folder.chmod(0o755)  # the postgres user must reach the cluster's folder inside it
        rows = run_all(selected, options, folder)
    out = options.out or Path(tempfile.mkdtemp(prefix="sekisho-bench-"))
    report.write(out, rows, meta)
    print(report.table(rows))
    bad = report.problems(rows)
    for line in bad:
        print(f"problem: {line}")
    say(f"wrote {out / 'RESULTS.md'}, results.png and results.json in {time.monotonic() - started:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
