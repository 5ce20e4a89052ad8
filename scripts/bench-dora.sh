#!/usr/bin/env bash
# bench-dora.sh: 4-way exchange (DORA) rate of xdhcp against Kea 2.2 in the
# same namespace lab, in the same run, at rising rates. perfdhcp (kea-admin)
# plays 100,000 relayed clients. For each server it prints the highest
# offered rate completed with under 1% lost exchanges, then the ratio.
#
#   sudo scripts/bench-dora.sh                 # defaults below
#   RATES="4000 8000 12000" DURATION=5 scripts/bench-dora.sh
#
# xdhcp fsyncs every lease before its ACK (group commit); Kea's memfile
# (persist on) writes its CSV without fsync. Kea runs with multi-threading
# off and on; the better is compared.
set -euo pipefail

RATES=${RATES:-"4000 6000 8000 10000 12000 14000 16000 18000 20000 24000"}
DURATION=${DURATION:-5}       # seconds per rate
CLIENTS=${CLIENTS:-100000}    # perfdhcp -R
XDHCP=${XDHCP:-}              # xdhcp binary; built from this tree if empty
XDP=${XDP:-auto}              # xdhcp --xdp

[ "$(id -u)" = 0 ] || { echo "bench-dora.sh: needs root (namespaces)" >&2; exit 1; }
for t in perfdhcp kea-dhcp4 ip; do
	command -v "$t" >/dev/null || { echo "bench-dora.sh: $t not installed (scripts/install-deps.sh)" >&2; exit 1; }
done

id=xrb$$
S=${id}s P=${id}p
tmp=$(mktemp -d /tmp/xdhcp-bench.XXXXXX)
server_pid=

cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	ip netns del "$S" 2>/dev/null || true
	ip netns del "$P" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ -z "$XDHCP" ]; then
	XDHCP=$tmp/xdhcp
	(cd "$(dirname "$0")/.." && go build -o "$XDHCP" ./cmd/xdhcp)
fi

ip netns add "$S"
ip netns add "$P"
ip link add "${id}a" type veth peer name "${id}b"
ip link set "${id}a" netns "$S"
ip link set "${id}b" netns "$P"
ip -n "$S" link set "${id}a" name srv0
ip -n "$P" link set "${id}b" name pf0
ip -n "$S" addr add 198.18.0.1/15 dev srv0
ip -n "$P" addr add 198.18.0.2/15 dev pf0
for n in "$S" "$P"; do ip -n "$n" link set lo up; done
ip -n "$S" link set srv0 up
ip -n "$P" link set pf0 up

kea_config() { # $1: multi-threading true|false
	cat <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["srv0"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "lfc-interval": 0, "name": "$tmp/kea-leases-$1.csv"},
  "multi-threading": {"enable-multi-threading": $1, "thread-pool-size": 2, "packet-queue-size": 64},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": "198.18.0.0/15",
    "pools": [{"pool": "198.18.0.10 - 198.19.255.250"}],
    "option-data": [{"name": "routers", "data": "198.18.0.1"}]}],
  "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": "$tmp/kea-$1.log"}]}]
}}
JSON
}

start_server() { # $1: xdhcp | kea-st | kea-mt
	case $1 in
	xdhcp)
		ip netns exec "$S" "$XDHCP" serve --iface srv0 --subnet 198.18.0.0/15 --range 198.18.0.10-198.19.255.250 \
			--router 198.18.0.1 --lease-time 1h --split 256 --xdp "$XDP" --db "$tmp/xdhcp.db" >"$tmp/xdhcp.log" 2>&1 &
		server_pid=$!
		for _ in $(seq 400); do [ -S "$tmp/xdhcp.db.sock" ] && return 0; sleep 0.1; done
		echo "xdhcp did not start:" >&2; cat "$tmp/xdhcp.log" >&2; exit 1 ;;
	kea-st | kea-mt)
		local mt=false; [ "$1" = kea-mt ] && mt=true
		kea_config $mt >"$tmp/kea-$mt.json"
		KEA_PIDFILE_DIR=$tmp KEA_LOCKFILE_DIR=$tmp ip netns exec "$S" kea-dhcp4 -c "$tmp/kea-$mt.json" >"$tmp/kea-$mt.out" 2>&1 &
		server_pid=$!
		sleep 2
		kill -0 "$server_pid" 2>/dev/null || { echo "kea-dhcp4 did not start:" >&2; cat "$tmp/kea-$mt.out" >&2; exit 1; } ;;
	esac
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# measure RATE: prints "completed/s loss%" for one perfdhcp run.
measure() {
	local out sent acks
	out=$(ip netns exec "$P" perfdhcp -4 -l pf0 -r "$1" -R "$CLIENTS" -p "$DURATION" -W 300000 198.18.0.1 2>&1 || true)
	sent=$(awk '/sent packets/ {print $3; exit}' <<<"$out")
	acks=$(awk '/received packets/ {n++; if (n == 2) print $3}' <<<"$out")
	sent=${sent:-0} acks=${acks:-0}
	awk -v s="$sent" -v a="$acks" -v d="$DURATION" 'BEGIN {
		loss = s > 0 ? 100 * (s - a) / s : 100
		printf "%d %.2f\n", a / d, loss }'
}

declare -A best
for server in xdhcp kea-st kea-mt; do
	start_server $server
	best[$server]=0
	fails=0
	for rate in $RATES; do
		read -r done_rate loss < <(measure "$rate")
		ok=$(awk -v l="$loss" 'BEGIN { print (l < 1) ? 1 : 0 }')
		printf "%-7s offered %6d/s  completed %6d/s  lost %6.2f%%\n" "$server" "$rate" "$done_rate" "$loss"
		if [ "$ok" = 1 ]; then
			best[$server]=$rate
			fails=0
		else
			fails=$((fails + 1))
			[ $fails -ge 2 ] && break
		fi
	done
	if [ $server = xdhcp ]; then
		txt=$(ip netns exec "$S" "$XDHCP" leases --db "$tmp/xdhcp.db" --json | grep -c '"ip"' || true)
		echo "xdhcp: $txt leases in the store"
	fi
	stop_server
done

kea=${best[kea-st]}
[ "${best[kea-mt]}" -gt "$kea" ] && kea=${best[kea-mt]}
echo
echo "highest rate with < 1% lost 4-way exchanges (${DURATION}s each, $CLIENTS clients):"
echo "  xdhcp (fsync per lease, group commit): ${best[xdhcp]}/s"
echo "  kea 2.2 memfile, single-threaded:       ${best[kea-st]}/s"
echo "  kea 2.2 memfile, multi-threaded:        ${best[kea-mt]}/s"
awk -v x="${best[xdhcp]}" -v k="$kea" 'BEGIN { if (k > 0) printf "  ratio xdhcp / best kea: %.2f\n", x / k; else print "  ratio: kea sustained no rate" }'
