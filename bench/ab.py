"""A/B of two trees of sekisho on bench/run's scenarios: both served at once, their wrk runs interleaved.

    .venv/bin/python -m bench.ab BEFORE [--tree AFTER] [--only SCENARIO ...] [--duration 8] [--rounds 5]

BEFORE and AFTER (default: this checkout) are folders holding src/sekisho, e.g. `git archive COMMIT | tar -x -C DIR`.
For each scenario whose server is `sekisho serve` (bench/scenarios.py), each tree gets a database of its own, seeded
by its own CLI, and a `sekisho serve` of its own (one worker, both on the server core; only one is driven at a time).
After a warm-up run of each, every round runs both, alternating which goes first (A B, B A, …), so that the drift
of a shared machine's speed falls on both alike. Printed per scenario: each tree's median req/s, and the median over
the rounds of AFTER's req/s over BEFORE's with the lowest and highest round; the same for the serving process's CPU
time a request (BEFORE's over AFTER's, so that above 1 is faster for both), which other processes on the machine
move less than req/s; and each tree's median p50. Exit status 1 when a run had unexpected responses.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from tests.pg import Cluster, throwaway_cluster

from bench import load, mint, procs, run, targets
from bench.scenarios import SCENARIOS, Scenario, Target, Workload

ROOT = Path(__file__).resolve().parent.parent
SERVED = [scenario for scenario in SCENARIOS if scenario.measured == "sekisho"]


@dataclass
class Side:
    """One tree's server for the scenario being measured, and its runs so far."""

    tree: Path
    pid: int
    workload: Workload
    results: list[load.RunResult]
    rate: float = run.FIRST_RATE_GUESS

    def once(self, options: run.Options, *, keep: bool) -> load.RunResult:
        result = run.one_run(self.workload, options.duration, options, self.rate, self.pid)
        self.rate = max(result.requests_per_s, 50.0)
        if keep:
            self.results.append(result)
        return result


def side(stack: ExitStack, scenario: Scenario, tree: Path, folder: Path, cluster: Cluster | None, n: int) -> Side:
    """`tree`'s server for `scenario` on a database of its own (dropped afterwards), seeded by `tree`'s CLI."""
    name = f"ab_{scenario.name.replace('-', '_')}_{n}"
    if scenario.backend == "pg":
        assert cluster is not None
        database = cluster.create_database(name)
        stack.callback(cluster.drop_database, name)
    else:
        database = f"sqlite:///{folder / name}.db"
    seed = targets.seed(database, tree)
    log = folder / f"ab-{n}-{scenario.name}.log"
    server = stack.enter_context(targets.sekisho_serve(database, scenario.token_format, log, tree))
    target = Target.of_sekisho(server.url, folder, seed, mint.user_id(database, targets.USERNAME), database)
    return Side(tree, server.serving_pid, scenario.workload(target), [])


def cpu_us(result: load.RunResult) -> float:
    """The serving process's CPU time a request in the run, µs."""
    return 1e6 * result.server_cpu_s / max(result.requests, 1)


def round_ratios(before: load.RunResult, after: load.RunResult) -> tuple[float, float]:
    """One round's ratios, both above 1 when AFTER is faster: AFTER's req/s over BEFORE's, and BEFORE's CPU time a
    request over AFTER's."""
    return after.requests_per_s / before.requests_per_s, cpu_us(before) / cpu_us(after)


