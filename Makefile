# calltop — the two commands that matter on a fresh machine: `make demo`, `make test`.
GO      ?= go
BIN     := bin/calltop
PKGS    := ./...
# What `calltop version` says: the nearest tag and the commit, "-dirty" for
# uncommitted changes; "devel" outside git. The agents announce the same in NATS micro.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: all build demo test vet fmt-check fuzz bench loadgen e2e clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION) -X github.com/calltop/calltop/agent.version=$(VERSION)" -o $(BIN) ./cmd/calltop

# Everything in one process: embedded NATS, the OpenAI stand-in, simulated
# calls, an agent and the dashboard. q quits.
demo: build
	./$(BIN) demo

# What CI runs: formatting, vet, and every test (fuzz seeds included) with
# the race detector. Long benchmarks stay out.
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 8m $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Coverage-guided fuzzing of the sideband decoder (not part of `make test`,
# which runs the seed corpus only).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./agent

# Benchmarks, side by side; results go to docs/BENCHMARKS.md. The last
# line is the load generator at a representative size (about a minute).
BENCHTIME ?= 1s
bench: build
	$(GO) test -run '^$$' -bench 'Decode|KillToHangup|BudgetCutoff|Admission|StatsUsage' -benchmem -benchtime $(BENCHTIME) ./agent
	CALLTOP_BENCH=1 $(GO) test -count 1 -run TestDecodeRatios -v -benchtime 300ms ./agent
	$(GO) test -run '^$$' -bench 'Track/' -benchtime 1x ./agent
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./feed/...
	$(GO) test -run '^$$' -bench DecodeEvents -benchmem -benchtime $(BENCHTIME) ./tui
	$(GO) test -run '^$$' -bench Frame -benchtime 600x ./tui
	$(GO) test -run '^$$' -bench OpenAIToScreen -benchtime 200x ./cmd/calltop
	./$(BIN) demo --headless --calls 20 --duration 60s

# The load generator (docs/BENCHMARKS.md#load-generator): CALLS simulated
# calls at real pace for DURATION, tracked by AGENTS `calltop agent`
# processes; prints calls, events/s, NATS bytes per call-minute by kind,
# latencies and the agents' CPU and memory. Not part of `make test`.
CALLS    ?= 20
DURATION ?= 60s
AGENTS   ?= 1
loadgen: build
	./$(BIN) demo --headless --calls $(CALLS) --duration $(DURATION) --agents $(AGENTS)

# The dashboard end to end: the real binary's demo driven in tmux (filter,
# sort, detail, hang up with a reason, check the screen). About 20 s; not
# part of `make test` (it needs tmux and real time). Skips without tmux.
e2e:
	sh scripts/e2e.sh

clean:
	rm -rf bin
