# Sourced by scripts/*: make .venv from the lock (requirements/base.txt, or requirements/dev.txt for `dev`), every
# package checked against its hash, then sekisho itself on top (editable, no dependencies of its own choosing).
# Reinstalls when the lock or pyproject.toml changes (their digest is kept in a stamp file).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements/${1:-base}.txt"
stamp="$VENV/.locked-${1:-base}"
digest="$(cat "$LOCK" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    # (pip's notes on a find-links folder that lacks a package are not worth a line each)
    "$VENV/bin/python" -m pip install --quiet --require-hashes -r "$LOCK" 2> >(grep -v "^WARNING: Location" >&2)
    "$VENV/bin/python" -m pip install --quiet --no-deps -e "$ROOT" 2> >(grep -v "^WARNING: Location" >&2)
    echo "$digest" >"$stamp"
fi
export PATH="$VENV/bin:$PATH"
