#!/usr/bin/env bash
# QuickFIX (the `quickfix-py` wheel from PyPI) as an independent FIX 4.4 initiator against
# the debug `bourse` binary, on SQLite and PostgreSQL. The venv with the pinned wheel lives
# under $CARGO_TARGET_DIR/quickfix-venv (created once). E2E_BACKENDS=sqlite runs one.
set -euo pipefail
cd "$(dirname "$0")/../.."

. e2e/venv.sh
ensure_venv quickfix-venv quickfix-py 0.0.3

cargo build -q -p bourse --bin bourse
exec "$VENV/bin/python" e2e/fix/test_quickfix.py --bourse "$TARGET/debug/bourse" "$@"