def summary_line(name: str, before: Sequence[load.RunResult], after: Sequence[load.RunResult]) -> str:
    """A scenario's line from its rounds (`before[i]` and `after[i]` ran in round i): each tree's median req/s, the
    median ratio over the rounds with the lowest and highest, the same for CPU time a request, and each median p50."""
    rounds = [round_ratios(one, other) for one, other in zip(before, after, strict=True)]
    ratios, cpu_ratios = [ratio for ratio, _ in rounds], [ratio for _, ratio in rounds]
    a, b = load.Summary.of(before), load.Summary.of(after)
    return (
        f"{name:18} req/s {a.requests_per_s:7,.0f} → {b.requests_per_s:7,.0f}: "
        f"{statistics.median(ratios):.3f}× ({min(ratios):.3f}–{max(ratios):.3f})   "
        f"server CPU a request {statistics.median(map(cpu_us, before)):5.0f} → "
        f"{statistics.median(map(cpu_us, after)):5.0f} µs: "
        f"{statistics.median(cpu_ratios):.3f}× ({min(cpu_ratios):.3f}–{max(cpu_ratios):.3f})   "
        f"p50 {a.p50_ms:.2f} → {b.p50_ms:.2f} ms"
    )


def compare(
    scenario: Scenario, trees: tuple[Path, Path], options: run.Options, folder: Path, cluster: Cluster | None
) -> bool:
    """Measure `scenario` on both trees; print its line; False when a run had unexpected responses."""
    procs.say(f"{scenario.name}: {scenario.title}")
    rounds = options.runs
    with ExitStack() as stack:
        before, after = (side(stack, scenario, tree, folder, cluster, n) for n, tree in enumerate(trees))
        for one in (before, after):
            one.once(options, keep=False)
        for round_ in range(rounds):
            order = (before, after) if round_ % 2 == 0 else (after, before)
            for one in order:
                one.once(options, keep=True)
            last_before, last_after = before.results[-1], after.results[-1]
            ratio, cpu_ratio = round_ratios(last_before, last_after)
            procs.say(
                f"  round {round_ + 1}/{rounds}: before {last_before.requests_per_s:8,.0f} req/s "
                f"{cpu_us(last_before):6.0f} µs CPU  after {last_after.requests_per_s:8,.0f} req/s "
                f"{cpu_us(last_after):6.0f} µs CPU  {ratio:.3f}× / {cpu_ratio:.3f}×"
            )
    print(summary_line(scenario.name, before.results, after.results), flush=True)
    return load.Summary.of(before.results).unexpected == 0 and load.Summary.of(after.results).unexpected == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.ab", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("before", type=Path, help="a folder holding src/sekisho: the tree measured first")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the tree compared with it (default: this one)")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SERVED], metavar="SCENARIO", help="scenarios")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of one run each (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (default 32)")
    args = parser.parse_args(argv)
    trees = (args.before.resolve(), args.tree.resolve())
    if missing := [str(tree) for tree in trees if not (tree / "src" / "sekisho" / "__init__.py").is_file()]:
        parser.error(f"no src/sekisho in {', '.join(missing)}")
    if args.duration < 1 or args.rounds < 1 or args.connections < 1:
        parser.error("--duration, --rounds and --connections must be at least 1")
    for tree in trees:  # an editable install could shadow PYTHONPATH: make sure each server runs its own tree
        probe = [sys.executable, "-c", "import sekisho; print(sekisho.__file__)"]
        found = subprocess.run(probe, env=targets.tree_environment(tree), capture_output=True, text=True, check=False)
        if not found.stdout.startswith(str(tree / "src")):
            parser.error(f"python imports sekisho from {found.stdout.strip() or found.stderr[-300:]}, not from {tree}")
        procs.say(f"{'before' if tree == trees[0] else 'after'}: {found.stdout.strip()}")
    options = run.Options(args.duration, args.rounds, 0, args.connections, (), None, "", False, False)
    selected = [s for s in SERVED if not args.only or s.name in args.only]
    good = True
    with tempfile.TemporaryDirectory(prefix="sekisho-ab-") as scratch, ExitStack() as stack:
        folder = Path(scratch)
        folder.chmod(0o755)  # the postgres user must reach the cluster's folder inside it
        cluster = None
        if any(scenario.backend == "pg" for scenario in selected):
            cluster = stack.enter_context(throwaway_cluster(folder / "postgres", durable=True))
        for scenario in selected:
            good = compare(scenario, trees, options, folder, cluster) and good
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
