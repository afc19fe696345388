# etamil-mio — build, test, measure. bench/README.md explains the measuring targets.
#
#   make build       release build of the server and of the bench tools
#   make test        cargo test (the server) and the bench crate's unit tests
#   make bench       the interpreter benchmark and a short sweep (bench/, quick)
#   make load-test   load_test_async.sh: the sweep with floors and nginx+Lua ratios, then C10K
#   make soak        load_test_async.sh --soak $(SOAK_SECONDS) (default 1800 s, as the plan asks)
#   make flamegraph  perf record -g on the server under load → bench/results/flamegraph.svg
#   make fmt / lint  cargo fmt; cargo clippy --all-targets, both crates, warnings are errors

CARGO        ?= cargo
SERVER       ?= target/release/etamil-mio
LOADGEN      := bench/target/release/loadgen
PORT         ?= 9999
ROUTE        ?= /gst/1000
SOAK_SECONDS ?= 1800
FLAME_SECONDS ?= 10
FLAME_CONNS  ?= 100
RESULTS      := bench/results
export PATH  := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all build test bench load-test soak flamegraph fmt lint clean-results

all: build

build:
	$(CARGO) build --release
	cd bench && $(CARGO) build --release

test:
	$(CARGO) test
	cd bench && $(CARGO) test

# The interpreter benchmark binary (bench/src/bin/interp.rs) runs when it exists; then a quick
# sweep (3 s per point) against the server and nginx+Lua when installed.
bench: build
	cd bench && $(CARGO) run --release --bin interp
	LEVELS="1 10 100" ./load_test_async.sh --no-build --sweep-only --duration 3s

load-test: build
	./load_test_async.sh --no-build

soak: build
	./load_test_async.sh --no-build --soak $(SOAK_SECONDS)

# perf needs the server's symbols (release has debug = 1). The server and perf are stopped by
# PID; inferno (cargo install inferno) folds and renders the stacks.
flamegraph: build
	@command -v perf >/dev/null || { echo "perf is missing: apt-get install -y linux-perf"; exit 1; }
	@command -v inferno-collapse-perf >/dev/null || $(CARGO) install inferno
	@mkdir -p $(RESULTS)
	@set -e; ulimit -n $$(ulimit -Hn); \
	  flags="--port $(PORT)"; \
	  $(SERVER) --help 2>&1 | grep -q -- --access-log && flags="$$flags --access-log off"; \
	  $(SERVER) $$flags >/dev/null 2>$(RESULTS)/flamegraph-server.log & spid=$$!; \
	  trap 'kill $$spid 2>/dev/null || true' EXIT; \
	  for i in $$(seq 1 100); do curl -s -o /dev/null -m 1 http://127.0.0.1:$(PORT)$(ROUTE) && break; sleep 0.1; done; \
	  perf record -F 999 -g -p $$spid -o $(RESULTS)/perf.data -- sleep $$(( $(FLAME_SECONDS) + 1 )) 2>/dev/null & ppid=$$!; \
	  $(LOADGEN) -q -c $(FLAME_CONNS) -d $(FLAME_SECONDS)s http://127.0.0.1:$(PORT)$(ROUTE) || true; \
	  wait $$ppid; \
	  perf script -i $(RESULTS)/perf.data 2>/dev/null | inferno-collapse-perf > $(RESULTS)/flamegraph.folded; \
	  inferno-flamegraph --title "etamil-mio, GET $(ROUTE), $(FLAME_CONNS) connections" \
	    $(RESULTS)/flamegraph.folded > $(RESULTS)/flamegraph.svg; \
	  echo "flamegraph: $(RESULTS)/flamegraph.svg (stacks: $(RESULTS)/flamegraph.folded)"

fmt:
	$(CARGO) fmt
	cd bench && $(CARGO) fmt

lint:
	$(CARGO) clippy --all-targets -- -D warnings
	cd bench && $(CARGO) clippy --all-targets -- -D warnings

clean-results:
	rm -f $(RESULTS)/*.json $(RESULTS)/*.tsv $(RESULTS)/*.md $(RESULTS)/*.log $(RESULTS)/perf.data* $(RESULTS)/*.folded
