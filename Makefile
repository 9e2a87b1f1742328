# One-line aliases: the work is done by `cargo xtask` (xtask/: starting, watching and
# stopping processes, test data, audits) and by scripts/ (tool installs, test and load
# runs). `make help` lists them.
.PHONY: help run test api-fuzz e2e bench-runtime bench-policy bench-sign-in local-up local-down local-status load-test fault-test secantus-rs capacity peak-day data-growth kind-up kind-down kind-forward images deploy status smoke cluster-fault-test

## help: this list
help:
	@awk '/^## / { sub(/^## /, ""); name = $$0; sub(/:.*/, "", name); sub(/^[^:]*: /, ""); printf "  %-14s %s\n", name, $$0 }' $(MAKEFILE_LIST)

## run: the whole system locally (SecantusDB + issuer + validator), until Ctrl-C
run:
	@scripts/tools.sh secantus identity && cargo xtask run

## test: fmt, clippy, every test (throw-away SecantusDB or $MONGODB_URI), make run and make local-up as a newcomer, the scanner script, API fuzzing, manifests, load smoke, browser tests
test:
	@scripts/test.sh

## api-fuzz: schemathesis against both services' OpenAPI documents (part of make test)
api-fuzz:
	@scripts/api-fuzz.sh

## e2e: the citizen and police flows in headless Chromium, screenshots in artifacts/e2e
e2e:
	@scripts/e2e.sh

## bench-runtime: start-up time and memory of the release binaries (docs/benchmarks.md)
bench-runtime:
	@scripts/tools.sh wrk secantus && cargo xtask bench-runtime --runs "$${RUNS:-10}"

## bench-policy: what deciding a create costs, empty schedule against 346 comunas x 52 weekly changes (docs/benchmarks.md)
bench-policy:
	cargo bench -p permit-domain --bench decide

## bench-sign-in: what citizen sign-in (CITIZEN_AUTH=oidc) adds per create, against the test identity provider (docs/benchmarks.md)
bench-sign-in:
	@scripts/tools.sh secantus identity && cargo xtask with-db cargo bench -p issuer --bench sign_in

## local-up: the PEP2 topology locally: SecantusDB, 4 issuers, 4 validators, nginx on :8080 (REPLICAS=n; MONITORING=1: Prometheus on :9090)
local-up:
	@scripts/tools.sh secantus nginx $${MONITORING:+prometheus} && cargo xtask up

## local-down: stop exactly what local-up started
local-down:
	@cargo xtask down

## local-status: what local-up started and whether it answers
local-status:
	@cargo xtask status

## load-test: the case study's artillery experiment, charted (ENV=smoke|low|medium|high|stress, TARGET=http://<ip>, MONITORING=1)
load-test:
	@scripts/tools.sh node charts $$([ -n "$$TARGET" ] || echo secantus nginx) $${MONITORING:+prometheus} && cargo xtask load-test --env "$${ENV:-smoke}" $${TARGET:+--target "$$TARGET"} $${SKIP_BUILD:+--no-build} $${KEEP_UP:+--keep-up}

## fault-test: replicas killed, a rolling restart and the database stopped, under load; audited, charted (docs/reliability.md; SCENARIOS=kill,rolling LOAD=stress MONITORING=1)
fault-test:
	@scripts/tools.sh node secantus nginx charts $${MONITORING:+prometheus} && cargo xtask fault --scenarios "$${SCENARIOS:-kill,rolling,database}" --load "$${LOAD:-medium}"

## secantus-rs: install the Rust build of SecantusDB into .tools (for load runs; ~8 min)
secantus-rs:
	@scripts/install-secantus-rs.sh

## capacity: closed-loop throughput of create and validate through nginx vs a static response
capacity:
	@scripts/capacity.sh

## peak-day: Chile's record day (1.29 M permit requests) replayed open-loop, SPEED times faster (SPEED=18 SCALE=1; docs/benchmarks.md)
peak-day:
	@scripts/record-day.sh peak-day

## data-growth: p50/p99 of create and check and the database's size at 10k..1.29M stored permits, with query plans (STOPS=; docs/benchmarks.md)
data-growth:
	@scripts/record-day.sh data-growth

## kind-up: kind cluster (1+3 nodes), MetalLB, metrics-server, ingress-nginx (GATEWAY=1: Envoy Gateway), images, deploy
kind-up:
	@scripts/kind.sh up

## kind-down: delete the kind cluster
kind-down:
	@scripts/kind.sh down

## kind-forward: Docker Desktop (macOS, Windows): the entrance on 127.0.0.1:80 through kubectl port-forward, until Ctrl-C
kind-forward:
	@scripts/kind.sh forward

## images: build the two container images, tagged by content (pulls the bases, or makes them from Debian where none can be pulled)
images:
	@scripts/images.sh build

## deploy: load the images into kind, apply k8s/overlays/kind (GATEWAY=1: kind-gateway) MongoDB first, wait with reasons (permisosctl wait)
deploy:
	@scripts/kind.sh deploy

## status: every workload, HPA, PDB and MongoDB member, one line per problem, and how to reach the system (permisosctl)
status:
	@scripts/kind.sh status

## smoke: a citizen and a police check through the cluster's entrance, each step timed (IP=127.0.0.1:8080 DOMAIN=localhost: the local topology)
smoke:
	@scripts/kind.sh smoke

## cluster-fault-test: the case study's medium load through the entrance while permisosctl chaos deletes pods, then permisosctl audit (IP= DOMAIN= LOAD=medium CHAOS_TARGET=all CHAOS_EVERY=10s CHAOS_FOR=2m)
cluster-fault-test:
	@scripts/tools.sh node && cargo xtask cluster-fault
