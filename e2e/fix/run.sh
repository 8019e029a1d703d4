#!/usr/bin/env bash
# QuickFIX (the `quickfix-py` wheel from PyPI) as an independent FIX 4.4 initiator against
# the debug `bourse` binary, on SQLite and PostgreSQL. The venv with the pinned wheel lives
# under $CARGO_TARGET_DIR/quickfix-venv (created once). E2E_BACKENDS=sqlite runs one.
set -euo pipefail
cd "$(dirname "$0")/../.."

QUICKFIX_VERSION=0.0.3
TARGET=${CARGO_TARGET_DIR:-target}
case $TARGET in /*) ;; *) TARGET=$PWD/$TARGET ;; esac
VENV=$TARGET/quickfix-venv

if ! "$VENV/bin/python" -c 'import quickfix' 2>/dev/null ||
   [ "$("$VENV/bin/pip" show quickfix-py 2>/dev/null | sed -n 's/^Version: //p')" != "$QUICKFIX_VERSION" ]; then
  echo "installing quickfix-py $QUICKFIX_VERSION into $VENV…"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "quickfix-py==$QUICKFIX_VERSION"
fi

cargo build -q -p bourse --bin bourse
exec "$VENV/bin/python" e2e/fix/test_quickfix.py --bourse "$TARGET/debug/bourse" "$@"
