#!/usr/bin/env bash
# The README's "A session with curl", run as written against a fresh `bourse serve --demo`.
#
# The block is cut out of README.md (the first ```sh fence after the "A session with
# curl" heading), so the test breaks when the README does: a renamed field, a changed
# route or a sed that no longer extracts the token or the order id. The server gets a
# temp data dir and a port of its own (`--listen 127.0.0.1:0`, the port read from its
# `listening on` line); the block reaches it through BOURSE_URL, which it defaults to
# the `make run` address. Each curl answer is also logged, one per line, and checked
# for what the README promises: demo funds, a filled market order with a taker fill
# against the bot, a canceled resting bid.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=${CARGO_TARGET_DIR:-target}
cargo build -q -p bourse --bin bourse
BOURSE=$TARGET/debug/bourse

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "readme_session: $*" >&2
  echo "--- server log" >&2
  cat "$WORK/server.log" >&2 || true
  exit 1
}

# The block: from the heading to the first fence that opens after it, until it closes.
awk '/^### A session with curl/ { found = 1; next }
     found && !inside && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' README.md > "$WORK/session.sh"
[ -s "$WORK/session.sh" ] || fail "no \`\`\`sh block after '### A session with curl' in README.md"
grep -q 'BOURSE_URL' "$WORK/session.sh" ||
  fail "the README block does not take its base URL from BOURSE_URL"

BOURSE_ADMIN_PASSWORD=readme-session-admin "$BOURSE" serve --demo \
  --listen 127.0.0.1:0 --data-dir "$WORK/data" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!

# Up to 60 s for the `listening on ADDR` line.
ADDR=
for _ in $(seq 600); do
  ADDR=$(sed -nE 's/^listening on ([0-9.]+:[0-9]+)$/\1/p' "$WORK/server.log" | head -n1)
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "bourse exited before listening"
  sleep 0.1
done
[ -n "$ADDR" ] || fail "no 'listening on' within 60 s"
export BOURSE_URL=http://$ADDR

# A newcomer reading the README sees a live book within seconds; so does this run.
asks_up() {
  curl -s --max-time 5 "$BOURSE_URL/api/v1/markets/BTC-USD/book?depth=1" |
    python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["asks"] else 1)'
}
for _ in $(seq 300); do
  asks_up 2>/dev/null && break
  sleep 0.1
done
asks_up || fail "the demo bot quoted no asks on BTC-USD within 30 s"

# Run the block as written, with curl wrapped to also log each answer on a line of its
# own (what the block prints is unchanged).
LOG=$WORK/answers.jsonl
{
  printf 'curl() { command curl --max-time 10 "$@" | tee -a %q; echo >> %q; }\n' "$LOG" "$LOG"
  cat "$WORK/session.sh"
} > "$WORK/run.sh"
timeout 120 bash -euo pipefail "$WORK/run.sh" > "$WORK/stdout.txt" ||
  fail "the README block failed; it printed: $(cat "$WORK/stdout.txt")"

python3 - "$LOG" <<'EOF' || fail "the session's answers are not what the README says"
import json, sys

answers = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
def find(what, pred):
    for a in answers:
        if pred(a):
            return a
    sys.exit(f"no answer {what} among {len(answers)}: {answers}")

find("with the registered user", lambda a: isinstance(a, dict) and a.get("username") == "alice")
balances = find("with the balances", lambda a: isinstance(a, list) and a and "asset" in a[0])
usd = next(b for b in balances if b["asset"] == "USD")
assert float(usd["available"]) > 0, f"no demo funds: {balances}"
orders = [a for a in answers if isinstance(a, dict) and a.get("market") == "BTC-USD" and "status" in a]
market = find("with the market order", lambda a: a in orders and a.get("type") == "market")
assert market["status"] == "filled", f"market order not filled: {market}"
assert market["fills"] and all(f["liquidity"] == "taker" for f in market["fills"]), market
assert all(f["fee_asset"] == "USD" for f in market["fills"]), market
limits = [o for o in orders if o.get("type") == "limit"]
assert [o["status"] for o in limits] == ["open", "canceled"], f"bid not placed then canceled: {limits}"
assert limits[0]["id"] == limits[1]["id"], limits
print(f"readme session ok: market order {market['id']} filled in {len(market['fills'])} fill(s), "
      f"bid {limits[1]['id']} canceled")
EOF
