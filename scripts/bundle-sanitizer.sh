#!/usr/bin/env bash
# bundle-sanitizer.sh auto|none DEST — copies compute-sanitizer and the libraries it injects
# into DEST (one folder: it finds them beside itself), for the gpu-check bundle; writes
# DEST/VERSION. auto: the toolkit's on PATH or in /usr/local/cuda/bin, if any (NVIDIA's layout
# keeps the libraries beside the binary, Debian's nvidia-cuda-toolkit under
# /usr/lib/nvidia-cuda-toolkit/compute-sanitizer); none, or none found: nothing.
set -euo pipefail
mode=$1 dest=$2
[[ $mode == none ]] && { echo "bundle: no compute-sanitizer (SANITIZER=none)"; exit 0; }
[[ $mode == auto ]] || { echo "bundle-sanitizer.sh: SANITIZER=$mode: want auto or none" >&2; exit 2; }
bin=
for s in "$(command -v compute-sanitizer 2>/dev/null || true)" /usr/local/cuda/bin/compute-sanitizer; do
	[[ -n $s && -x $s ]] && { bin=$(readlink -f "$s"); break; }
done
if [[ -z $bin ]]; then
	echo "bundle: no compute-sanitizer on this machine: the bundle runs without one"
	exit 0
fi
dir=$(dirname "$bin")
if [[ ! -f $dir/libsanitizer-collection.so && -f /usr/lib/nvidia-cuda-toolkit/compute-sanitizer/libsanitizer-collection.so ]]; then
	dir=/usr/lib/nvidia-cuda-toolkit/compute-sanitizer # Debian's layout
fi
if [[ ! -f $dir/libsanitizer-collection.so ]]; then
	echo "bundle: compute-sanitizer at $bin, but not its libraries: the bundle runs without one"
	exit 0
fi
mkdir -p "$dest"
cp -L "$bin" "$dest/compute-sanitizer"
find "$dir" -maxdepth 1 -name '*.so*' -exec cp -L {} "$dest/" \;
"$dest/compute-sanitizer" --version 2>/dev/null | grep -m1 -i version | sed "s|\$| (from $bin)|" >"$dest/VERSION" || true
echo "bundle: $(cat "$dest/VERSION"), $(du -sm "$dest" | cut -f1) MiB"
