# Dr.LEE. `make` (or `make help`) lists the targets. Every Go command needs the luajit build tag.
# Variables you may override: GO, TAGS, TESTFLAGS, ARGS (bench), FUZZTIME (fuzz), IMAGE (docker), LJ_STATIC_DIR.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Go from PATH, else from /usr/local/go. Debian installs nats-server (tests) in /usr/sbin, which a
# non-root PATH often lacks.
ifeq ($(shell command -v go 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif
ifeq ($(filter /usr/sbin,$(subst :, ,$(PATH))),)
export PATH := $(PATH):/usr/sbin
endif

GO        ?= go
FUZZTIME  ?= 30s
GOFMT     ?= gofmt
TAGS      ?= luajit
TESTFLAGS ?=
ARGS      ?=
IMAGE     ?= drlee
BIN       := bin/drlee

# bin/drlee links LuaJIT statically: this directory holds only libluajit-5.1.a (a symlink made by
# third_party/luajit/static.sh), and being first on the link path it wins over the .so.
LJ_STATIC_DIR  ?= bin/.luajit-static
STATIC_LDFLAGS  = -L$(abspath $(LJ_STATIC_DIR)) -lm -ldl

# Lists the Go sources the go tool sees (it skips testdata, vendor, _* and .* directories).
FIND_GO = find . \( -name testdata -o -name vendor -o -name '_*' -o -name '.?*' -o -path ./bin \) -prune \
	-o -type f -name '*.go' -print

export CGO_ENABLED := 1

.PHONY: help deps build test test-short fuzz vet fmt fmt-check example bench bench-quick instructions bench-deps docker clean

## help: list the targets (the default)
help:
	@awk '/^## [a-z-]+:/ { sub(/^## /, ""); i = index($$0, ":"); \
		printf "  %-12s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2) }' $(MAKEFILE_LIST)

## deps: install LuaJIT (third_party/luajit/PIN) and the test tools with apt
deps:
	bash third_party/luajit/install.sh

## build: build bin/drlee with LuaJIT linked statically
build:
	bash third_party/luajit/static.sh $(LJ_STATIC_DIR)
	CGO_LDFLAGS="$(STATIC_LDFLAGS)" $(GO) build -tags $(TAGS) -trimpath -o $(BIN) ./cmd/drlee
	@if ldd $(BIN) | grep luajit; then echo "build: $(BIN) links LuaJIT dynamically" >&2; exit 1; fi

## test: vet, gofmt check, then all tests under the race detector
test: vet fmt-check
	$(GO) test -race -tags $(TAGS) -timeout 900s $(TESTFLAGS) ./...

## test-short: vet, gofmt check, then tests without -race (and with -short)
test-short: vet fmt-check
	$(GO) test -short -tags $(TAGS) -timeout 900s $(TESTFLAGS) ./...

## fuzz: run every Go fuzz target (func FuzzXxx in a _test.go file) for FUZZTIME each (default 30s); their seed corpora already run in make test
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./third_party/' | while read -r f; do \
		pkg="./$$(dirname "$${f#./}")"; \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			echo "--- $$t ($$pkg, $(FUZZTIME))"; \
			$(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) "$$pkg" || exit 1; \
		done; \
	done

## vet: go vet
vet:
	$(GO) vet -tags $(TAGS) ./...

## fmt: gofmt -w every Go file
fmt:
	$(FIND_GO) | xargs -r $(GOFMT) -l -w

## fmt-check: fail, listing them, if any Go file is not gofmt'ed
fmt-check:
	@files="$$($(FIND_GO) | xargs -r $(GOFMT) -l)"; \
	if [[ -n $$files ]]; then echo "not gofmt'ed (run make fmt):" >&2; echo "$$files" >&2; exit 1; fi

## example: build and run examples/hello.lua (HTTP on :8080)
example: build
	./$(BIN) run examples/hello.lua

## bench: build, then run the benchmarks (bench/cmd/benchrun; pass flags with ARGS=...)
bench: build
	$(GO) run -tags $(TAGS) ./bench/cmd/benchrun $(ARGS)

## bench-quick: like bench, with -quick
bench-quick: build
	$(GO) run -tags $(TAGS) ./bench/cmd/benchrun -quick $(ARGS)

## instructions: instructions per request on one scenario, with callgrind (SCENARIO=hello CONNS=8 SERVER=drlee|fasthttp|nginx)
instructions: build
	SERVER=$(or $(SERVER),drlee) GO=$(GO) bash bench/instructions.sh $(or $(SCENARIO),hello) $(or $(CONNS),8)

## bench-deps: install the benchmark tools (wrk, nginx, redis-server, postgresql)
bench-deps:
	bash bench/deps.sh

## docker: build the image drlee (IMAGE=...)
docker:
	docker build -t $(IMAGE) .

## clean: remove bin/
clean:
	rm -rf bin
