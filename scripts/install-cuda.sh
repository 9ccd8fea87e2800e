#!/usr/bin/env bash
# install-cuda.sh installs the CUDA toolkit (nvcc) and clang-14 from
# Debian's archive, for running ssmc's CUDA tests (they compile generated
# kernels with `nvcc -ccbin clang-14`). Run it as root on Debian 11 or later.
#
# It is idempotent: when nvcc and clang-14 are already installed it only
# prints nvcc's version, and it adds the contrib and non-free components
# (and non-free-firmware on Debian 12 and later) to apt's Debian sources
# only where they are missing. Both source formats are handled: deb822
# (/etc/apt/sources.list.d/debian.sources) and one-line
# (/etc/apt/sources.list).
set -euo pipefail

log() { echo "install-cuda: $*"; }

if command -v nvcc >/dev/null 2>&1 && command -v clang-14 >/dev/null 2>&1; then
	log "nvcc and clang-14 are already installed"
	nvcc --version
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-cuda: must run as root (it edits apt sources and installs packages)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-cuda: apt-get not found; this script supports Debian only" >&2
	exit 1
fi

# The components nvidia-cuda-toolkit and its dependencies live in.
components="contrib non-free"
version_id=""
codename=""
if [ -r /etc/os-release ]; then
	# shellcheck disable=SC1091
	. /etc/os-release
	version_id="${VERSION_ID:-}"
	codename="${VERSION_CODENAME:-}"
	if [ "${ID:-}" != "debian" ]; then
		log "warning: this is ${ID:-an unknown system}, not Debian; trying anyway"
	fi
fi
# Debian 12 (bookworm) split firmware out into non-free-firmware.
if [ "${version_id%%.*}" -ge 12 ] 2>/dev/null || [ "$codename" = "trixie" ] || [ "$codename" = "forky" ] || [ "$codename" = "sid" ]; then
	components="$components non-free-firmware"
fi

# add_components FILE MODE appends the missing components to every
# "Components:" line (MODE deb822) or every deb/deb-src line (MODE list)
# of FILE, rewriting FILE only when something changed.
add_components() {
	local file=$1 mode=$2 tmp
	tmp=$(mktemp "$file.XXXXXX")
	awk -v comps="$components" -v mode="$mode" '
		function fix(line,    n, want, i) {
			n = split(comps, want, " ")
			for (i = 1; i <= n; i++) {
				if ((" " line " ") !~ ("[ \t]" want[i] "[ \t]")) {
					line = line " " want[i]
				}
			}
			return line
		}
		mode == "deb822" && /^Components:/ { print fix($0); next }
		mode == "list" && /^[ \t]*deb(-src)?[ \t]/ { print fix($0); next }
		{ print }
	' "$file" >"$tmp"
	if cmp -s "$file" "$tmp"; then
		rm -f "$tmp"
	else
		chmod --reference="$file" "$tmp"
		mv "$tmp" "$file"
		log "added components ($components) to $file"
	fi
}

found=0
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	add_components /etc/apt/sources.list.d/debian.sources deb822
	found=1
fi
if [ -f /etc/apt/sources.list ] && grep -Eq '^[[:space:]]*deb(-src)?[[:space:]]' /etc/apt/sources.list; then
	add_components /etc/apt/sources.list list
	found=1
fi
if [ "$found" -eq 0 ]; then
	echo "install-cuda: no Debian apt sources found (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends nvidia-cuda-toolkit clang-14

if ! command -v nvcc >/dev/null 2>&1; then
	echo "install-cuda: nvcc is still missing after installing nvidia-cuda-toolkit" >&2
	exit 1
fi
nvcc --version
