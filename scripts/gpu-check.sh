#!/usr/bin/env bash
# gpu-check.sh — the GPU self-test and CPU/GPU timings of goodnet, in one run.
#
# Usage:
#   gpu-check.sh [--fixtures DIR] [--out LOG] [--images N] [--repeats R] [--timeout SECONDS]
#
#   --fixtures DIR   the real Keras fixtures (bd_net.h5, bprime_2.h5, cl_mini.h5, bd_mini.h5,
#                    expected.json; ../shared/fixtures in the repository); without it the
#                    fixture checks are skipped and the timings use random weights
#   --out LOG        where the log goes (default: ./gpu-check-<host>-<date>.log)
#   --images N       images per timed set (default 12830, the lab's test set size)
#   --repeats R      runs per timing, median reported (default 3)
#   --timeout S      stop goodnet after S seconds (default 900)
#
# Where it runs from:
#   - in the repository (scripts/gpu-check.sh, after `make cuda`): uses bin/goodnet;
#     `make gpu-check` does exactly this with the repository's fixtures;
#   - in a bundle made by `make gpu-check-bundle` (gpu-check.sh at the top, bin/, lib/): for
#     a GPU machine that has the NVIDIA driver but neither Go nor libhdf5. Copy
#     out/gpu-check-bundle.tar.gz and the fixtures there, then
#         tar xzf gpu-check-bundle.tar.gz
#         gpu-check-bundle/gpu-check.sh --fixtures path/to/fixtures
#     lib/ holds the shared libraries the binaries need (HDF5 and what it links) and is put
#     first on LD_LIBRARY_PATH; the driver's libcuda.so.1 and the C library come from the
#     machine (the bundle's GLIBC file says which glibc it needs).
#
# What it does: prints the machine, nvidia-smi and the libraries the binary resolves, then
# runs `goodnet gpu-check`: every kernel and the whole DeepID net against the CPU on random
# inputs, the lab's B and B' on the mini sets against expected.json, then the timings of
# DeepID forward passes, activation collection, channel means, GoodNet's double inference and
# the pruning sweep on the CPU and the GPU side by side. A few minutes on a current GPU
# server. Exit status: goodnet's (0: the self-test passed and the timings ran).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -x $here/bin/goodnet ]]; then
	root=$here          # a bundle
else
	root=$(dirname "$here") # the repository
fi
bin=$root/bin

fixtures= out= images= repeats= timeout_s=900
while [[ $# -gt 0 ]]; do
	case $1 in
	--fixtures) fixtures=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--images) images=$2; shift 2 ;;
	--repeats) repeats=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "gpu-check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[[ -n $out ]] || out=./gpu-check-$(hostname -s 2>/dev/null || echo host)-$(date +%Y%m%d-%H%M%S).log
mkdir -p "$(dirname "$out")"

if [[ ! -x $bin/goodnet || ! -x $bin/goodnet-cpu ]]; then
	echo "gpu-check.sh: $bin/goodnet and $bin/goodnet-cpu are missing: run 'make cuda' (or use a bundle from 'make gpu-check-bundle')" >&2
	exit 1
fi
if [[ -n $fixtures && ! -f $fixtures/expected.json ]]; then
	echo "gpu-check.sh: $fixtures/expected.json not found: --fixtures must name the fixtures directory" >&2
	exit 1
fi
[[ -d $root/lib ]] && export LD_LIBRARY_PATH=$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

args=(gpu-check)
[[ -n $fixtures ]] && args+=(--fixtures "$fixtures")
[[ -n $images ]] && args+=(--images "$images")
[[ -n $repeats ]] && args+=(--repeats "$repeats")

{
	echo "== goodnet gpu-check.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(hostname) — $(uname -srm)"
	echo "glibc: $(ldd --version 2>/dev/null | head -1)"
	[[ -f $root/GLIBC ]] && echo "bundle: $(cat "$root/GLIBC")"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //') × $(nproc)"
	echo
	echo "== nvidia-smi"
	if command -v nvidia-smi >/dev/null; then
		nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,memory.used --format=csv 2>&1 ||
			nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
		nvidia-smi 2>&1
	else
		echo "nvidia-smi not found"
	fi
	echo
	echo "== libraries of $bin/goodnet"
	ldd "$bin/goodnet" 2>&1
} 2>&1 | tee "$out"

if ldd "$bin/goodnet" "$bin/goodnet-cpu" 2>&1 | grep -q 'not found'; then
	echo "gpu-check.sh: shared libraries are missing (see 'not found' above); on a machine without libhdf5 use the bundle of 'make gpu-check-bundle'" | tee -a "$out" >&2
	exit 1
fi

{
	echo
	echo "== $bin/goodnet ${args[*]}"
} | tee -a "$out"
start=$(date +%s)
timeout "$timeout_s" "$bin/goodnet" "${args[@]}" 2>&1 | tee -a "$out"
rc=${PIPESTATUS[0]}
{
	echo
	case $rc in
	0) echo "== gpu-check passed in $(( $(date +%s) - start )) s" ;;
	124) echo "== gpu-check stopped after ${timeout_s} s (--timeout)" ;;
	*) echo "== gpu-check FAILED (exit status $rc) after $(( $(date +%s) - start )) s" ;;
	esac
	echo "log: $out"
} | tee -a "$out"
exit "$rc"
