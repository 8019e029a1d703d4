#!/usr/bin/env bash
# The real `ccxt` package (ccxt.binance, URLs pointed at a local Bourse) against the
# Binance-compatible API, on SQLite and PostgreSQL. A venv with the pinned ccxt under
# $CARGO_TARGET_DIR/ccxt-venv (created once); the debug `bourse` binary.
# E2E_BACKENDS=sqlite (or postgres) runs one backend only.
set -euo pipefail
cd "$(dirname "$0")/../.."

. e2e/venv.sh
ensure_venv ccxt-venv ccxt 4.5.6

cargo build -q -p bourse --bin bourse
exec "$VENV/bin/python" e2e/ccxt/test_ccxt.py --bourse "$TARGET/debug/bourse" "$@"
