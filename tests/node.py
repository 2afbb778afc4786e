"""node's `oidc-provider` (npm) on 127.0.0.1, from tests/oidc_provider: tests/interop's OpenID provider and the peer
bench/run measures sekisho against (bench/targets.py).

`install` puts the npm packages of tests/oidc_provider (oidc-provider 9 and the `node` package, which ships the
Node 22 binary oidc-provider 9 needs; Debian 12 has Node 18) in place with `npm ci`, only when node_modules is
missing or was installed from another package.json / package-lock.json. `start` runs provider.mjs in one of its
profiles with that Node, and `read_ready` waits for its `READY <issuer>` line. `install(folder)` does the same for
another npm folder with the `node` package (tests/misskey_js). Nothing is fetched except npm packages, and only by
`npm ci`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

FOLDER = Path(__file__).parent / "oidc_provider"
NODE = FOLDER / "node_modules" / "node" / "bin" / "node"
LAUNCHER = FOLDER / "provider.mjs"
NPM_TIMEOUT = 600.0


class NodeUnavailable(RuntimeError):
    """No npm, or `npm ci` failed: tests skip on it outside CI, bench/run exits 2."""


def _manifest_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return digest.hexdigest()


def _node(folder: Path) -> Path:
    return folder / "node_modules" / "node" / "bin" / "node"


def _stamp(folder: Path) -> Path:
    return folder / "node_modules" / ".sekisho-installed-from"  # hash of package.json + package-lock.json


def _ships_node(folder: Path) -> bool:
    """Whether the folder's package.json brings its own Node (the `node` package); if not, it runs on the system's."""
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    return "node" in {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}


def installed(folder: Path = FOLDER) -> bool:
    node, stamp = _node(folder), _stamp(folder)
    runnable = not _ships_node(folder) or (node.is_file() and os.access(node, os.X_OK))
    return runnable and stamp.is_file() and stamp.read_text() == _manifest_hash(folder)


def install(folder: Path = FOLDER) -> Path:
    """The Node 22 binary, after `npm ci` in `folder` (tests/oidc_provider, or another npm folder under tests/ whose
    package.json has the `node` package) if its node_modules is missing or stale.

    An exclusive lock on package.json keeps two runs (tests, the benchmark) from installing into the folder at once.
    """
    if installed(folder):
        return _node(folder)
    npm = shutil.which("npm")
    if npm is None:
        raise NodeUnavailable("npm is missing (apt-get install nodejs npm, or run scripts/system-deps as root)")
    with (folder / "package.json").open("rb") as manifest:
        fcntl.flock(manifest, fcntl.LOCK_EX)
        try:
            if not installed(folder):  # another run may have installed while we waited for the lock
                _npm_ci(npm, folder)
                _stamp(folder).write_text(_manifest_hash(folder))
        finally:
            fcntl.flock(manifest, fcntl.LOCK_UN)
    return _node(folder)


def install_folder(folder: Path) -> None:
    """`install` for an npm folder under tests/ that runs on the system's Node (e.g. tests/twitter_api_v2)."""
    install(folder)


def _npm_ci(npm: str, folder: Path) -> None:
    command = [npm, "ci", "--no-audit", "--no-fund", "--no-update-notifier"]
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise NodeUnavailable(f"`{' '.join(command)}` in {folder} took more than {NPM_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise NodeUnavailable(f"`{' '.join(command)}` in {folder} failed ({done.returncode}):\n{tail}")
    node = _node(folder)
    if _ships_node(folder) and not (node.is_file() and os.access(node, os.X_OK)):
        raise NodeUnavailable(f"npm installed the `node` package but {node} is missing (its install script ran?)")


def start(
    profile: str,
    *,
    env: Mapping[str, str],
    log: Path,
    prefix: Sequence[str] = (),
    preexec_fn: Callable[[], object] | None = None,
) -> subprocess.Popen[bytes]:
    """provider.mjs PROFILE on a free port (`prefix`, e.g. `taskset -c 0`, goes before node); its stdout is a pipe
    for `read_ready`, its stderr goes to `log`, and closing its stdin stops it."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **env}
    with log.open("ab") as sink:
        return subprocess.Popen(
            [*prefix, str(NODE), str(LAUNCHER), profile, "0"],
            cwd=FOLDER,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sink,
            preexec_fn=preexec_fn,
        )


def read_ready(process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> str:
    """The issuer from provider.mjs's `READY <issuer>` line; fails with its log if it dies or hangs first."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffered = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffered:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise RuntimeError(f"oidc-provider did not start within {timeout:.0f} s:\n{_tail(log)}")
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                process.wait(timeout=5)
                raise RuntimeError(f"oidc-provider exited ({process.returncode}) before it was ready:\n{_tail(log)}")
            buffered += chunk
    line = buffered.split(b"\n", 1)[0].decode()
    if not line.startswith("READY http://127.0.0.1:"):
        raise RuntimeError(f"unexpected first line from provider.mjs {line!r}:\n{_tail(log)}")
    return line.removeprefix("READY ")


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
