# Each target calls a script that prints its steps and can be re-run safely.
.PHONY: run test bench-runtime

## run: the whole system locally (SecantusDB + issuer + validator), until Ctrl-C
run:
	@scripts/run-local.sh

## test: formatting, lints and every test, against a throw-away SecantusDB (or $MONGODB_URI)
test:
	@scripts/test.sh

## bench-runtime: start-up time and memory of the release binaries (BENCHMARKS.md)
bench-runtime:
	@scripts/bench-runtime.sh
