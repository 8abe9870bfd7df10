#!/usr/bin/env bash
# test-gpu-bundle.sh BUNDLE.tar.gz — the gpu-check bundle where no GPU is usable (part of
# `make cuda-test-fallback`): unpacked into a temporary folder and run exactly as the README
# says, with the GPUs hidden (CUDA_VISIBLE_DEVICES=, no nvidia-smi on PATH), it must fail
# cleanly: exit 1, a log whose verdicts say "no usable GPU", never "PASSED". Also checks the
# bundle's contents and size, and that a missing fixtures folder is refused.
set -euo pipefail
tgz=${1:-out/gpu-check-bundle.tar.gz}
fail() { echo "test-gpu-bundle: FAIL: $*" >&2; exit 1; }
[[ -f $tgz ]] || fail "$tgz not found (make gpu-check-bundle)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

size=$(stat -c %s "$tgz")
((size <= 40000000)) || fail "$tgz is $size bytes, over 40 MB"
tar -xzf "$tgz" -C "$tmp"
b=$tmp/gpu-check-bundle
for f in gpu-check.sh MANIFEST bin/goodnet fixtures/bd_net.h5 fixtures/bprime_2.h5 fixtures/cl_mini.h5 fixtures/bd_mini.h5 fixtures/expected.json; do
	[[ -e $b/$f ]] || fail "the bundle lacks $f"
done
[[ $(ls "$b"/fixtures/faces/*.png | wc -l) -ge 1 ]] || fail "the bundle has no faces"
[[ ! -e $b/bin/goodnet-cpu ]] || fail "the bundle carries goodnet-cpu"
if ls "$b"/lib | grep -qi openblas; then fail "the bundle carries OpenBLAS"; fi
if file "$b/bin/goodnet" | grep -q 'not stripped'; then fail "bin/goodnet is not stripped"; fi
echo "ok: bundle $(basename "$tgz"): $((size / 1000000)) MB, $(du -sm "$b" | cut -f1) MiB unpacked; $(head -1 "$b/MANIFEST")"

# a PATH without nvidia-smi or compute-sanitizer: the tools the script uses, linked one by one
mkdir -p "$tmp/path"
for t in bash sh env tar gzip date hostname uname ldd grep sed awk tee cat tail head cut tr sort mkdir rm dirname basename nproc timeout sleep stat wc printf readlink; do
	p=$(command -v "$t" 2>/dev/null) && ln -sf "$p" "$tmp/path/$t"
done

# the README's command (unpack, run), GPUs hidden
mkdir -p "$tmp/run"
set +e
env PATH="$tmp/path" CUDA_VISIBLE_DEVICES= bash -c 'tar -xzf "$1" -C "$2" && "$2/gpu-check-bundle/gpu-check.sh" --out "$3"' \
	_ "$(readlink -f "$tgz")" "$tmp/run" "$tmp/gpu-check.log" >"$tmp/stdout" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "without a GPU: exit status $rc, want 1; output: $(tail -5 "$tmp/stdout")"
last=$(tail -1 "$tmp/gpu-check.log")
[[ $last == "gpu-check.sh: FAILED — "*"no usable GPU"* ]] || fail "the log's last line is '$last'"
! grep -q 'PASSED' "$tmp/gpu-check.log" || fail "the log of a GPU-less run says PASSED: $(grep PASSED "$tmp/gpu-check.log")"
grep -q '^gpu-check: *FAILED — .*no usable GPU' "$tmp/gpu-check.log" || fail "no gpu-check verdict naming the missing GPU"
echo "ok: without a GPU the bundle fails cleanly: $last"

# fixtures missing: refused before anything runs
rm -rf "$tmp/run/gpu-check-bundle/fixtures"
set +e
env PATH="$tmp/path" "$tmp/run/gpu-check-bundle/gpu-check.sh" --out "$tmp/nofix.log" >"$tmp/stdout" 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q 'no fixtures' "$tmp/stdout" || fail "without fixtures: exit $rc: $(cat "$tmp/stdout")"
echo "ok: without fixtures: $(head -1 "$tmp/stdout")"
echo "test-gpu-bundle: passed"
