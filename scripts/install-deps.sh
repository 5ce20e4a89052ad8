#!/usr/bin/env bash
# Installs what building, testing and the lab need on Debian: clang for
# `make generate`, iproute2 for namespaces, and the real DHCP peers the tests
# talk to (knot: the DNS server of the DDNS tests; bootpc: a BOOTP client),
# perf and python3 for scripts/profile-serve.sh.
# Idempotent; skips apt when everything is there.
set -euo pipefail

pkgs=(clang llvm libbpf-dev linux-libc-dev iproute2 bpftool tcpdump tshark
      isc-dhcp-client isc-dhcp-relay isc-dhcp-server kea-dhcp4-server kea-admin curl
      knot bootpc linux-perf python3)
bins=(clang ip bpftool tcpdump dhclient dhcrelay dhcpd kea-dhcp4 perfdhcp curl knotd bootpc perf python3)

missing=0
for b in "${bins[@]}"; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing=1
done
[ -f /usr/include/bpf/bpf_helpers.h ] || missing=1
if [ "$missing" = 0 ]; then
  echo "install-deps: everything present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: need root to apt-get install ${pkgs[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
# Debian starts the packaged servers where it can; the tests run their own.
for s in kea-dhcp4-server isc-dhcp-server knot; do
  service "$s" stop >/dev/null 2>&1 || true
done
echo "install-deps: installed ${pkgs[*]}"
