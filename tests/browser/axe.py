"""axe-core (npm, pinned in tests/axe/package.json and its lock), for the accessibility checks of the pages.

`source` installs it with `npm ci` in tests/axe only when node_modules is missing or was installed from another
package.json / package-lock.json (the way tests/node.py installs tests/oidc_provider), and returns axe.min.js, which
the tests evaluate in each page. Nothing is fetched except that npm package, and only by `npm ci`.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

FOLDER = Path(__file__).resolve().parent.parent / "axe"
SCRIPT = FOLDER / "node_modules" / "axe-core" / "axe.min.js"
STAMP = FOLDER / "node_modules" / ".sekisho-installed-from"
NPM_TIMEOUT = 300.0


class AxeUnavailable(RuntimeError):
    """No npm, or `npm ci` failed: the tests skip on it outside CI (tests/needs.py)."""


def _manifest_hash() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update(name.encode() + b"\0" + (FOLDER / name).read_bytes() + b"\0")
    return digest.hexdigest()


def _installed() -> bool:
    return SCRIPT.is_file() and STAMP.is_file() and STAMP.read_text() == _manifest_hash()


def source() -> str:
    """axe.min.js, after `npm ci` in tests/axe if need be (one installer at a time: a lock on package.json)."""
    if not _installed():
        npm = shutil.which("npm")
        if npm is None:
            raise AxeUnavailable("npm is missing (apt-get install npm) to install axe-core")
        with (FOLDER / "package.json").open("rb") as manifest:
            fcntl.flock(manifest, fcntl.LOCK_EX)
            try:
                if not _installed():
                    command = [npm, "ci", "--no-audit", "--no-fund", "--no-update-notifier", "--ignore-scripts"]
                    done = subprocess.run(
                        command, cwd=FOLDER, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False
                    )
                    if done.returncode != 0 or not SCRIPT.is_file():
                        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
                        raise AxeUnavailable(f"`npm ci` in {FOLDER} failed ({done.returncode}):\n{tail}")
                    STAMP.write_text(_manifest_hash())
            finally:
                fcntl.flock(manifest, fcntl.LOCK_UN)
    return SCRIPT.read_text()
