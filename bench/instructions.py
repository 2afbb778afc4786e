"""Instructions per request, counted by valgrind's callgrind: a figure this VM's drifting speed does not move.

    .venv/bin/python -m bench.instructions [api refresh cc] [--requests 100] [--tree DIR ...] [--calls]

The real app (`create_app`) on a durable throwaway PostgreSQL, driven in process over ASGI: no uvicorn and no wrk,
one request at a time, after a few to warm up. Each scenario runs twice under callgrind, with `--requests` and with
none besides the warm-up (start-up and warm-up alike, the secrets minted outside); the difference over the count is
one request's instructions. With several `--tree` (checkouts, or
folders holding a `src/sekisho`), each is counted in the same database and their ratios to the first are printed:
an A/B of a change that wall-clock runs cannot resolve. Wall-clock figures are bench/run's. Instruction counts still
move with how often the event loop wakes while it waits for PostgreSQL (a few percent on a busy machine); `--calls`
counts the Python function calls of a request instead (cProfile), which do not.

Scenarios: `api` (POST /api/i, opaque token), `refresh` (refresh_token grant, rotation), `cc` (client_credentials,
opaque token), `cc-jwt` (client_credentials, ES256 JWT).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests import asgi

from bench import mint, targets

SCENARIOS = ("api", "refresh", "cc", "cc-jwt")
WARM_UP = 30
ROOT = Path(__file__).resolve().parent.parent
FORM = [(b"content-type", b"application/x-www-form-urlencoded")]
Call = tuple[str, str, list[tuple[bytes, bytes]], bytes]


async def call(app: Any, request: Call) -> tuple[int, bytes]:
    """One request to the ASGI app in process (tests/asgi.py); the status and body."""
    status, _, body = await asgi.call(app, *request)
    return status, body


def minted(scenario: str, database: str, seed: targets.Seed, user_id: str, count: int) -> list[str]:
    """The single-use secrets a scenario spends, minted into the database: for `api` one code, whose exchange gives
    the access token; for `refresh`, `count` refresh tokens."""
    if scenario == "api":
        codes, rows = mint.code_rows(user_id, seed.app_id, targets.REDIRECT_URI, targets.SCOPE, 1)
    elif scenario == "refresh":
        codes, rows = mint.refresh_token_rows(database, user_id, seed.app_id, targets.SCOPE, count)
    else:
        return []
    mint.insert(database, rows)
    return codes


async def requests_for(scenario: str, app: Any, seed: targets.Seed, secrets: list[str], count: int) -> list[Call]:
    if scenario == "api":
        exchange = {
            "grant_type": "authorization_code", "code": secrets[0], "redirect_uri": targets.REDIRECT_URI,
            "client_id": seed.app_id, "code_verifier": mint.VERIFIER,
        }  # fmt: skip
        status, body = await call(app, ("POST", "/oauth/token", FORM, urlencode(exchange).encode()))
        if status != 200:
            raise RuntimeError(f"the code exchange gave {status}: {body!r}")
        bearer = f"Bearer {json.loads(body)['access_token']}".encode()
        return [("POST", "/api/i", [(b"authorization", bearer), (b"content-type", b"application/json")], b"{}")] * count
    if scenario == "refresh":
        return [
            ("POST", "/oauth/token", FORM, urlencode({"grant_type": "refresh_token", "refresh_token": secret,
                                                     "client_id": seed.app_id}).encode())
            for secret in secrets
        ]  # fmt: skip
    basic = base64.b64encode(f"{seed.service_id}:{seed.service_secret}".encode())
    body = urlencode({"grant_type": "client_credentials", "scope": targets.SCOPE}).encode()
    return [("POST", "/oauth/token", [*FORM, (b"authorization", b"Basic " + basic)], body)] * count


async def drive(scenario: str, database: str, seed: targets.Seed, secrets: list[str], count: int) -> None:
    """The inner run (under callgrind): `count` requests, each answered 200."""
    try:
        from sekisho.app import create_app
    except ModuleNotFoundError:  # a tree from before the demo mounted itself (eb02a60, the base of issue 21)
        from sekisho.server.web.app import create_app  # type: ignore[assignment]
    from sekisho.server.settings import build_settings

    token_format = "jwt" if scenario == "cc-jwt" else "opaque"
    app = create_app(build_settings(database=database, demo=True, access_token_format=token_format), migrate=False)
    async with app.router.lifespan_context(app):
        for request in await requests_for(scenario, app, seed, secrets, count):
            status, body = await call(app, request)
            if status != 200:
                raise RuntimeError(f"{request[0]} {request[1]} gave {status}: {body!r}")


def instructions(
    tree: Path, scenario: str, database: str, seed: targets.Seed, user_id: str, count: int, *, calls: bool = False
) -> int:
    """callgrind's count for one inner run of `tree`'s sekisho, its secrets minted beforehand (not counted); with
    `calls`, the Python function calls cProfile counts instead."""
    with tempfile.TemporaryDirectory() as folder:
        secrets = Path(folder) / "secrets.json"
        secrets.write_text(json.dumps(minted(scenario, database, seed, user_id, WARM_UP + count)))
        if calls:
            runner = [sys.executable, "-m", "cProfile", "-o", f"{folder}/out"]
        else:
            runner = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out", sys.executable]
        command = [*runner, "-m", *inner_arguments(scenario, count, database, seed, secrets)]
        environment = dict(os.environ, PYTHONPATH=f"{tree / 'src'}:{ROOT}", PYTHONHASHSEED="0")
        done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        if calls and not done.returncode:
            return sum(numbers[1] for numbers in pstats.Stats(f"{folder}/out").stats.values())  # type: ignore[attr-defined]
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or found is None:
        raise RuntimeError(f"the run under callgrind failed:\n{done.stderr[-3000:]}")
    return int(found.group(1))


def inner_arguments(scenario: str, count: int, database: str, seed: targets.Seed, secrets: Path) -> list[str]:
    """`python -m` arguments of one inner run; `count` may be 0 (the run that counts start-up and warm-up alone)."""
    return [
        "bench.instructions", "--inner", scenario, "--inner-requests", str(count), "--database", database,
        "--seed", json.dumps(asdict(seed)), "--secrets", str(secrets),
    ]  # fmt: skip


def positive(text: str) -> int:
    """argparse's type for a count of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # nargs="*" checks an empty list against the choices too (Python 3.11's argparse)
    parser.add_argument("scenarios", nargs="*", choices=[[], *SCENARIOS], metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument("--requests", type=positive, default=100, help="requests counted per run (at least 1)")
    parser.add_argument("--tree", type=Path, action="append", help="a folder holding src/sekisho (default: this one)")
    parser.add_argument("--calls", action="store_true", help="count Python function calls (cProfile), not instructions")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    parser.add_argument("--inner-requests", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    parser.add_argument("--secrets", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.inner:
        seed, secrets = targets.Seed(**json.loads(options.seed)), json.loads(Path(options.secrets).read_text())
        asyncio.run(drive(options.inner, options.database, seed, secrets, WARM_UP + options.inner_requests))
        return
    from tests.pg import throwaway_cluster

    trees = [tree.resolve() for tree in options.tree or [ROOT]]
    if missing := [str(tree) for tree in trees if not (tree / "src" / "sekisho" / "__init__.py").is_file()]:
        parser.error(f"no src/sekisho in {', '.join(missing)}")
    if shutil.which("valgrind") is None and not options.calls:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # the cluster's folder inside must be reachable by the `postgres` user
        with throwaway_cluster(Path(folder) / "pg", durable=True) as cluster:
            cluster.psql("CREATE DATABASE bench")
            database = cluster.url("bench")
            seed = targets.seed(database)
            user_id = mint.user_id(database, targets.USERNAME)
            for scenario in options.scenarios or SCENARIOS:
                counted: list[float] = []
                for tree in trees:
                    began = time.monotonic()
                    empty = instructions(tree, scenario, database, seed, user_id, 0, calls=options.calls)
                    full = instructions(tree, scenario, database, seed, user_id, options.requests, calls=options.calls)
                    counted.append((full - empty) / options.requests)
                    ratio = f"  {counted[-1] / counted[0]:.3f}× the first" if len(counted) > 1 else ""
                    figure = (
                        f"{counted[-1]:8.1f} Python calls"
                        if options.calls
                        else f"{counted[-1] / 1000:8.1f}k instructions"
                    )
                    print(
                        f"{scenario:8} {figure} a request{ratio}  ({tree}, {time.monotonic() - began:.0f} s)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
