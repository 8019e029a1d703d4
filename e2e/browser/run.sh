#!/usr/bin/env bash
# Browser end-to-end tests: builds what they need, then runs them with node's test runner.
#   - chromium: Debian's package (playwright cannot download browsers here);
#   - the web app (web/dist) when missing or older than its sources;
#   - the `bourse` binary (debug build, under $CARGO_TARGET_DIR when set, else target/);
# Screenshots land in e2e/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (apt)…"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

bash web/build.sh
cargo build -q -p bourse --bin bourse
# The tests start the binary cargo just built: follow CARGO_TARGET_DIR (relative to the
# workspace root, as cargo reads it) unless BOURSE_BIN names one explicitly.
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
export BOURSE_BIN="${BOURSE_BIN:-$target/debug/bourse}"
# One file at a time: each drives a chromium and a server of its own, and the dashboard
# suite's scripted load would otherwise race the terminal's waits.
node --test --test-concurrency=1 --test-reporter=spec e2e/browser/
