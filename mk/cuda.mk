# mk/cuda.mk — the CUDA build, included by the Makefile (which defines GO, BIN, GOFLAGS_BUILD).
#
#   make cuda                nvcc cuda/kernels.cu → cuda/kernels.fatbin and the SHA-256 of
#                            the source it compiled (kernels.fatbin.sha256; both embedded), then
#                            bin/goodnet (-tags cuda: GPU, hands over to the CPU build when no
#                            GPU is usable — see internal/devprobe) and bin/goodnet-cpu
#   make cuda-vet            go vet -tags cuda ./...
#   make cuda-test-fallback  the cuda build on a machine without a usable GPU gives the CPU's
#                            predictions; --device gpu fails clearly (scripts/test-fallback.sh)
#   make gpu-check           self-test and CPU/GPU timings on this machine's GPU
#   make gpu-check-bundle    a folder (and .tar.gz) to run the gpu-check on a GPU machine
#                            without Go or libhdf5: binaries, their shared libraries, the script
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

.PHONY: cuda fatbin cuda-vet cuda-test-fallback gpu-check gpu-check-bundle

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

cuda-test-fallback: cuda
	./scripts/test-fallback.sh $(BIN) $(FIXTURES)

gpu-check: cuda   ## self-test + CPU/GPU timings on this machine's GPU (log: out/gpu-check.log)
	./scripts/gpu-check.sh --fixtures $(FIXTURES) --out out/gpu-check.log

# The bundle: bin/goodnet, bin/goodnet-cpu, lib/ (every shared library ldd lists except the C
# library family and the driver's libcuda, which must come from the GPU machine), and
# gpu-check.sh at the top. The fixtures are not copied (third-party data): pass their
# directory to the script there.
gpu-check-bundle: cuda
	rm -rf $(GPU_BUNDLE) && mkdir -p $(GPU_BUNDLE)/bin $(GPU_BUNDLE)/lib
	cp $(BIN)/goodnet $(BIN)/goodnet-cpu $(GPU_BUNDLE)/bin/
	cp scripts/gpu-check.sh $(GPU_BUNDLE)/
	ldd $(BIN)/goodnet $(BIN)/goodnet-cpu | awk '/=> \// {print $$3}' | sort -u | \
	  grep -Ev '/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux[^/]*|libcuda)\.so' | \
	  xargs -r -I{} cp -L {} $(GPU_BUNDLE)/lib/
	objdump -T $(BIN)/goodnet $(GPU_BUNDLE)/lib/* | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -1 | \
	  sed 's/^/needs the C library (glibc) version /' > $(GPU_BUNDLE)/GLIBC
	tar -C $(dir $(GPU_BUNDLE)) -czf $(GPU_BUNDLE).tar.gz $(notdir $(GPU_BUNDLE))
	@echo "bundle: $(GPU_BUNDLE)/ and $(GPU_BUNDLE).tar.gz ($$(du -sh $(GPU_BUNDLE) | cut -f1); $$(cat $(GPU_BUNDLE)/GLIBC))"
	@echo "on the GPU machine: tar xzf gpu-check-bundle.tar.gz && gpu-check-bundle/gpu-check.sh --fixtures DIR"
