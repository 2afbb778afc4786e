"""The memory target: peak RSS of one `sekisho serve` worker after a million client_credentials tokens on PostgreSQL.

    .venv/bin/python -m bench.rss_million                   # 1,000,000 tokens (tens of minutes at today's rates)
    .venv/bin/python -m bench.rss_million --tokens 100000   # a shorter check of the trend

A throwaway durable PostgreSQL cluster, seeded with the CLI as bench/run does; `sekisho serve` pinned to the server
core (opaque tokens, no access log); wrk from the load core in chunks of `--chunk` seconds until `--tokens` tokens were
issued. After each chunk it prints the tokens so far, the chunk's rate and p99, and the worker's VmRSS and VmHWM, so
a leak shows as a climb; at the end, VmHWM against the 120 MiB target. Exit status 1 if any response was not 200.
Not one of bench/run's scenarios: it takes far longer than the rest together.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.pg import throwaway_cluster

from bench import load, mint, procs, scenarios, targets
from bench.scenarios import Target

TARGET_MIB = 120.0


def vm_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.rss_million", description=__doc__)
    parser.add_argument("--tokens", type=int, default=1_000_000, help="tokens to issue (default 1,000,000)")
    parser.add_argument("--chunk", type=int, default=30, help="seconds per wrk run (default 30)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sekisho-rss-") as scratch:
        folder = Path(scratch)
        folder.chmod(0o755)  # the postgres user must reach the cluster's folder inside it
        procs.say("starting a throwaway PostgreSQL cluster (durable settings) …")
        with throwaway_cluster(folder / "postgres", durable=True) as cluster:
            seed = targets.seed(cluster.create_database("seed"))
            user_id = mint.user_id(seed.database, targets.USERNAME)
            with targets.sekisho_serve(seed.database, "opaque", folder / "sekisho.log") as server:
                target = Target.of_sekisho(server.url, folder, seed, user_id, seed.database)
                request = scenarios.client_credentials(target).make(0)
                issued, unexpected = 0, 0
                while issued < args.tokens:
                    run = load.run_wrk(request, args.chunk, 32, server.serving_pid)
                    issued += run.requests - run.unexpected
                    unexpected += run.unexpected
                    procs.say(
                        f"{issued:>9,} tokens  {run.requests_per_s:7,.0f} req/s  p99 {run.p99_ms:7.2f} ms  "
                        f"VmRSS {vm_rss_mib(server.serving_pid):6.1f} MiB  VmHWM {server.peak_rss_mib():6.1f} MiB"
                    )
                peak = server.peak_rss_mib()
    verdict = "met" if peak <= TARGET_MIB else "NOT met"
    print(f"peak RSS (VmHWM) after {issued:,} tokens: {peak:.1f} MiB; target ≤ {TARGET_MIB:.0f} MiB: {verdict}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
