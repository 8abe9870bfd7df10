#!/usr/bin/env bash
# gpu-check.sh — goodnet's GPU check in one run: the machine, `goodnet gpu-check`, then
# compute-sanitizer's memcheck, racecheck and synccheck on the small self-test; one log.
#
# Usage:
#   gpu-check.sh [--fixtures DIR | --no-fixtures] [--out LOG] [--timeout SECONDS]
#                [--images N] [--repeats R] [--faces N] [--no-timings] [--no-sanitizers]
#
#   --fixtures DIR    the real fixtures (bd_net.h5, bprime_2.h5, cl_mini.h5, bd_mini.h5,
#                     expected.json, faces/). Default: the bundle's fixtures/, or
#                     ../shared/fixtures beside the repository. None found is an error.
#   --no-fixtures     waive the checks of the real B and B'_2 (never the default)
#   --out LOG         the log (default: ./gpu-check-<host>-<date>.log)
#   --timeout S       the whole run's limit in seconds (default 560: it ends, verdicts
#                     written, inside a 600 s command); gpu-check gets S minus what the
#                     sanitizers need, each sanitizer a share of what is left
#   --images N, --repeats R, --faces N, --no-timings
#                     passed to `goodnet gpu-check` (see goodnet gpu-check -h)
#   --no-sanitizers   leave out compute-sanitizer
#
# Where it runs from:
#   - a bundle made by `make gpu-check-bundle` (this script at the top, bin/goodnet, lib/,
#     fixtures/, sanitizer/): for a GPU machine with the NVIDIA driver and nothing else —
#     no Go, no libhdf5, no CUDA toolkit. On it:
#         tar -xzf gpu-check-bundle.tar.gz -C /tmp && /tmp/gpu-check-bundle/gpu-check.sh
#     lib/ (HDF5 and what it links) goes first on LD_LIBRARY_PATH; the driver's libcuda.so.1
#     and the C library come from the machine (the bundle's MANIFEST says which glibc).
#   - the repository after `make cuda` (scripts/gpu-check.sh, bin/goodnet); `make gpu-check`.
#
# compute-sanitizer: the bundle's sanitizer/ (copied from the toolkit of the machine that
# made the bundle), else one on PATH or in /usr/local/cuda/bin; GPU_CHECK_SANITIZER=PATH
# names one, =none leaves it out; GPU_CHECK_SANITIZER_LIMIT=S caps each tool's time. Its tools
# run `goodnet gpu-check --small` (small kernels and nets: every kernel launched;
# instrumented runs are slow).
#
# Success is the last line `gpu-check.sh: PASSED` and exit status 0. Otherwise the last line
# is `gpu-check.sh: FAILED — <what>` (exit 1), with each part's verdict above it; 2 is a
# usage error. Without a usable GPU it fails (exit 1), saying why. A sanitizer that is absent,
# cannot attach, or runs out of time without reporting anything is NOT RUN / NOT FINISHED:
# said, but not a failure.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -f $here/MANIFEST ]]; then
	root=$here bundle=1 # a bundle
else
	root=$(dirname "$here") bundle= # the repository
fi
exe=$root/bin/goodnet

usage() { sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "gpu-check.sh: $*" >&2; exit 2; }

