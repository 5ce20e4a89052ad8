#!/usr/bin/env bash
# Refreshes the vendored headers the BPF programs build against, so that
# `make generate` needs clang and nothing else (no distribution uapi or
# libbpf-dev headers, no -I/usr/include/<triplet>).
#
# From libbpf (a release tarball, or a libbpf source tree with --libbpf):
#   bpf/bpf_helpers.h bpf/bpf_helper_defs.h bpf/bpf_endian.h
#   linux/bpf.h linux/bpf_common.h linux/stddef.h (the kernel uapi libbpf syncs)
# From the kernel's uapi (installed headers, /usr/include by default):
#   linux/if_ether.h linux/ip.h linux/udp.h
# Written by hand and not touched here: linux/types.h and asm/byteorder.h
# (the BPF target's fixed-width types and byte order).
#
# Usage: bpf/headers/update.sh [--libbpf DIR] [--uapi DIR]
#   LIBBPF_VERSION (default below) picks the release to download when no
#   --libbpf is given. After an update: make generate, then the tests.
set -euo pipefail

LIBBPF_VERSION=${LIBBPF_VERSION:-1.7.0}
here=$(cd "$(dirname "$0")" && pwd)
libbpf="" uapi=/usr/include

die() { echo "update.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--libbpf) libbpf="${2:?--libbpf needs a directory}"; shift 2 ;;
	--uapi) uapi="${2:?--uapi needs a directory}"; shift 2 ;;
	-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$libbpf" ]; then
	url="https://github.com/libbpf/libbpf/archive/refs/tags/v${LIBBPF_VERSION}.tar.gz"
	curl -fsSL "$url" | tar -xz -C "$tmp" || die "download $url failed (offline? use --libbpf DIR)"
	libbpf="$tmp/libbpf-${LIBBPF_VERSION}"
fi
[ -f "$libbpf/src/bpf_helpers.h" ] || die "$libbpf is not a libbpf source tree (no src/bpf_helpers.h)"

mkdir -p "$here/bpf" "$here/linux" "$here/asm"
for f in bpf_helpers.h bpf_helper_defs.h bpf_endian.h; do
	cp "$libbpf/src/$f" "$here/bpf/$f"
done
for f in bpf.h bpf_common.h stddef.h; do
	cp "$libbpf/include/uapi/linux/$f" "$here/linux/$f"
done
for f in if_ether.h ip.h udp.h; do
	[ -f "$uapi/linux/$f" ] || die "$uapi/linux/$f missing (install the kernel's uapi headers, or give --uapi DIR)"
	cp "$uapi/linux/$f" "$here/linux/$f"
done
cp "$libbpf/LICENSE.BSD-2-Clause" "$here/LICENSE.BSD-2-Clause" 2>/dev/null || true
libbpf_v=$(sed -n 's/^#define LIBBPF_M[AI][JN]OR_VERSION \([0-9]*\)/\1/p' "$libbpf/src/libbpf_version.h" | paste -sd.)
uapi_v=$(sed -n 's/^#define LINUX_VERSION_\(MAJOR\|PATCHLEVEL\|SUBLEVEL\) \([0-9]*\)/\2/p' "$uapi/linux/version.h" 2>/dev/null | paste -sd.)
printf 'libbpf %s (bpf/, linux/bpf.h, linux/bpf_common.h, linux/stddef.h)\nLinux uapi %s (linux/if_ether.h, linux/ip.h, linux/udp.h)\n' \
	"${libbpf_v:-unknown}" "${uapi_v:-unknown}" >"$here/VERSION"
echo "updated $here:"; cat "$here/VERSION"; echo "now run: make generate (and the tests)"
