# The two Quick start commands. Everything they need they build or install themselves.
.PHONY: run test

# The demo server (markets, demo funds for every new user, a market-making bot) on
# 127.0.0.1:8080 with its data in ./data. Prints the admin password on first start.
run: web
	cargo run --release -p bourse --bin bourse -- serve --demo

# The API suites, run a second time with PostgreSQL read models (each app gets a fresh
# database of its own, dropped after the test: crates/bourse/tests/common). Not listed:
# suites that choose the backend themselves (parity, crash, durability, notify_delivery,
# nats) or test SQLite files (recovery_checks).
PG_API_SUITES = admin api audit auth authz binance_openapi compliance config_markets demo health_checks hostile_input input_errors kyc market_data metrics monitoring request_ids \
	notification_types notifications openapi openapi_rules tier_fees trading ws ws_auth fix_session fix_trading binance_streams

# Two lanes side by side (`-j2`; their lines interleave): the Rust suites on both backends, and
# the scripted end-to-end runs. Everything both need is built first, so neither waits on
# the other's compiler and the Rust lane's CPU-light suites overlap the e2e servers.
test:
	command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
	bash e2e/prometheus_rules.sh
	bash web/build.sh
	cargo build -q -p bourse --bin bourse
	cargo nextest run --workspace --no-run
	$(MAKE) --no-print-directory -j2 test-rust test-e2e

.PHONY: test-rust test-e2e
test-rust:
	cargo nextest run --workspace
	BOURSE_TEST_BACKEND=postgres cargo nextest run -p bourse $(PG_API_SUITES:%=--test %)

test-e2e:
	bash e2e/readme_session.sh
	cd web && npm test
	bash e2e/browser/run.sh
	bash e2e/schemathesis.sh
	bash e2e/ccxt/run.sh
	bash e2e/fix/run.sh

# The browser terminal (web/dist, embedded into the server): built when missing or stale.
.PHONY: web
web:
	bash web/build.sh
