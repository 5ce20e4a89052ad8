#!/usr/bin/env bash
# bench-dora.sh: 4-way exchange (DORA) rate of xdhcp against Kea 2.2 in the
# same namespace lab, in the same run, at rising rates. perfdhcp (kea-admin)
# plays 30,000 relayed clients. The three servers (xdhcp, Kea with
# multi-threading off, Kea with it on) run side by side, each in its own
# namespace and /17, idle while the others are measured; every rate is
# measured against all three in turn, so background load on a shared
# machine hits them alike. Prints the highest offered rate each completed
# with under 1% lost exchanges, then the ratio.
#
#   sudo scripts/bench-dora.sh                 # defaults below
#   RATES="4000 8000 12000" DURATION=5 scripts/bench-dora.sh
#
# xdhcp fsyncs every lease before its ACK (group commit); Kea's memfile
# (persist on) writes its CSV without fsync. Kea runs with multi-threading
# off and on, xdhcp with the Go default GOMAXPROCS and with GOMAXPROCS=1;
# the better of each is compared.
#
# Where the losses are: each line also gives the replies dropped at
# perfdhcp's own socket (its receive buffer overflowed: the client did not
# read in time) and at the server's, and perfdhcp's CPU per 1000 exchanges.
# At the end, besides the rate ratio, the servers' CPU per 1000 exchanges at
# the highest rate both sides completed: on a small machine perfdhcp needs
# about as much CPU per exchange as the servers, so the highest rate is
# that of the machine, and the CPU ratio says what a server costs.
set -euo pipefail

RATES=${RATES:-"4000 6000 8000 10000 12000 14000 16000 18000 20000 24000"}
DURATION=${DURATION:-5}       # seconds per rate
CLIENTS=${CLIENTS:-30000}     # perfdhcp -R (each server has a /17)
XDHCP=${XDHCP:-}              # xdhcp binary; built from this tree if empty
XDP=${XDP:-auto}              # xdhcp --xdp
RCVBUF=${RCVBUF:-4194304}     # receive buffer of perfdhcp's and Kea's UDP sockets (0: their default)

[ "$(id -u)" = 0 ] || { echo "bench-dora.sh: needs root (namespaces)" >&2; exit 1; }
for t in perfdhcp kea-dhcp4 ip; do
	command -v "$t" >/dev/null || { echo "bench-dora.sh: $t not installed (scripts/install-deps.sh)" >&2; exit 1; }
done

id=xrb$$
P=${id}p
tmp=$(mktemp -d /tmp/xdhcp-bench.XXXXXX)
pids=()
nss=("$P")

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for n in "${nss[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ -z "$XDHCP" ]; then
	XDHCP=$tmp/xdhcp
	(cd "$(dirname "$0")/.." && go build -o "$XDHCP" ./cmd/xdhcp)
fi

# xdhcp asks for a 4 MB receive buffer on its socket; perfdhcp and Kea have
# no setting for theirs and keep net.core.rmem_default (208 KB here), which
# is machine-wide and not this script's to change. A reply burst (xdhcp
# sends a group commit's ACKs at once; a stall of the shared disk makes a
# big one) then overflows perfdhcp's socket, and a request burst Kea's: the
# losses measure a buffer, not a server. A small LD_PRELOAD shim (compiled
# here, needs cc or clang) sets RCVBUF bytes on every UDP socket perfdhcp and Kea
# open, the same for both servers. RCVBUF=0 leaves them as they are.
preload=()
if [ "$RCVBUF" != 0 ]; then
	ccbin=$(command -v cc || command -v clang || true)
	if [ -n "$ccbin" ]; then
		cat >"$tmp/rcvbuf.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>
