"""A throwaway PostgreSQL cluster from Debian's `postgresql` package, for tests and benchmarks.

`initdb` refuses to run as root (MACHINE-NOTES.md), so as root the cluster is made and run by the `postgres` user,
in a folder it owns, listening on 127.0.0.1 only, with its socket in that folder. Without the binaries,
`PostgresMissing` says so; tests skip on that outside CI and fail in CI (CI=true).

    with throwaway_cluster(Path("/tmp/x"), durable=False) as cluster:
        url = cluster.create_database("t1")      # postgresql://postgres@127.0.0.1:PORT/t1
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.live import free_port


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine (Debian: apt-get install postgresql)."""


def server_binaries() -> Path:
    """The newest /usr/lib/postgresql/N/bin that has initdb and pg_ctl."""
    found = sorted(
        (path for path in Path("/usr/lib/postgresql").glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not found or not (found[-1] / "pg_ctl").exists():
        raise PostgresMissing(
            "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
        )
    return found[-1]


@dataclass
class Cluster:
    folder: Path
    port: int
    binaries: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [str(self.binaries / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database)],
            input=sql,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new empty (or copied-from-`template`) database; its URL."""
        source = f" TEMPLATE {template}" if template else ""
        self.psql(f"CREATE DATABASE {name}{source};")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")

    def pg_ctl(self, *args: str) -> None:
        _as_postgres([str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), *args], timeout=60)

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "stop")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        self.pg_ctl("-l", str(self.folder / "server.log"), "-w", "-o", options, "start")


def _as_postgres(command: list[str], timeout: float) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip()}")


@contextmanager
def throwaway_cluster(folder: Path, *, durable: bool = False, max_connections: int = 200) -> Iterator[Cluster]:
    """initdb + start in `folder` (created; owned by `postgres` when we are root); stopped and removed afterwards.

    `durable=False` turns off fsync and synchronous commit (tests); benchmarks keep PostgreSQL's durable defaults.
    """
    binaries = server_binaries()
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    _as_postgres(
        [
            str(binaries / "initdb"),
            "-D",
            str(folder / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        timeout=120,
    )
    settings = [f"max_connections = {max_connections}", "shared_buffers = 128MB"]
    if not durable:
        settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
    with (folder / "data" / "postgresql.conf").open("a") as conf:
        conf.write("\n".join(settings) + "\n")
    cluster = Cluster(folder, free_port(), binaries)
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
