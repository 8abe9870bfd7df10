#!/usr/bin/env bash
# test-fallback.sh — the cuda build on a machine without a usable GPU (`make cuda-test-fallback`).
#
# Usage: scripts/test-fallback.sh [BIN_DIR] [FIXTURES_DIR]   (defaults: bin ../shared/fixtures)
#
# Checks, with bin/goodnet (the cuda build) and bin/goodnet-cpu (the default build):
#   - `goodnet predict` (--device auto) prints exactly goodnet-cpu's predictions, and one
#     line on stderr saying that it runs on the CPU and why;
#   - `--device cpu` does the same without that line; so does GoodNet (with B');
#   - `--device gpu` exits 1 with `goodnet: --device gpu: no usable GPU (<reason>)`;
#   - the CPU build's `--device gpu` fails with a clear message too.
# On a machine with a usable GPU the hand-over is forced with GOODNET_FORCE_CPU=1, and the
# GPU's predictions are compared with the CPU's as well.
set -euo pipefail

bin=${1:-bin}
fx=${2:-../shared/fixtures}
gpu=$bin/goodnet
cpu=$bin/goodnet-cpu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test-fallback: FAIL: $*" >&2; exit 1; }

[[ -x $gpu && -x $cpu ]] || fail "$gpu and $cpu must exist (make cuda)"
[[ -f $fx/bd_net.h5 ]] || fail "fixtures not found in $fx"

b=(predict --bad_model "$fx/bd_net.h5" --set "$fx/cl_mini.h5")
g=(predict --bad_model "$fx/bd_net.h5" --pruned_bad_model_weights "$fx/bprime_2.h5" --set "$fx/bd_mini.h5")

"$cpu" "${b[@]}" >"$tmp/cpu-b" || fail "goodnet-cpu predict failed"
"$cpu" "${g[@]}" >"$tmp/cpu-g" || fail "goodnet-cpu predict (GoodNet) failed"
[[ $(wc -l <"$tmp/cpu-b") -eq 3 ]] || fail "goodnet-cpu printed $(wc -l <"$tmp/cpu-b") lines for 3 images"

export -n GOODNET_FORCE_CPU 2>/dev/null || true
if "$gpu" "${b[@]}" --device gpu >"$tmp/gpu-b" 2>"$tmp/err"; then
	echo "test-fallback: a GPU is usable here: comparing its predictions, then forcing the hand-over"
	cmp -s "$tmp/gpu-b" "$tmp/cpu-b" || fail "GPU predictions $(tr '\n' ' ' <"$tmp/gpu-b")differ from the CPU's $(tr '\n' ' ' <"$tmp/cpu-b")"
	export GOODNET_FORCE_CPU=1
else
	rc=$?
	[[ $rc -eq 1 ]] || fail "--device gpu without a GPU: exit status $rc, want 1"
	[[ ! -s $tmp/gpu-b ]] || fail "--device gpu without a GPU printed predictions"
	grep -qx 'goodnet: --device gpu: no usable GPU (.*)' "$tmp/err" && [[ $(wc -l <"$tmp/err") -eq 1 ]] ||
		fail "--device gpu without a GPU: stderr is not the one-line message: $(cat "$tmp/err")"
	echo "ok: --device gpu fails: $(cat "$tmp/err")"
fi

for dev in "" auto cpu; do
	extra=()
	[[ -n $dev ]] && extra=(--device "$dev")
	"$gpu" "${b[@]}" "${extra[@]}" >"$tmp/out" 2>"$tmp/err" || fail "goodnet predict ${extra[*]} failed: $(cat "$tmp/err")"
	cmp -s "$tmp/out" "$tmp/cpu-b" || fail "goodnet predict ${extra[*]}: $(tr '\n' ' ' <"$tmp/out")differs from goodnet-cpu's $(tr '\n' ' ' <"$tmp/cpu-b")"
	if [[ $dev == cpu ]]; then
		[[ ! -s $tmp/err ]] || fail "--device cpu printed to stderr: $(cat "$tmp/err")"
	else
		grep -qx 'goodnet: no usable GPU (.*); running on the CPU' "$tmp/err" && [[ $(wc -l <"$tmp/err") -eq 1 ]] ||
			fail "--device ${dev:-(default)}: stderr is not the one-line notice: $(cat "$tmp/err")"
	fi
	echo "ok: goodnet predict ${extra[*]:---device (default)} = goodnet-cpu: $(tr '\n' ' ' <"$tmp/out")"
done

"$gpu" "${g[@]}" >"$tmp/out" 2>/dev/null || fail "goodnet predict (GoodNet) failed"
cmp -s "$tmp/out" "$tmp/cpu-g" || fail "GoodNet: $(tr '\n' ' ' <"$tmp/out")differs from goodnet-cpu's $(tr '\n' ' ' <"$tmp/cpu-g")"
echo "ok: GoodNet(B, B') predict = goodnet-cpu: $(tr '\n' ' ' <"$tmp/out")"

if "$cpu" "${b[@]}" --device gpu >"$tmp/out" 2>"$tmp/err"; then
	fail "the CPU build accepted --device gpu"
fi
grep -q 'gpu' "$tmp/err" || fail "the CPU build's --device gpu error does not say why: $(cat "$tmp/err")"
echo "ok: goodnet-cpu --device gpu fails: $(head -1 "$tmp/err")"
echo "test-fallback: passed"