int socket(int domain, int type, int protocol)
{
	static int (*real)(int, int, int);
	if (!real)
		real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	int fd = real(domain, type, protocol);
	const char *s = getenv("XDHCP_BENCH_RCVBUF");
	if (fd >= 0 && s && (type & 0xf) == SOCK_DGRAM) {
		int v = atoi(s);
		/* FORCE (root) is not capped by net.core.rmem_max; xdhcp uses it too. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
	return fd;
}
C
		"$ccbin" -shared -fPIC -O2 -o "$tmp/rcvbuf.so" "$tmp/rcvbuf.c" -ldl
		preload=(env "LD_PRELOAD=$tmp/rcvbuf.so" "XDHCP_BENCH_RCVBUF=$RCVBUF")
	else
		echo "bench-dora.sh: no cc or clang: perfdhcp and Kea keep their default receive buffers" >&2
		RCVBUF=0
	fi
fi

ip netns add "$P"
ip -n "$P" link set lo up

# server NAME NET(first three octets of the /17) IDX: its namespace, veth and addresses.
declare -A server_ip net_of
lab() {
	local name=$1 net=$2 i=$3 ns=${id}$3
	nss+=("$ns")
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "${id}s$i" type veth peer name "${id}c$i"
	ip link set "${id}s$i" netns "$ns"
	ip link set "${id}c$i" netns "$P"
	ip -n "$ns" link set "${id}s$i" name srv0
	ip -n "$P" link set "${id}c$i" name "pf$i"
	ip -n "$ns" addr add "$net.1/17" dev srv0
	ip -n "$P" addr add "$net.2/17" dev "pf$i"
	ip -n "$ns" link set srv0 up
	ip -n "$P" link set "pf$i" up
	server_ip[$name]=$net.1
	net_of[$name]=$net
}

kea_config() { # $1: multi-threading true|false, $2: net
	cat <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["srv0"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "lfc-interval": 0, "name": "$tmp/kea-leases-$1.csv"},
  "multi-threading": {"enable-multi-threading": $1, "thread-pool-size": 2, "packet-queue-size": 64},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": "$2.0/17",
    "pools": [{"pool": "$2.10 - $(cut -d. -f1-2 <<<"$2").$(( $(cut -d. -f3 <<<"$2") + 127 )).250"}],
    "option-data": [{"name": "routers", "data": "$2.1"}]}],
  "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": "$tmp/kea-$1.log"}]}]
}}
JSON
}

lab xdhcp 198.18.0 1
lab kea-st 198.18.128 2
lab kea-mt 198.19.0 3
lab xdhcp-p1 198.19.128 4

# xdhcp NAME IDX NET ENV...: one xdhcp serve in namespace IDX.
start_xdhcp() {
	local name=$1 i=$2 net=$3
	shift 3
	ip netns exec "${id}$i" env "$@" "$XDHCP" serve --iface srv0 --subnet "$net.0/17" \
		--range "$net.10-$(cut -d. -f1-2 <<<"$net").$(($(cut -d. -f3 <<<"$net") + 127)).250" \
		--router "$net.1" --lease-time 1h --split 256 --xdp "$XDP" --db "$tmp/$name.db" --control "$tmp/$name.sock" >"$tmp/$name.log" 2>&1 &
	pids+=($!)
}
start_xdhcp xdhcp 1 198.18.0 XDHCP_BENCH=1
for mt in false true; do
	i=2 net=198.18.128
	[ $mt = true ] && i=3 net=198.19.0
	kea_config $mt $net >"$tmp/kea-$mt.json"
	KEA_PIDFILE_DIR=$tmp KEA_LOCKFILE_DIR=$tmp ip netns exec "${id}$i" "${preload[@]}" kea-dhcp4 -c "$tmp/kea-$mt.json" >"$tmp/kea-$mt.out" 2>&1 &
	pids+=($!)
done
start_xdhcp xdhcp-p1 4 198.19.128 GOMAXPROCS=1
for x in xdhcp xdhcp-p1; do
	for _ in $(seq 400); do "$XDHCP" health --json --control "$tmp/$x.sock" 2>/dev/null | grep -q '"serving": true' && break; sleep 0.1; done
	"$XDHCP" health --json --control "$tmp/$x.sock" 2>/dev/null | grep -q '"serving": true' || { echo "$x did not start:" >&2; cat "$tmp/$x.log" >&2; exit 1; }
done
sleep 1
for p in "${pids[@]}"; do
	kill -0 "$p" 2>/dev/null || { echo "a server did not start:" >&2; cat "$tmp"/*.log "$tmp"/*.out >&2; exit 1; }
done

# cputicks PID: the process's user+system time in clock ticks (all threads).
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# rcvbuf_errors NS: UDP datagrams dropped at a full socket receive buffer in NS.
rcvbuf_errors() { ip netns exec "$1" awk '/^Udp:/ { if (++n == 2) print $6 }' /proc/net/snmp; }

# measure SERVER RATE: prints "completed/s loss% server-cpu-ms client-cpu-ms
# client-drops server-drops" (CPU per 1000 exchanges; drops at a full socket).
measure() {
	local out sent acks i t0 t1 c0 c1 pd0 pd1 sd0 sd1 me=$BASHPID
	case $1 in xdhcp) i=1 ;; kea-st) i=2 ;; kea-mt) i=3 ;; xdhcp-p1) i=4 ;; esac
	t0=$(cputicks "${pids[$((i - 1))]}")
	pd0=$(rcvbuf_errors "$P") sd0=$(rcvbuf_errors "${id}$i")
	# This shell's children's CPU (fields 16, 17): perfdhcp, once waited for.
	c0=$(awk '{print $16 + $17}' "/proc/$me/stat")
	out=$(ip netns exec "$P" "${preload[@]}" perfdhcp -4 -l "pf$i" -r "$2" -R "$CLIENTS" -p "$DURATION" -W 300000 "${server_ip[$1]}" 2>&1 || true)
	c1=$(awk '{print $16 + $17}' "/proc/$me/stat")
	t1=$(cputicks "${pids[$((i - 1))]}")
	pd1=$(rcvbuf_errors "$P") sd1=$(rcvbuf_errors "${id}$i")
	sent=$(awk '/sent packets/ {print $3; exit}' <<<"$out")
	acks=$(awk '/received packets/ {n++; if (n == 2) print $3}' <<<"$out")
	sent=${sent:-0} acks=${acks:-0}
	awk -v s="$sent" -v a="$acks" -v d="$DURATION" -v c=$((t1 - t0)) -v pc=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
		-v pd=$((pd1 - pd0)) -v sd=$((sd1 - sd0)) 'BEGIN {
		loss = s > 0 ? 100 * (s - a) / s : 100
		printf "%d %.2f %.0f %.0f %d %d\n", a / d, loss, (a > 0 ? 1000 * 1000 * c / hz / a : 0), (a > 0 ? 1000 * 1000 * pc / hz / a : 0), pd, sd }'
}

servers="xdhcp xdhcp-p1 kea-st kea-mt"
# best: the highest offered rate completed with < 1% lost; done_at: the
# exchanges/s completed there. Past some rate perfdhcp cannot send what it
# is asked (it needs as much CPU as the server): then the completed rate,
# not the offered one, is what the server did.
declare -A best done_at fails cpu_at
for s in $servers; do best[$s]=0 done_at[$s]=0 fails[$s]=0; done
for rate in $RATES; do
	active=0
	for s in $servers; do
		[ "${fails[$s]}" -ge 2 ] && continue
		active=1
		read -r done_rate loss cpu ccpu cdrop sdrop < <(measure "$s" "$rate")
		printf "%-8s offered %6d/s  completed %6d/s  lost %6.2f%%  CPU per 1000 exchanges: server %4d ms, perfdhcp %4d ms  replies dropped at a full socket: perfdhcp %d, server %d\n" \
			"$s" "$rate" "$done_rate" "$loss" "$cpu" "$ccpu" "$cdrop" "$sdrop"
		if awk -v l="$loss" 'BEGIN { exit !(l < 1) }'; then
			best[$s]=$rate fails[$s]=0 cpu_at[$s,$rate]=$cpu
			[ "$done_rate" -gt "${done_at[$s]}" ] && done_at[$s]=$done_rate
		else
			fails[$s]=$((fails[$s] + 1))
		fi
	done
	[ $active = 1 ] || break
done
for x in xdhcp xdhcp-p1; do
	i=1
	[ $x = xdhcp-p1 ] && i=4
	echo "$x: $(ip netns exec "${id}$i" "$XDHCP" leases --db "$tmp/$x.db" --json | grep -c '"ip"' || true) leases in the store, $(grep -o 'XDP attached' "$tmp/$x.log" | head -1 || echo 'rule in Go')"
done

# better NAME1 NAME2: the one that completed more; when both passed the same
# offered rate, the one that needed less CPU there (the first on a tie).
better() {
	if [ "${best[$2]}" = "${best[$1]}" ] && [ "${best[$1]}" -gt 0 ]; then
		if [ "${cpu_at[$2,${best[$2]}]}" -lt "${cpu_at[$1,${best[$1]}]}" ]; then echo "$2"; else echo "$1"; fi
	elif [ "${done_at[$2]}" -gt "${done_at[$1]}" ]; then
		echo "$2"
	else
		echo "$1"
	fi
}
xb=$(better xdhcp xdhcp-p1)
kb=$(better kea-st kea-mt)
echo
echo "highest rate with < 1% lost 4-way exchanges (${DURATION}s each, $CLIENTS clients, perfdhcp/Kea receive buffers: $([ "$RCVBUF" = 0 ] && echo default || echo "$RCVBUF bytes")):"
for s in $servers; do
	case $s in
	xdhcp) label="xdhcp (fsync per lease, group commit):" ;;
	xdhcp-p1) label="xdhcp, GOMAXPROCS=1:" ;;
	kea-st) label="kea 2.2 memfile, single-threaded:" ;;
	kea-mt) label="kea 2.2 memfile, multi-threaded:" ;;
	esac
	printf "  %-40s offered %6d/s, completed %6d/s\n" "$label" "${best[$s]}" "${done_at[$s]}"
done
awk -v x="${done_at[$xb]}" -v k="${done_at[$kb]}" -v xn="$xb" -v kn="$kb" 'BEGIN {
	if (k > 0) printf "  ratio of completed rates, best xdhcp (%s) / best kea (%s): %.2f\n", xn, kn, x / k; else print "  ratio: kea sustained no rate" }'
# The CPU ratio at the highest rate both completed.
common=$((best[$xb] < best[$kb] ? best[$xb] : best[$kb]))
if [ "$common" -gt 0 ] && [ -n "${cpu_at[$xb,$common]:-}" ] && [ -n "${cpu_at[$kb,$common]:-}" ]; then
	awk -v x="${cpu_at[$xb,$common]}" -v k="${cpu_at[$kb,$common]}" -v r="$common" -v xn="$xb" -v kn="$kb" 'BEGIN {
		printf "server CPU per 1000 exchanges at %d/s: %s %d ms, %s %d ms; ratio kea / xdhcp: %.2f\n", r, xn, x, kn, k, (x > 0 ? k / x : 0) }'
fi
