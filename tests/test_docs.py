"""docs/security.md names the tests that back each line: every one it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"(tests/[\w/]+\.py)(?:::(\w+))?|::(\w+)")


def named_tests(text: str) -> list[tuple[str, str | None]]:
    """(file, test or None) for each `tests/file.py::test`, `tests/file.py` and `::test` (of the file named last)."""
    found: list[tuple[str, str | None]] = []
    last: str | None = None
    for match in REFERENCE.finditer(text):
        file, test, bare = match.groups()
        if file:
            last = file
            found.append((file, test))
        elif last is not None:
            found.append((last, bare))
    return found


def test_every_test_named_in_security_md_exists() -> None:
    missing = []
    for file, test in named_tests((ROOT / "docs" / "security.md").read_text()):
        path = ROOT / file
        if not path.exists():
            missing.append(file)
        elif test and not re.search(rf"^(?:async )?def {test}\(", path.read_text(), re.MULTILINE):
            missing.append(f"{file}::{test}")
    assert missing == []


def test_the_reference_reader_follows_the_file_named_last() -> None:
    text = "tests/a.py::one, ::two and tests/b.py (all of it), ::three"
    assert named_tests(text) == [
        ("tests/a.py", "one"),
        ("tests/a.py", "two"),
        ("tests/b.py", None),
        ("tests/b.py", "three"),
    ]
