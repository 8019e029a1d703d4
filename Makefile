# The two Quick start commands. Everything they need they build or install themselves.
.PHONY: run test

# Until the server lands this runs the engine benchmark (issue "Trading API" switches it
# to the demo server).
run: web
	cargo run --release -p bourse-bench -- engine

test:
	cargo test --workspace
	bash web/build.sh && cd web && npm test
	bash e2e/browser/run.sh

# The browser terminal (web/dist, embedded into the server): built when missing or stale.
.PHONY: web
web:
	bash web/build.sh
