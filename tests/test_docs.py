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


def shell_lines(text: str) -> list[str]:
    """The commands of the ```sh blocks of a page, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_mcp_page_serves_as_the_mcp_tests_serve() -> None:
    """docs/mcp.md and examples/mcp_notes/README.md start `sekisho serve` and the example as the MCP SDK tests do
    (those add only --allow-private-client-ids, for client documents on 127.0.0.1)."""
    from tests.interop.mcp_world import serve_flags

    flags = serve_flags("http://127.0.0.1:8001/mcp")
    flags.remove("--allow-private-client-ids")
    for page in ("docs/mcp.md", "examples/mcp_notes/README.md"):
        lines = shell_lines((ROOT / page).read_text())
        assert " ".join(["sekisho", "serve", *flags]) in lines, page
        assert "python examples/mcp_notes/notes_server.py" in lines, page


def test_the_mcp_page_code_builds_a_server_that_refuses_a_bad_token() -> None:
    """The code of docs/mcp.md §3 runs as printed, and its verifier turns a bad token away (the SDK's 401)."""
    import asyncio

    block = re.search(r"## 3\. Your own MCP server.*?```python\n(.*?)```", (ROOT / "docs" / "mcp.md").read_text(), re.S)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "docs/mcp.md", "exec"), namespace)  # noqa: S102 (the project's own page)
    tokens = namespace["SekishoTokens"]()  # type: ignore[operator]
    assert asyncio.run(tokens.verify_token("not-a-jwt")) is None
    assert type(namespace["server"]).__name__ == "MCPServer"
