"""What some tests need from the machine (Chromium, npm, PostgreSQL): skip without it, except in CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from tests import node

IN_CI = os.environ.get("CI") == "true"  # what .ci/run sets: tests that would skip must run, and fuzzing is fixed


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer machine that lacks a tool; in CI (CI=true) that is a failure, so nothing silently skips."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: these tests must run in CI, so this fails instead of skipping)")
    pytest.skip(reason)


def system_node(folder: Path) -> str:
    """The system's `node`, after `npm ci` in the npm folder `folder` if needed (tests/node.py)."""
    found = shutil.which("node")
    if found is None:
        unavailable("node is missing (apt-get install nodejs npm, or run scripts/system-deps as root)")
    try:
        node.install_folder(folder)
    except node.NodeUnavailable as missing:
        unavailable(str(missing))
    return found
