#!/bin/sh
# Installs nvcc (CUDA 11.8) on Debian 12: the package nvidia-cuda-toolkit is in Debian's
# non-free component, which is added to the apt sources if missing (same mirror as the main
# sources). About 1.6 GB of downloads. On Ubuntu or with NVIDIA's own CUDA, just put nvcc on PATH.
set -eu
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if command -v nvcc >/dev/null; then
	echo "setup-cuda: $(nvcc --version | tail -1)"
	exit 0
fi
# `apt-cache show` succeeds for a package that is only referred to; ask for a candidate.
has_candidate() { apt-cache policy nvidia-cuda-toolkit 2>/dev/null | grep -q 'Candidate: [0-9]'; }
if ! has_candidate; then
	# The mirror of the main sources: a URIs: line (deb822) or a deb line, never a comment.
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -E '^[[:space:]]*(URIs:|deb[[:space:]])' | grep -oE 'https?://[^ ]*debian/?' | grep -v security | head -1)
	if [ -z "$mirror" ]; then
		echo "setup-cuda: no Debian mirror found in /etc/apt/sources.list*; add one with the non-free component" >&2
		exit 1
	fi
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	echo "setup-cuda: adding $codename contrib non-free from $mirror"
	printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$mirror" "$codename" "$codename" | $SUDO tee /etc/apt/sources.list.d/goodnet-non-free.sources >/dev/null
	$SUDO apt-get update -q
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nvidia-cuda-toolkit
echo "setup-cuda: $(nvcc --version | tail -1)"
