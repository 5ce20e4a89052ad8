# xdhcp: the two commands of the README are `make demo` and `make test`.
GO ?= go
BIN := bin/xdhcp
FUZZTIME ?= 10s

.PHONY: all build generate test unit fuzz demo deps vet clean check-generate

all: build

# The version is the commit (this machine builds with -buildvcs=false).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

build:
	$(GO) build -ldflags '-X main.version=$(VERSION)' -o $(BIN) ./cmd/xdhcp

# Rebuilds the committed bpf2go outputs (needs clang; scripts/install-deps.sh).
generate:
	$(GO) generate ./loader/... ./internal/loadgen/...

# The whole suite: unit, kernel (BPF_PROG_TEST_RUN), namespace and real-peer
# tests (root; they skip with a message otherwise), then short fuzz runs.
test: build
	$(GO) test -count=1 -timeout 25m ./...
	$(MAKE) fuzz

# A short run of every fuzz target in the tree (go test -fuzz takes one target
# per package per run). Seeds and corpora live in each package's testdata/fuzz.
fuzz:
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg > $$log 2>&1 || { cat $$log; exit 1; }; \
	    tail -n 3 $$log | grep -E 'execs|ok' | tail -n 2; \
	  done; \
	done

# The lab demo: a namespace network, a failover pair, a client; cleans up after itself.
demo: build
	./$(BIN) lab

deps:
	bash scripts/install-deps.sh

vet:
	$(GO) vet ./...

# CI: regenerating the BPF objects must change nothing.
check-generate: generate
	git diff --exit-code -- loader/ internal/loadgen/ || (echo "make generate changed the committed bpf2go outputs: commit them" >&2; exit 1)

clean:
	rm -rf bin
