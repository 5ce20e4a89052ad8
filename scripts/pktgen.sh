#!/usr/bin/env bash
# Raw UDP/67 load at line rate with the kernel's pktgen module, on hosts that
# have it: the NIC's and the receiving queues' ceiling under a trivial XDP
# program, and how the receiver's RSS spreads a flood over its queues.
# pktgen sends one fixed payload (its own header, then zeros): it cannot
# carry a DHCP body, so the receiving xdhcp classifies every frame as
# not-request and passes it. For DHCP load (a chaddr, xid and secs per
# packet) use `xdhcp bench gen` (BPF live frames; it also sends out of real
# NICs whose driver takes XDP redirects).
#
# Usage: scripts/pktgen.sh --iface IF [--count N] [--rate PPS] [--size BYTES]
#          [--dst-mac MAC] [--dst-ip IP] [--src-min IP --src-max IP]
#          [--sport-random] [--threads N] [--first-cpu C]
#   --threads N     N pktgen kernel threads (kpktgend_C .. on CPUs C..C+N-1),
#                   thread i sending on transmit queue i of IF
#   --src-min/max   cycle the IPv4 source over a range (as many relays do):
#                   the receiver's RSS hashes addresses, so this spreads the
#                   flood over its queues; clients' own 0.0.0.0:68 ->
#                   255.255.255.255:67 broadcasts all hash to one queue
#   --sport-random  a random UDP source port per packet (another RSS spread)
# Run it inside a network namespace of your own, or on a test host: it sends
# out of IF only.
set -euo pipefail

iface="" count=1000000 rate=0 size=342 dst_mac="ff:ff:ff:ff:ff:ff" threads=1 first_cpu=0
dst_ip="255.255.255.255" src_min="0.0.0.0" src_max="0.0.0.0" sport_random=0

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
die() { echo "pktgen.sh: $*" >&2; exit 1; }
ipv4() { [[ "$1" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]]; }

while [ $# -gt 0 ]; do
	case "$1" in
	--iface) iface="${2:?--iface needs a value}"; shift 2 ;;
	--count) count="${2:?--count needs a value}"; shift 2 ;;
	--rate) rate="${2:?--rate needs a value}"; shift 2 ;;
	--size) size="${2:?--size needs a value}"; shift 2 ;;
	--dst-mac) dst_mac="${2:?--dst-mac needs a value}"; shift 2 ;;
	--dst-ip) dst_ip="${2:?--dst-ip needs a value}"; shift 2 ;;
	--src-min) src_min="${2:?--src-min needs a value}"; shift 2 ;;
	--src-max) src_max="${2:?--src-max needs a value}"; shift 2 ;;
	--sport-random) sport_random=1; shift ;;
	--threads) threads="${2:?--threads needs a value}"; shift 2 ;;
	--first-cpu) first_cpu="${2:?--first-cpu needs a value}"; shift 2 ;;
	-h|--help) usage 0 ;;
	*) echo "pktgen.sh: unknown argument $1" >&2; usage ;;
	esac
done
[ -n "$iface" ] || { echo "pktgen.sh: --iface is required" >&2; usage; }
[[ "$count" =~ ^[0-9]+$ ]] || die "--count $count: want a whole number (0 = until stopped)"
[[ "$rate" =~ ^[0-9]+$ ]] || die "--rate $rate: want packets per second (0 = as fast as possible)"
[[ "$size" =~ ^[0-9]+$ ]] && [ "$size" -ge 60 ] && [ "$size" -le 1514 ] || die "--size $size: want 60..1514 bytes"
[[ "$threads" =~ ^[0-9]+$ ]] && [ "$threads" -ge 1 ] || die "--threads $threads: want at least 1"
[[ "$first_cpu" =~ ^[0-9]+$ ]] || die "--first-cpu $first_cpu: want a CPU number"
[[ "$dst_mac" =~ ^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$ ]] || die "--dst-mac $dst_mac: want a MAC like ff:ff:ff:ff:ff:ff"
for a in "$dst_ip" "$src_min" "$src_max"; do ipv4 "$a" || die "$a: want an IPv4 address"; done
[ "$(id -u)" -eq 0 ] || die "needs root (pktgen is configured through /proc/net/pktgen)"
ip link show dev "$iface" >/dev/null 2>&1 || die "interface $iface not found in this network namespace"
txq=$(ls -d /sys/class/net/"$iface"/queues/tx-* 2>/dev/null | wc -l)
[ "$txq" -eq 0 ] || [ "$threads" -le "$txq" ] || die "--threads $threads: $iface has $txq transmit queues"

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
    xdhcp bench gen --iface $iface --pps max --count $count --threads $threads
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

for ((t = 0; t < threads; t++)); do
	[ -e "/proc/net/pktgen/kpktgend_$((first_cpu + t))" ] || die "no pktgen thread for CPU $((first_cpu + t)) (kpktgend_$((first_cpu + t)))"
done

devs=()
cleanup() {
	for ((t = 0; t < threads; t++)); do
		f="/proc/net/pktgen/kpktgend_$((first_cpu + t))"
		[ -e "$f" ] && echo "rem_device_all" >"$f" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'echo "stop" >/proc/net/pktgen/pgctrl 2>/dev/null || true' INT TERM

per_thread_count=$(( count / threads ))
for ((t = 0; t < threads; t++)); do
	kt="/proc/net/pktgen/kpktgend_$((first_cpu + t))"
	pgset "$kt" "rem_device_all"
	dev="$iface@$t"
	pgset "$kt" "add_device $dev"
	f="/proc/net/pktgen/$dev"
	# A client broadcast by default: 0.0.0.0:68 -> 255.255.255.255:67.
	for c in "count $per_thread_count" "clone_skb 0" "pkt_size $size" "delay 0" \
		"dst_mac $dst_mac" "src_min $src_min" "src_max $src_max" \
		"dst_min $dst_ip" "dst_max $dst_ip" \
		"udp_src_min 68" "udp_src_max 68" "udp_dst_min 67" "udp_dst_max 67" \
		"queue_map_min $t" "queue_map_max $t"; do
		pgset "$f" "$c"
	done
	if [ "$src_min" != "$src_max" ]; then
		pgset "$f" "flag IPSRC_RND"
	fi
	if [ "$sport_random" -eq 1 ]; then
		pgset "$f" "udp_src_min 1024"
		pgset "$f" "udp_src_max 65535"
		pgset "$f" "flag UDPSRC_RND"
	fi
	if [ "$rate" -gt 0 ]; then
		pgset "$f" "ratep $(( rate / threads ))"
	fi
	devs+=("$f")
done

echo "pktgen: sending $count UDP $src_min-$src_max -> $dst_ip:67 frames of $size bytes out of $iface ($threads thread(s) on CPUs $first_cpu-$((first_cpu + threads - 1)), one transmit queue each)" >&2
echo "start" >/proc/net/pktgen/pgctrl
for f in "${devs[@]}"; do
	echo "== ${f##*/}"
	grep -A2 '^Result:' "$f"
done
