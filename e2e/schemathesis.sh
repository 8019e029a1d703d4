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

SCHEMATHESIS_VERSION=4.32.5
TARGET=${CARGO_TARGET_DIR:-target}
# Absolute: the runner starts schemathesis from a temp dir.
case $TARGET in /*) ;; *) TARGET=$PWD/$TARGET ;; esac
VENV=$TARGET/e2e-venv

if [ ! -x "$VENV/bin/schemathesis" ] ||
   [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV…"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q -p bourse --bin bourse
exec python3 e2e/schemathesis_run.py --bourse "$TARGET/debug/bourse" --schemathesis "$VENV/bin/schemathesis" "$@"
