# mk/cuda.mk — the CUDA build, included by the Makefile (which defines GO, BIN, GOFLAGS_BUILD).
#
#   make cuda                nvcc cuda/kernels.cu → cuda/kernels.fatbin and the SHA-256 of
#                            the source it compiled (kernels.fatbin.sha256; both embedded), then
#                            bin/goodnet (-tags cuda: GPU, hands over to the CPU build when no
#                            GPU is usable — see internal/devprobe) and bin/goodnet-cpu
#   make cuda-vet            go vet -tags cuda ./...
#   make cuda-test-fallback  the cuda build on a machine without a usable GPU gives the CPU's
#                            predictions; --device gpu fails clearly (scripts/test-fallback.sh)
#   make gpu-check           gpu-check.sh on this machine's GPU (log: out/gpu-check.log)
#   make gpu-check-bundle    out/gpu-check-bundle.tar.gz: the check for a GPU machine that has
#                            the driver and nothing else (see README: The GPU)
#   make cuda-dist           bin/goodnet, bin/goodnet-cpu and their shared libraries in one
#                            folder (what Dockerfile.cuda installs)
#
# nvcc is Debian's nvidia-cuda-toolkit 11.8 here (make setup-cuda), NVIDIA's 12.x in
# Dockerfile.cuda. The fatbin holds sm_80 and sm_90 machine code (A100, H100/H200 and the
# other 8.x/9.x GPUs) and compute_90 PTX, which the driver compiles for newer GPUs.

NVCC         ?= nvcc
NVCCFLAGS    ?= -O3
CUDA_GENCODE ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
                -gencode arch=compute_90,code=compute_90
FATBIN       := cuda/kernels.fatbin
FATBINS      := $(FATBIN) $(FATBIN).sha256
FIXTURES     ?= ../shared/fixtures
GPU_BUNDLE   ?= out/gpu-check-bundle
CUDA_DIST    ?= out/goodnet-cuda
# the carried bundle's limit (with the fixtures and the sanitizer), bytes of the .tar.gz
GPU_BUNDLE_MAX ?= 40000000
# compute-sanitizer for the bundle: auto (the toolkit's, when this machine has one) or none
SANITIZER    ?= auto

.PHONY: cuda fatbin cuda-vet cuda-test-fallback gpu-check gpu-check-bundle cuda-dist

fatbin: $(FATBINS)

# The fatbin and, beside it, the SHA-256 of the kernels.cu it was compiled from (with the
# nvcc release and flags): the cuda build embeds both and refuses to run kernels compiled from
# another kernels.cu than the one it embeds (cuda/source.go).
$(FATBINS) &: cuda/kernels.cu
	@h=$$(sha256sum cuda/kernels.cu | cut -c1-64) && \
	echo "$(NVCC) -fatbin $(NVCCFLAGS) $(CUDA_GENCODE) -o $(FATBIN).tmp cuda/kernels.cu" && \
	$(NVCC) -fatbin $(NVCCFLAGS) $(CUDA_GENCODE) -o $(FATBIN).tmp cuda/kernels.cu && \
	if [ "$$(sha256sum cuda/kernels.cu | cut -c1-64)" != "$$h" ]; then \
		echo "cuda/kernels.cu changed while nvcc compiled it: run make again" >&2; rm -f $(FATBIN).tmp; exit 1; fi && \
	{ echo "$$h  cuda/kernels.cu"; \
	  echo "nvcc: $$($(NVCC) --version | grep -o 'release [^,]*, V[0-9.]*' | head -1)"; \
	  echo "flags: $(NVCCFLAGS) $(CUDA_GENCODE)"; } > $(FATBIN).sha256.tmp && \
	mv $(FATBIN).sha256.tmp $(FATBIN).sha256 && mv $(FATBIN).tmp $(FATBIN)

cuda: $(FATBINS)   ## the CUDA build: bin/goodnet (GPU) and bin/goodnet-cpu
	$(GO) build $(GOFLAGS_BUILD) -tags cuda -o $(BIN)/goodnet ./cmd/goodnet
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/goodnet-cpu ./cmd/goodnet

cuda-vet: $(FATBINS)
	$(GO) vet -tags cuda ./...

cuda-test-fallback: cuda gpu-check-bundle
	./scripts/test-fallback.sh $(BIN) $(FIXTURES)
	./scripts/test-gpu-bundle.sh $(GPU_BUNDLE).tar.gz

gpu-check: cuda   ## gpu-check.sh on this machine's GPU (log: out/gpu-check.log)
	./scripts/gpu-check.sh --fixtures $(FIXTURES) --out out/gpu-check.log

