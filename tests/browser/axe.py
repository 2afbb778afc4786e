"""axe-core (npm, pinned in tests/axe/package.json and its lock), for the accessibility checks of the pages.

`source` installs tests/axe the way every npm folder under tests/ is installed (`tests.node.install_folder`: `npm ci`
only when node_modules is missing or was installed from another package.json / package-lock.json), and returns
axe.min.js, which the tests evaluate in each page.
"""

from __future__ import annotations

from pathlib import Path

from tests import node

FOLDER = Path(__file__).resolve().parent.parent / "axe"
SCRIPT = FOLDER / "node_modules" / "axe-core" / "axe.min.js"


class AxeUnavailable(RuntimeError):
    """No npm, or `npm ci` failed: the tests skip on it outside CI (tests/needs.py)."""


def source() -> str:
    """axe.min.js, after `npm ci` in tests/axe if need be."""
    try:
        node.install_folder(FOLDER)
    except node.NodeUnavailable as error:
        raise AxeUnavailable(str(error)) from None
    if not SCRIPT.is_file():
        raise AxeUnavailable(f"`npm ci` in {FOLDER} left no {SCRIPT.relative_to(FOLDER)}")
    return SCRIPT.read_text()
