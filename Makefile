# Tubegate. `make run` runs the gateway; `make test` runs every test.
GO        ?= go
BIN       := bin/gateway
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test unit e2e lint deps bench clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/gateway

run: build
	./$(BIN) serve

deps:
	bash scripts/install-deps.sh

# Every test: static checks, unit tests, and the end-to-end tests that drive
# the built binary with real OpenSSH and headless Chromium.
test: deps build lint
	$(GO) test -count=1 -timeout 20m ./...

unit:
	$(GO) test -count=1 ./internal/... ./cmd/...

e2e: deps build
	$(GO) test -count=1 -timeout 20m -v ./e2e/

lint:
	@out=$$(gofmt -l cmd internal e2e wasm 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The performance table (docs: README, Performance): the gateway against
# loopback TCP and OpenSSH ssh -L, in one run; under 5 minutes on 2 cores.
bench: build
	$(GO) run ./cmd/tubebench --gateway $(BIN)

clean:
	rm -rf bin
