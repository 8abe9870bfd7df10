#!/bin/sh
# Installs what goodnet needs on a fresh Debian/Ubuntu machine: libhdf5 (the Keras and dataset
# files), pkg-config and the HDF5 command-line tools. Go itself (≥ 1.26) must be on
# PATH (https://go.dev/dl; /usr/local/go/bin is added when present).
set -eu
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
need=""
for p in libhdf5-dev pkg-config hdf5-tools gcc g++ make; do
	dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
	echo "setup: installing$need"
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $need
fi
PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
	echo "setup: Go is not installed; install Go 1.26 or newer from https://go.dev/dl" >&2
	exit 1
fi
go mod download
echo "setup: ok ($(go version))"
