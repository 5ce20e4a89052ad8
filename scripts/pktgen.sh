#!/usr/bin/env bash
# Raw UDP/67 load at line rate with the kernel's pktgen module, on hosts that
# have it. pktgen sends one fixed UDP payload (optionally with ranges of IP
# addresses, ports and MACs); it cannot carry a DHCP body whose chaddr, xid
# and secs change per packet, so the receiving xdhcp sees one client over and
# over. For real DHCP load use `xdhcp bench gen` (BPF live frames).
#
# Usage: scripts/pktgen.sh --iface IF [--count N] [--rate PPS] [--size BYTES]
#                          [--dst-mac MAC] [--threads N]
# Run it inside a network namespace of your own (ip netns exec NS ...): it
# sends out of IF only.
set -euo pipefail

iface="" count=1000000 rate=0 size=342 dst_mac="ff:ff:ff:ff:ff:ff" threads=1

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
die() { echo "pktgen.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case "$1" in
	--iface) iface="${2:?--iface needs a value}"; shift 2 ;;
	--count) count="${2:?--count needs a value}"; shift 2 ;;
	--rate) rate="${2:?--rate needs a value}"; shift 2 ;;
	--size) size="${2:?--size needs a value}"; shift 2 ;;
	--dst-mac) dst_mac="${2:?--dst-mac needs a value}"; shift 2 ;;
	--threads) threads="${2:?--threads needs a value}"; shift 2 ;;
	-h|--help) usage 0 ;;
	*) echo "pktgen.sh: unknown argument $1" >&2; usage ;;
	esac
done
[ -n "$iface" ] || { echo "pktgen.sh: --iface is required" >&2; usage; }
[[ "$count" =~ ^[0-9]+$ ]] || die "--count $count: want a whole number (0 = until stopped)"
[[ "$rate" =~ ^[0-9]+$ ]] || die "--rate $rate: want packets per second (0 = as fast as possible)"
[[ "$size" =~ ^[0-9]+$ ]] && [ "$size" -ge 60 ] && [ "$size" -le 1514 ] || die "--size $size: want 60..1514 bytes"
[[ "$threads" =~ ^[0-9]+$ ]] && [ "$threads" -ge 1 ] || die "--threads $threads: want at least 1"
[[ "$dst_mac" =~ ^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$ ]] || die "--dst-mac $dst_mac: want a MAC like ff:ff:ff:ff:ff:ff"
[ "$(id -u)" -eq 0 ] || die "needs root (pktgen is configured through /proc/net/pktgen)"
ip link show dev "$iface" >/dev/null 2>&1 || die "interface $iface not found in this network namespace"

if [ ! -d /proc/net/pktgen ]; then
	modprobe pktgen 2>/dev/null || true
fi
if [ ! -d /proc/net/pktgen ]; then
	cat >&2 <<MSG
pktgen.sh: this kernel ($(uname -r)) has no pktgen: /proc/net/pktgen is missing and
'modprobe pktgen' found no module (it needs CONFIG_NET_PKTGEN=m or =y).

Use the project's own generator instead; it runs on any kernel >= 5.18 with BPF
and, unlike pktgen, sends real DHCP messages with a different chaddr, xid and secs
per packet:
    xdhcp bench gen --iface $iface --pps max --count $count
(on a veth, attach an XDP program to the peer for the frames to arrive).
MSG
	exit 3
fi

pgset() { # file command: write one pktgen command and check its result
	local file="$1" cmd="$2"
	echo "$cmd" >"$file"
	if grep -q '^Result: ' "$file" && ! grep -q '^Result: OK' "$file"; then
		die "pktgen rejected '$cmd' on $file: $(grep '^Result:' "$file")"
	fi
}

nthreads=$(ls -d /proc/net/pktgen/kpktgend_* 2>/dev/null | wc -l)
[ "$threads" -le "$nthreads" ] || die "--threads $threads: pktgen has $nthreads kernel threads here"

devs=()
cleanup() {
	for ((t = 0; t < threads; t++)); do
		[ -e "/proc/net/pktgen/kpktgend_$t" ] && echo "rem_device_all" >"/proc/net/pktgen/kpktgend_$t" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'echo "stop" >/proc/net/pktgen/pgctrl 2>/dev/null || true' INT TERM

per_thread_count=$(( count / threads ))
for ((t = 0; t < threads; t++)); do
	pgset "/proc/net/pktgen/kpktgend_$t" "rem_device_all"
	dev="$iface@$t"
	pgset "/proc/net/pktgen/kpktgend_$t" "add_device $dev"
	f="/proc/net/pktgen/$dev"
	# A client broadcast: 0.0.0.0:68 -> 255.255.255.255:67, one fixed payload.
	for c in "count $per_thread_count" "clone_skb 0" "pkt_size $size" "delay 0" \
		"dst_mac $dst_mac" "src_min 0.0.0.0" "src_max 0.0.0.0" \
		"dst_min 255.255.255.255" "dst_max 255.255.255.255" \
		"udp_src_min 68" "udp_src_max 68" "udp_dst_min 67" "udp_dst_max 67"; do
		pgset "$f" "$c"
	done
	if [ "$rate" -gt 0 ]; then
		pgset "$f" "ratep $(( rate / threads ))"
	fi
	devs+=("$f")
done

echo "pktgen: sending $count UDP 0.0.0.0:68 -> 255.255.255.255:67 frames of $size bytes out of $iface ($threads thread(s))" >&2
echo "start" >/proc/net/pktgen/pgctrl
for f in "${devs[@]}"; do
	echo "== ${f##*/}"
	grep -A2 '^Result:' "$f"
done
