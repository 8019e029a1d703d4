#!/usr/bin/env bash
# The real `ccxt` package (ccxt.binance, URLs pointed at a local Bourse) against the
# Binance-compatible API, on SQLite and PostgreSQL. A venv with the pinned ccxt under
# $CARGO_TARGET_DIR/ccxt-venv (created once); the debug `bourse` binary.
# E2E_BACKENDS=sqlite (or postgres) runs one backend only.
set -euo pipefail
cd "$(dirname "$0")/../.."

CCXT_VERSION=4.5.6
TARGET=${CARGO_TARGET_DIR:-target}
case $TARGET in /*) ;; *) TARGET=$PWD/$TARGET ;; esac
VENV=$TARGET/ccxt-venv

if [ ! -x "$VENV/bin/python" ] ||
   [ "$("$VENV/bin/python" -c 'import ccxt; print(ccxt.__version__)' 2>/dev/null)" != "$CCXT_VERSION" ]; then
  echo "installing ccxt $CCXT_VERSION into $VENV…"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "ccxt==$CCXT_VERSION"
fi

cargo build -q -p bourse --bin bourse
exec "$VENV/bin/python" e2e/ccxt/test_ccxt.py --bourse "$TARGET/debug/bourse" "$@"
