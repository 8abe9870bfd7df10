# goodnet — see README.md. `make setup && make test` on a fresh Debian/Ubuntu machine.
GO      ?= go
export PATH := $(PATH):/usr/local/go/bin
BIN     := bin
GOFLAGS_BUILD := -trimpath

.PHONY: all setup setup-cuda build test test-short test-busy vet tidy-check fuzz demo bench bench-sweep bench-predict clean

all: build

setup:            ## install libhdf5, pkg-config (apt) and the Go modules
	./scripts/setup-debian.sh

setup-cuda:       ## install nvcc (Debian's nvidia-cuda-toolkit, non-free)
	./scripts/setup-cuda-debian.sh

build:            ## the CPU build: bin/goodnet
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/goodnet ./cmd/goodnet

vet:
	$(GO) vet ./...

tidy-check:       ## go.mod and go.sum are what `go mod tidy` makes (CI; needs the module proxy)
	$(GO) mod tidy -diff

test: vet         ## every test (needs ../shared/fixtures)
	$(GO) test -count=1 -timeout 40m ./...
	$(MAKE) fuzz FUZZTIME=100x

test-busy:        ## the timing-sensitive tests and the fuzz smoke beside two CPU hogs (a busy CI machine)
	./scripts/test-busy.sh

test-short:
	$(GO) test -short ./...

FUZZTIME ?= 2m
fuzz:             ## run each fuzz target for FUZZTIME
	./scripts/fuzz.sh $(FUZZTIME)

demo: build       ## the built-in default: make a BadNet, repair it
	$(BIN)/goodnet demo --out out/demo

bench: build      ## goodnet bench on the CPU (and the GPU in a cuda build)
	$(BIN)/goodnet bench

bench-sweep: build ## time `goodnet prune` on synthetic sets of the lab's sizes
	./scripts/bench-sweep.sh

bench-predict: build ## `goodnet predict --set` in forward-pass equivalents (after bench-sweep made the sets)
	./scripts/bench-predict.sh

clean:
	rm -rf $(BIN) out bench-data cuda/kernels.fatbin cuda/kernels.fatbin.sha256

-include mk/cuda.mk