# The bundle: gpu-check.sh at the top; bin/goodnet, the cuda build stripped; no goodnet-cpu:
# the CPU reference runs in the same process, and the check needs the GPU;
# lib/, the shared libraries it loads but the C library family
# and the driver's libcuda (scripts/collect-libs.sh), with the C++ runtime (libstdc++,
# libgcc_s) apart in lib-cxx/: gpu-check.sh uses the machine's when it is new enough, so that
# the bundle needs the glibc of libhdf5 (2.34 here), not that of this libstdc++ (2.36); fixtures/, the real fixtures the check
# uses (third-party data: copied only into this git-ignored folder, never into the
# repository); sanitizer/, compute-sanitizer and its libraries when this machine has them; a
# MANIFEST. The .tar.gz must stay under GPU_BUNDLE_MAX bytes: it travels as a carried file.
gpu-check-bundle: $(FATBINS)
	@test -f $(FIXTURES)/expected.json || { echo "gpu-check-bundle: no fixtures in $(FIXTURES) (FIXTURES=DIR)" >&2; exit 1; }
	rm -rf $(GPU_BUNDLE) $(GPU_BUNDLE).tar.gz && mkdir -p $(GPU_BUNDLE)/bin $(GPU_BUNDLE)/fixtures/faces
	$(GO) build $(GOFLAGS_BUILD) -ldflags='-s -w' -tags cuda -o $(GPU_BUNDLE)/bin/goodnet ./cmd/goodnet
	cp scripts/gpu-check.sh $(GPU_BUNDLE)/
	./scripts/collect-libs.sh $(GPU_BUNDLE)/lib $(GPU_BUNDLE)/bin/goodnet
	mkdir -p $(GPU_BUNDLE)/lib-cxx && mv $(GPU_BUNDLE)/lib/libstdc++.so* $(GPU_BUNDLE)/lib/libgcc_s.so* $(GPU_BUNDLE)/lib-cxx/
	cp $(addprefix $(FIXTURES)/,bd_net.h5 bprime_2.h5 cl_mini.h5 bd_mini.h5 expected.json) $(GPU_BUNDLE)/fixtures/
	cp $(FIXTURES)/faces/*.png $(GPU_BUNDLE)/fixtures/faces/
	./scripts/bundle-sanitizer.sh $(SANITIZER) $(GPU_BUNDLE)/sanitizer
	@{ echo "goodnet gpu-check bundle, made $$(date -u +%Y-%m-%dT%H:%M:%SZ) from commit $$(git describe --always --dirty 2>/dev/null || echo unknown)"; \
	  echo "fatbin: $$(head -1 $(FATBIN).sha256 | cut -c1-16)… of cuda/kernels.cu; $$(sed -n 2p $(FATBIN).sha256)"; \
	  echo "needs $$(objdump -T $(GPU_BUNDLE)/bin/goodnet $(GPU_BUNDLE)/lib/* | grep -o 'GLIBC_[0-9.]*' | sort -V -u | tail -1 | sed 's/GLIBC_/glibc /') or newer ($$(cat $(GPU_BUNDLE)/GLIBC) with lib-cxx/, used when the machine's libstdc++ is older than $$(objdump -T $(GPU_BUNDLE)/bin/goodnet | grep -oE 'GLIBCXX_[0-9.]+' | sort -V -u | tail -1)), and the NVIDIA driver (libcuda.so.1; sm_80/sm_90 code, compute_90 PTX)"; \
	  echo "sanitizer: $$(cat $(GPU_BUNDLE)/sanitizer/VERSION 2>/dev/null || echo none)"; } > $(GPU_BUNDLE)/MANIFEST
	rm -f $(GPU_BUNDLE)/GLIBC
	tar -C $(dir $(GPU_BUNDLE)) -czf $(GPU_BUNDLE).tar.gz $(notdir $(GPU_BUNDLE))
	@size=$$(stat -c %s $(GPU_BUNDLE).tar.gz); \
	echo "bundle: $(GPU_BUNDLE).tar.gz, $$((size / 1000000)) MB ($$(du -sm $(GPU_BUNDLE) | cut -f1) MiB unpacked; limit $(GPU_BUNDLE_MAX) bytes)"; \
	if [ $$size -gt $(GPU_BUNDLE_MAX) ]; then echo "gpu-check-bundle: $(GPU_BUNDLE).tar.gz is $$size bytes, over GPU_BUNDLE_MAX" >&2; exit 1; fi
	@echo "on the GPU machine: tar -xzf gpu-check-bundle.tar.gz -C /tmp && /tmp/gpu-check-bundle/gpu-check.sh"

# What Dockerfile.cuda installs: both builds and the shared libraries they load.
cuda-dist: cuda
	rm -rf $(CUDA_DIST) && mkdir -p $(CUDA_DIST)/bin
	cp $(BIN)/goodnet $(BIN)/goodnet-cpu $(CUDA_DIST)/bin/
	./scripts/collect-libs.sh $(CUDA_DIST)/lib $(CUDA_DIST)/bin/goodnet $(CUDA_DIST)/bin/goodnet-cpu
	@echo "dist: $(CUDA_DIST)/ ($$(du -sh $(CUDA_DIST) | cut -f1); $$(cat $(CUDA_DIST)/GLIBC))"
