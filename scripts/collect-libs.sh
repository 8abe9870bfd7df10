#!/usr/bin/env bash
# collect-libs.sh DEST BINARY... — copies into DEST every shared library the binaries load
# (ldd), except the C library family (libc, libm, libdl, libpthread, librt, libresolv, the
# loader) and the NVIDIA driver's libcuda, which must come from the machine that runs them.
# Then writes DEST/../GLIBC: the newest glibc symbol version any of them needs.
set -euo pipefail
dest=$1
shift
mkdir -p "$dest"
ldd "$@" | awk '/=> \// {print $3}' | sort -u |
	grep -Ev '/(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux[^/]*|libcuda)\.so' |
	xargs -r -I{} cp -L {} "$dest/"
objdump -T "$@" "$dest"/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -1 |
	sed 's/^GLIBC_/glibc /' >"$dest/../GLIBC"
