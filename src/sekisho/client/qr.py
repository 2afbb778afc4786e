"""A QR code drawn with text, for a terminal: what `sekisho login --device` shows beside the URL."""

from __future__ import annotations

import io


def terminal_qr(data: str, *, columns: int, rows: int) -> str | None:
    """`data` as a QR code of half-block characters (two modules a line), or None when it would not fit in
    `columns` by `rows`."""
    import segno

    code = segno.make(data, error="l")
    out = io.StringIO()
    code.terminal(out=out, border=2, compact=True)
    drawing = out.getvalue().rstrip("\n")
    lines = drawing.splitlines()
    if len(lines) > rows or max(len(line) for line in lines) > columns:
        return None
    return drawing
