# xdhcp: the two commands of the README are `make demo` and `make test`.
GO ?= go
BIN := bin/xdhcp
FUZZTIME ?= 10s

.PHONY: all build generate test unit fuzz demo deps vet clean check-generate

all: build

build:
	$(GO) build -o $(BIN) ./cmd/xdhcp

# Rebuilds the committed bpf2go outputs (needs clang; scripts/install-deps.sh).
generate:
	$(GO) generate ./loader/... ./userspace/gen/...

# The whole suite: unit, kernel (BPF_PROG_TEST_RUN), namespace and real-peer
# tests (root; they skip with a message otherwise), then short fuzz runs.
test: build
	$(GO) test -count=1 -timeout 25m ./...
	$(MAKE) fuzz

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzXDPMatchesGo$$' -fuzztime $(FUZZTIME) ./loader/

# The lab demo: a namespace network, a failover pair, a client; cleans up after itself.
demo: build
	./$(BIN) lab

deps:
	bash scripts/install-deps.sh

vet:
	$(GO) vet ./...

# CI: regenerating the BPF objects must change nothing.
check-generate: generate
	git diff --exit-code -- loader/ userspace/gen/ || (echo "make generate changed the committed bpf2go outputs: commit them" >&2; exit 1)

clean:
	rm -rf bin
