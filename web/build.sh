#!/usr/bin/env bash
# Builds web/dist when it is missing or older than the sources or the lockfile (npm ci first when
# node_modules is missing or older than package-lock.json).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
  echo "npm not found: the server will serve a 'terminal not built' page" >&2
  exit 0
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi
stale=0
if [ ! -f dist/index.html ]; then
  stale=1
# package-lock.json too: a dependency bump (same package.json range) changes the build.
elif [ -n "$(find src public index.html vite.config.ts tsconfig.json package.json package-lock.json -newer dist/index.html -print -quit)" ]; then
  stale=1
fi
if [ "$stale" = 1 ]; then
  npm run build
fi