fixtures= nofix= out= timeout_s=560 nosan= pass=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--fixtures) [[ $# -ge 2 ]] || die "--fixtures needs a directory"; fixtures=$2; shift 2 ;;
	--no-fixtures) nofix=1; shift ;;
	--out) [[ $# -ge 2 ]] || die "--out needs a file"; out=$2; shift 2 ;;
	--timeout) [[ $# -ge 2 && $2 =~ ^[0-9]+$ && $2 -ge 60 ]] || die "--timeout needs a number of seconds ≥ 60"; timeout_s=$2; shift 2 ;;
	--images | --repeats | --faces)
		[[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "$1 needs a number"; pass+=("$1" "$2"); shift 2 ;;
	--no-timings) pass+=(--no-timings); shift ;;
	--no-sanitizers) nosan=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[[ -n $fixtures && -n $nofix ]] && die "--fixtures and --no-fixtures together: choose one"
if [[ -z $fixtures && -z $nofix ]]; then
	for d in "$root/fixtures" "$root/../shared/fixtures"; do
		[[ -f $d/expected.json ]] && { fixtures=$d; break; }
	done
	[[ -n $fixtures ]] || die "no fixtures: none in $root/fixtures or $root/../shared/fixtures; give --fixtures DIR (or --no-fixtures to waive the real-model checks)"
fi
if [[ -n $fixtures ]]; then
	[[ -f $fixtures/expected.json ]] || die "--fixtures $fixtures: expected.json not found there"
	fixtures=$(cd "$fixtures" && pwd)
	pass=(--fixtures "$fixtures" "${pass[@]}")
else
	pass=(--no-fixtures "${pass[@]}")
fi
[[ -n $out ]] || out=./gpu-check-$(hostname -s 2>/dev/null || echo host)-$(date +%Y%m%d-%H%M%S).log
mkdir -p "$(dirname "$out")" && : >"$out" || die "cannot write the log $out"
deadline=$(($(date +%s) + timeout_s))
# the bundle's libraries first; its C++ runtime (lib-cxx/) only when the machine's is missing
# or too old for bin/goodnet (the bundle's libstdc++ may need a newer glibc than the rest)
[[ -d $root/lib ]] && export LD_LIBRARY_PATH=$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
cxx="the machine's"
if [[ -d $root/lib-cxx ]] && command -v ldd >/dev/null && ldd "$exe" 2>&1 | grep -qE '(libstdc\+\+|libgcc_s)[^ ]* => not found|GLIBCXX|CXXABI|GCC_[0-9.]+. not found'; then
	export LD_LIBRARY_PATH=$root/lib-cxx:$LD_LIBRARY_PATH
	cxx="the bundle's (lib-cxx/)"
fi

log() { printf '%s\n' "$*" | tee -a "$out"; }
verdicts=() failed=()
verdict() { # name, PASSED|FAILED|NOT RUN, detail
	verdicts+=("$(printf '%-30s %s%s' "$1:" "$2" "${3:+ — $3}")")
	[[ $2 == FAILED ]] && failed+=("$1${3:+ ($3)}")
}
finish() {
	log ""
	log "== verdicts"
	for v in "${verdicts[@]}"; do log "$v"; done
	log "log: $out"
	if [[ ${#failed[@]} -eq 0 ]]; then
		log "gpu-check.sh: PASSED"
		exit 0
	fi
	local what
	what=$(printf '%s; ' "${failed[@]}")
	log "gpu-check.sh: FAILED — ${what%; }"
	exit 1
}

{
	echo "== goodnet gpu-check.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), limit ${timeout_s} s"
	echo "host: $(hostname) — $(uname -srm)"
	echo "glibc: $(ldd --version 2>/dev/null | head -1)"
	[[ -n $bundle ]] && sed 's/^/bundle: /' "$root/MANIFEST"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //') × $(nproc)"
	echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)"
	echo
	echo "== nvidia-smi"
	if command -v nvidia-smi >/dev/null; then
		nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,memory.used,clocks.max.sm --format=csv 2>&1 ||
			nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
		nvidia-smi 2>&1 | head -20
	else
		echo "nvidia-smi not found"
	fi
	echo
	echo "== libraries of $exe (C++ runtime: $cxx)"
	ldd "$exe" 2>&1
} 2>&1 | tee -a "$out"

if [[ ! -x $exe ]]; then
	verdict "gpu-check" FAILED "$exe is missing: run 'make cuda' (or use the bundle of 'make gpu-check-bundle')"
	finish
fi
if command -v ldd >/dev/null && missing=$(ldd "$exe" 2>&1 | grep ' not found'); then
	why="shared libraries missing or too old: $(echo "$missing" | sed 's/^[[:space:]]*//' | head -3 | tr '\n' ' ')"
	[[ $missing == *GLIBC_* ]] && why="this machine's glibc ($(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$')) is older than the bundle needs (MANIFEST); $why"
	[[ $missing == *libcuda.so* ]] && why="no NVIDIA driver here (libcuda.so.1 not found); $why"
	verdict "gpu-check" FAILED "$why"
	verdict "compute-sanitizer" "NOT RUN" "the check could not start"
	finish
fi

# the sanitizer: bundled, named, on PATH or in /usr/local/cuda/bin
san=${GPU_CHECK_SANITIZER:-}
if [[ -z $san ]]; then
	for s in "$root/sanitizer/compute-sanitizer" "$(command -v compute-sanitizer 2>/dev/null)" /usr/local/cuda/bin/compute-sanitizer; do
		[[ -n $s && -x $s ]] && { san=$s; break; }
	done
fi
[[ $san == none || -n $nosan ]] && san=
sanitizers=(memcheck racecheck synccheck)
reserve=10
[[ -n $san ]] && reserve=$((10 + 50 * ${#sanitizers[@]}))

# 1. goodnet gpu-check
budget=$((deadline - $(date +%s) - reserve))
((budget < 30)) && budget=30
log ""
log "== $exe gpu-check ${pass[*]} (limit ${budget} s)"
start=$(date +%s)
timeout -k 10 "$budget" "$exe" gpu-check "${pass[@]}" 2>&1 | tee "$out.part"
rc=${PIPESTATUS[0]}
took=$(($(date +%s) - start))
cat "$out.part" >>"$out"
last=$(grep -E '^gpu-check: (PASSED|FAILED)' "$out.part" | tail -1)
nogpu=$(grep -m1 -oE 'no usable GPU.*' "$out.part")
said=$(grep -E '^goodnet( gpu-check)?: ' "$out.part" | tail -1 | sed -E 's/^goodnet( gpu-check)?: //')
rm -f "$out.part"
case $rc in
0)
	if [[ $last == "gpu-check: PASSED"* ]]; then
		verdict "gpu-check" PASSED "${last#gpu-check: PASSED — }"
	else
		verdict "gpu-check" FAILED "exit status 0 but no 'gpu-check: PASSED' line"
	fi ;;
124 | 137) verdict "gpu-check" FAILED "stopped by the limit of ${budget} s (--timeout)" ;;
*)
	if [[ -n $nogpu ]]; then
		verdict "gpu-check" FAILED "$nogpu"
	elif [[ -n $last ]]; then
		verdict "gpu-check" FAILED "${last#gpu-check: FAILED — }"
	elif [[ -n $said ]]; then
		verdict "gpu-check" FAILED "exit status $rc: $said"
	else
		verdict "gpu-check" FAILED "exit status $rc after ${took} s (see the log)"
	fi ;;
esac

# 2. compute-sanitizer on the small self-test
if [[ -n $nosan ]]; then
	verdict "compute-sanitizer" "NOT RUN" "--no-sanitizers"
elif [[ -z $san ]]; then
	verdict "compute-sanitizer" "NOT RUN" "no compute-sanitizer here (the bundle carries one when its maker has the CUDA toolkit)"
elif [[ -n $nogpu ]]; then
	verdict "compute-sanitizer" "NOT RUN" "no usable GPU"
else
	log ""
	log "== compute-sanitizer: $san ($("$san" --version 2>&1 | grep -m1 -i version))"
	for i in "${!sanitizers[@]}"; do
		tool=${sanitizers[$i]}
		left=$((deadline - $(date +%s) - 5))
		share=$((left / (${#sanitizers[@]} - i)))
		if [[ -n ${GPU_CHECK_SANITIZER_LIMIT:-} ]] && ((GPU_CHECK_SANITIZER_LIMIT < share)); then
			share=$GPU_CHECK_SANITIZER_LIMIT
		elif ((share < 20)); then
			verdict "sanitizer $tool" "NOT RUN" "no time left within --timeout"
			continue
		fi
		log ""
		log "== compute-sanitizer --tool $tool: $exe gpu-check --small (limit ${share} s)"
		part=$out.$tool
		GODEBUG=asyncpreemptoff=1 timeout -k 10 "$share" "$san" --tool "$tool" --error-exitcode 99 \
			"$exe" gpu-check --small >"$part" 2>&1
		src=$?
		grep -E '^=========' "$part" | tail -n 60 | tee -a "$out" >/dev/null
		grep -E '^(gpu-check: |FAIL )' "$part" | tee -a "$out" >/dev/null
		errs=$(grep -oE 'ERROR SUMMARY: [0-9]+ error' "$part" | tail -1 | grep -oE '[0-9]+')
		inner=$(grep -E '^gpu-check: (PASSED|FAILED)' "$part" | tail -1)
		found=$(grep -cE '^========= +(Invalid|Program hit|Race|Barrier|Uninitialized|Error:|Warning:|Malloc|Leaked|Out-of-range|Misaligned)' "$part")
		if [[ $src == 124 || $src == 137 ]]; then
			if ((found > 0)); then
				verdict "sanitizer $tool" FAILED "$found reports before it was stopped by its limit of ${share} s"
			else
				verdict "sanitizer $tool" "NOT FINISHED" "stopped by its limit of ${share} s; nothing reported until then"
			fi
		elif [[ -z $errs ]]; then
			verdict "sanitizer $tool" "NOT RUN" "compute-sanitizer did not run the check (exit $src: $(grep -m1 -iE 'error|unable' "$part" | head -c 160))"
		elif [[ $errs != 0 ]]; then
			verdict "sanitizer $tool" FAILED "$errs errors (see the ========= lines above)"
		elif [[ $inner != "gpu-check: PASSED"* ]]; then
			verdict "sanitizer $tool" FAILED "0 errors, but the check under it did not pass (exit $src; ${inner:-no verdict})"
		else
			verdict "sanitizer $tool" PASSED "0 errors"
		fi
		rm -f "$part"
	done
fi
finish
