# The two Quick start commands. Everything they need they build or install themselves.
.PHONY: run test

# Until the server lands this runs the engine benchmark (issue "Trading API" switches it
# to the demo server).
run:
	cargo run --release -p bourse-bench -- engine

test:
	cargo test --workspace
