#!/bin/sh
# Fine-tuning speed of goodnet and PyTorch 1.13, side by side in one session: R rounds, each
# timing `goodnet finetune` on the demo's B' (seed 1, the 4 % threshold: 320 clean validation
# images, 32 classes, the recipe — Adam 3e-3 cosine, decoupled weight decay 5, flips and ±2 px
# shifts, the pruned channels of conv_3 held at zero) for E epochs on 2 threads, then PyTorch
# doing the same (scripts/anchor/train_deepid.py --finetune: AdamW, the same schedule,
# augmentation and mask, random images of the same size) on 2 threads, then both on 1 thread
# (goodnet: GOMAXPROCS=1); prints every run's images/s over its whole training (goodnet: its
# summary line, which leaves out compiling and the per-epoch evaluation; PyTorch: after a
# warm-up epoch) and the medians. Never run by the tests.
#   make build && scripts/anchor/compare_finetune.sh [ROUNDS [EPOCHS]]
set -eu
R=${1:-3}
E=${2:-40}
PY=/usr/bin/python3
DIR=$(dirname "$0")
D=${DEMO:-out/compare-finetune}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
if [ ! -f "$D/defense/bprime_4.h5" ]; then
	bin/goodnet demo --out "$D" --seed 1 --finetune-epochs 0 --quiet >/dev/null
fi
P=$(bin/goodnet inspect --model "$D/bd_net.h5" "$D/defense/bprime_4.h5" | sed -n 's/^conv_3: \([0-9]*\) all-zero.*/\1/p')
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg); B' has $P of conv_3's channels pruned"
gn() {
	bin/goodnet finetune --quiet --device cpu --bad_model "$D/bd_net.h5" --pruned_bad_model_weights "$D/defense" --threshold 4 \
		--clean_set "$D/cl_valid.h5" --epochs "$E" --out "$D/compare_ft.h5" | sed -n 's/.*held at 0), \([0-9]*\) img\/s$/\1/p'
}
for r in $(seq "$R"); do
	gn | sed 's/^/goodnet-2 /' | tee -a "$OUT"
	$PY "$DIR/train_deepid.py" --classes 32 --finetune --pruned "$P" --images 320 --epochs "$E" --threads 2 |
		sed -n 's/.*whole run \([0-9]*\) img\/s$/pytorch-2 \1/p' | tee -a "$OUT"
	GOMAXPROCS=1 gn | sed 's/^/goodnet-1 /' | tee -a "$OUT"
	$PY "$DIR/train_deepid.py" --classes 32 --finetune --pruned "$P" --images 320 --epochs "$E" --threads 1 |
		sed -n 's/.*whole run \([0-9]*\) img\/s$/pytorch-1 \1/p' | tee -a "$OUT"
done
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
for who in goodnet-2 pytorch-2 goodnet-1 pytorch-1; do
	grep "^$who " "$OUT" | cut -d' ' -f2 | sort -n | awk -v w="$who" -v e="$E" '
		{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%-10s fine-tuning DeepID (32 classes, 320 images × %d epochs): median %.0f img/s [%d–%d] over %d runs\n", w, e, m, v[1], v[NR], NR }'
done
