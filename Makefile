# The two Quick start commands. Everything they need they build or install themselves.
.PHONY: run test

# The demo server (markets, demo funds for every new user, a market-making bot) on
# 127.0.0.1:8080 with its data in ./data. Prints the admin password on first start.
run: web
	cargo run --release -p bourse-server --bin bourse -- serve --demo

test:
	cargo test --workspace
	bash web/build.sh && cd web && npm test
	bash e2e/browser/run.sh
	bash e2e/schemathesis.sh

# The browser terminal (web/dist, embedded into the server): built when missing or stale.
.PHONY: web
web:
	bash web/build.sh
