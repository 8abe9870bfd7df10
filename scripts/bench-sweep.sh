#!/usr/bin/env bash
# bench-sweep.sh — time `goodnet prune` end to end on sets of the lab's sizes (make bench-sweep).
#
# Usage: scripts/bench-sweep.sh        (from anywhere; uses bin/goodnet, run `make build` first)
#
# Environment:
#   MODEL     B, a full Keras model file (default: ../shared/fixtures/bd_net.h5, the lab's B;
#             $GOODNET_FIXTURES/bd_net.h5 when that is set)
#   DATA      where the synthetic sets go (default: bench-data/, gitignored; never commit it)
#   RUNS      timed runs; the median is reported (default 3)
#   IMAGES    images per test set (default 12830; the validation sets scale: 11547)
#
# 1. Once (when DATA lacks them): `goodnet bench --write-sets DATA --bad_model MODEL` writes
#    cl_valid.h5, bd_valid.h5 (11,547 images each), cl_test.h5, bd_test.h5 (12,830 each) in
#    the layouts of the lab's files (clean: float64 pixels and labels; poisoned: uint8 pixels,
#    int64 labels; 1.7 GB in all). The faces are demo's procedural faces, every one distinct
#    (1283 identities, 9 validation and 10 test images each); the clean sets are labelled with
#    B's own predictions (B's clean accuracy is 100 %, so the thresholds are reached), the
#    poisoned sets are the same faces wearing demo's sunglasses trigger, labelled 0.
#    DATA/MODEL records which B labelled them; another MODEL makes them again.
# 2. One warm-up run (the files enter the page cache), then RUNS timed runs of
#      goodnet prune --device cpu --quiet --bad_model MODEL --clean_valid … --out DIR
#    each printing its phases (read, features, sweep, write, total, as goodnet prune reports
#    them); then the medians: the wall time of the whole process and each phase.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=bin/goodnet
[ -x "$bin" ] || { echo "bench-sweep: $bin not found: run make build" >&2; exit 1; }
fixtures=${GOODNET_FIXTURES:-$root/../shared/fixtures}
model=${MODEL:-$fixtures/bd_net.h5}
data=${DATA:-bench-data}
runs=${RUNS:-3}
images=${IMAGES:-12830}
[ -f "$model" ] || { echo "bench-sweep: $model: no such file (set MODEL)" >&2; exit 1; }

stamp="$(readlink -f "$model") $(stat -c %s "$model") images=$images"
have=1
for f in cl_valid.h5 bd_valid.h5 cl_test.h5 bd_test.h5; do
	[ -f "$data/$f" ] || have=0
done
if [ "$have" = 1 ] && [ "$(cat "$data/MODEL" 2>/dev/null)" != "$stamp" ]; then
	have=0
fi
if [ "$have" = 0 ]; then
	echo "== making the synthetic sets in $data (once; about a minute)"
	mkdir -p "$data"
	rm -f "$data/MODEL"
	"$bin" bench --write-sets "$data" --bad_model "$model" --device cpu --images "$images"
	echo "$stamp" >"$data/MODEL"
fi
ls -l "$data"/*.h5

out=$(mktemp -d "${TMPDIR:-/tmp}/goodnet-bench-sweep.XXXXXX")
trap 'rm -rf "$out"' EXIT
prune() {
	"$bin" prune --device cpu --quiet --bad_model "$model" \
		--clean_valid "$data/cl_valid.h5" --bad_valid "$data/bd_valid.h5" \
		--clean_test "$data/cl_test.h5" --bad_test "$data/bd_test.h5" --out "$out/run"
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== warm-up run"
prune | tail -n 12
walls=()
timings=()
for i in $(seq 1 "$runs"); do
	t0=$(date +%s.%N)
	line=$(prune | grep '^Timings:')
	t1=$(date +%s.%N)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
	walls+=("$wall")
	timings+=("$line")
	printf '== run %d: %.2f s wall; %s\n' "$i" "$wall" "$line"
done

# medians of the wall times and of each phase
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
printf '== median of %d runs: %.2f s wall (min %.2f, max %.2f)\n' "$runs" \
	"$(printf '%s\n' "${walls[@]}" | median)" \
	"$(printf '%s\n' "${walls[@]}" | sort -g | head -1)" "$(printf '%s\n' "${walls[@]}" | sort -g | tail -1)"
phases=""
for p in read features sweep write total; do
	v=$(printf '%s\n' "${timings[@]}" | grep -o "$p [0-9.]* s" | awk '{print $2}' | median)
	[ -n "$v" ] && phases="$phases $p $v s,"
done
echo "   phases (medians):${phases%,}"
echo "   load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
