#!/bin/sh
# Training speed of goodnet and PyTorch 1.13 on DeepID, side by side in one session: R rounds,
# each timing goodnet (bin/goodnet bench --train-only) on 2 threads, PyTorch on 2 threads,
# goodnet on 1 thread (GOMAXPROCS=1), PyTorch on 1 thread (on a busy 2-core machine one thread
# can be the faster), each over E timed epochs of 1,024 images after a warm-up; prints every
# epoch's images/s and the medians of all epochs. Never run by the tests.
#   make build && scripts/anchor/compare_training.sh [CLASSES [ROUNDS [EPOCHS]]]
set -eu
K=${1:-1283}
R=${2:-3}
E=${3:-3}
PY=/usr/bin/python3
DIR=$(dirname "$0")
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$R"); do
	bin/goodnet bench --train-only "$K" --repeats "$E" | sed -n 's/^goodnet epoch [0-9/]*: \([0-9]*\) img.*/goodnet-2 \1/p' | tee -a "$OUT"
	$PY "$DIR/train_deepid.py" --classes "$K" --epochs "$E" --threads 2 --images 1024 | sed -n 's/^pytorch epoch [0-9/]*: \([0-9]*\) img.*/pytorch-2 \1/p' | tee -a "$OUT"
	GOMAXPROCS=1 bin/goodnet bench --train-only "$K" --repeats "$E" | sed -n 's/^goodnet epoch [0-9/]*: \([0-9]*\) img.*/goodnet-1 \1/p' | tee -a "$OUT"
	$PY "$DIR/train_deepid.py" --classes "$K" --epochs "$E" --threads 1 --images 1024 | sed -n 's/^pytorch epoch [0-9/]*: \([0-9]*\) img.*/pytorch-1 \1/p' | tee -a "$OUT"
done
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
for who in goodnet-2 pytorch-2 goodnet-1 pytorch-1; do
	grep "^$who " "$OUT" | cut -d' ' -f2 | sort -n | awk -v w="$who" -v k="$K" '
		{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%-10s DeepID %d classes, batch 32, Adam: median %.0f img/s [%d–%d] over %d epochs\n", w, k, m, v[1], v[NR], NR }'
done
