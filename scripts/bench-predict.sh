#!/usr/bin/env bash
# bench-predict.sh — `goodnet predict --set` end to end on lab-sized sets, in forward-pass
# equivalents (issue 16): the wall time of the whole process over the time one forward pass
# takes for the same images at the forward speed `goodnet bench` measures in the same run.
#
# Usage: scripts/bench-predict.sh        (uses bin/goodnet; run `make build` first)
#
# Environment: BIN (default bin/goodnet), MODEL, DATA, IMAGES as scripts/bench-sweep.sh (which makes DATA once; run it,
# or `goodnet bench --write-sets DATA`, first); RUNS (default 3) rounds, each: the forward
# speed (`goodnet bench --json`'s forward row, its own median of 3), then predict on the
# clean validation set (float64 pixels, 11,547 images) and on the poisoned one (uint8).
# Prints every run and the medians of the ratios.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${BIN:-bin/goodnet}
[ -x "$bin" ] || { echo "bench-predict: $bin not found: run make build" >&2; exit 1; }
fixtures=${GOODNET_FIXTURES:-$root/../shared/fixtures}
model=${MODEL:-$fixtures/bd_net.h5}
data=${DATA:-bench-data}
runs=${RUNS:-3}
for f in cl_valid.h5 bd_valid.h5; do
	[ -f "$data/$f" ] || { echo "bench-predict: $data/$f missing: run scripts/bench-sweep.sh (or goodnet bench --write-sets $data)" >&2; exit 1; }
done
n=$(python3 -c "import h5py,sys; print(h5py.File(sys.argv[1],'r')['label'].shape[0])" "$data/cl_valid.h5" 2>/dev/null || echo 11547)

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg); $n images"
"$bin" predict --device cpu --bad_model "$model" --set "$data/cl_valid.h5" >/dev/null # warm-up: the page cache
"$bin" predict --device cpu --bad_model "$model" --set "$data/bd_valid.h5" >/dev/null
rc=()
rb=()
for i in $(seq 1 "$runs"); do
	ips=$("$bin" bench --device cpu --bad_model "$model" --images "$n" --repeats 3 --json 2>/dev/null |
		python3 -c 'import json,sys; r=json.load(sys.stdin); print([x for x in r["rows"] if x["name"]=="forward"][0]["images_per_s"])')
	fwd=$(awk -v n="$n" -v s="$ips" 'BEGIN {print n / s}')
	line="== run $i: forward $ips img/s ($fwd s for $n images)"
	for s in cl_valid bd_valid; do
		t0=$(now)
		"$bin" predict --device cpu --bad_model "$model" --set "$data/$s.h5" >/dev/null
		t=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {print b - a}')
		r=$(awk -v t="$t" -v f="$fwd" 'BEGIN {printf "%.2f", t / f}')
		line="$line; predict $s $t s = $r forward passes"
		if [ "$s" = cl_valid ]; then rc+=("$r"); else rb+=("$r"); fi
	done
	echo "$line"
done
echo "== medians of $runs runs: cl_valid (float64) $(printf '%s\n' "${rc[@]}" | median), bd_valid (uint8) $(printf '%s\n' "${rb[@]}" | median) forward passes"
echo "   load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
