"""The lock files agree with pyproject.toml: every dependency is pinned there, to a version its bounds allow, with
hashes (issue 22 item 5: a fresh clone installs what the tests ran on)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)


def pins(lock: str) -> dict[str, str]:
    """name → version of every `name==version` line of requirements/LOCK.txt."""
    text = (ROOT / "requirements" / f"{lock}.txt").read_text(encoding="utf-8")
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def requirements(lock: str) -> list[Requirement]:
    found = [Requirement(line) for line in PROJECT["dependencies"]]
    if lock == "dev":
        found += [Requirement(line) for line in PROJECT["optional-dependencies"]["dev"]]
    return found


@pytest.mark.parametrize("lock", ["base", "dev"])
def test_every_dependency_is_pinned_within_its_bounds(lock: str) -> None:
    pinned = pins(lock)
    missing = [str(each) for each in requirements(lock) if canonicalize_name(each.name) not in pinned]
    assert not missing, f"requirements/{lock}.txt lacks {missing}: run scripts/lock"
    outside = [
        f"{each} (locked {pinned[canonicalize_name(each.name)]})"
        for each in requirements(lock)
        if not each.specifier.contains(pinned[canonicalize_name(each.name)], prereleases=True)
    ]
    assert not outside, f"requirements/{lock}.txt pins versions pyproject.toml refuses: {outside}; run scripts/lock"


@pytest.mark.parametrize("lock", ["base", "dev"])
def test_every_pin_has_a_hash(lock: str) -> None:
    """`pip install --require-hashes` refuses a lock with a package whose hash is missing."""
    text = (ROOT / "requirements" / f"{lock}.txt").read_text(encoding="utf-8")
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        if PIN.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_base_lock_is_the_dev_lock_less_the_dev_extras() -> None:
    """scripts/serve and scripts/test run on the same versions of what they share."""
    base, dev = pins("base"), pins("dev")
    assert {name: dev.get(name) for name in base} == base
