#!/usr/bin/env bash
# Schemathesis against a running `bourse` (its /openapi.json), on SQLite and PostgreSQL.
#
#   - a venv with a pinned schemathesis under target/e2e-venv (created once);
#   - the debug `bourse` binary (what `cargo test` builds anyway);
#   - PostgreSQL at $BOURSE_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test):
#     a fresh database per run, dropped afterwards.
# Reports (JUnit, server logs) land in e2e/artifacts/schemathesis/. Exits non-zero on any
# failure. E2E_BACKENDS=sqlite (or postgres) runs one backend only; E2E_PASSES=binance (or
# trader, admin, comma-separated) some of the passes; the binance pass runs on the backends of
# E2E_BINANCE_BACKENDS (default sqlite).
set -euo pipefail
cd "$(dirname "$0")/.."

. e2e/venv.sh
ensure_venv e2e-venv schemathesis 4.32.5

cargo build -q -p bourse --bin bourse
exec python3 e2e/schemathesis_run.py --bourse "$TARGET/debug/bourse" --schemathesis "$VENV/bin/schemathesis" "$@"
