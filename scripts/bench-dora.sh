#!/usr/bin/env bash
# bench-dora.sh: CPU per DHCP exchange of xdhcp against Kea 2.2 at the same
# offered rates, in one run. perfdhcp (kea-admin) plays relayed clients.
# Each measurement starts its server afresh (empty lease file) in its own
# namespace with its own perfdhcp namespace, all on 198.18.0.0/15, and the
# servers take turns at every rate, round after round, so the machine's
# moods (other users, a 2x swing within minutes) hit them alike.
#
#   sudo scripts/bench-dora.sh                          # defaults below
#   RATES="5000 8000" ROUNDS=3 MODES=new scripts/bench-dora.sh
#   BASELINE=/tmp/xdhcp-old scripts/bench-dora.sh       # A/B: xdhcp against another build
#   XDHCP_ENV="GOMAXPROCS=2" scripts/bench-dora.sh      # A/B of a setting
#
# Modes (MODES):
#   new      every exchange is a new client (perfdhcp -R rate*duration*2)
#   renew    returning clients: RENEW_CLIENTS clients doing DORA again and
#            again (each REQUEST renews a binding: a write), after a warm-up
#   mixed    half new clients' DORA, and renewals (REQUEST from a bound
#            client, perfdhcp -f) at half the rate
#
# CPU is the server's, all threads, from /proc/PID/task/*/schedstat
# (nanoseconds on a CPU) before and after perfdhcp's run; an exchange is a
# completed DORA or renewal. xdhcp fsyncs every lease before its ACK (group
# commit); Kea's memfile writes its CSV without fsync. The headline is the
# ratio of xdhcp's CPU per exchange to single-threaded Kea's at each rate
# (median of the rounds), with the losses. When perfdhcp could not send at
# the offered rate the line says so: the client, not the server, was the
# limit there.
set -euo pipefail

RATES=${RATES:-"5000 8000"}
MODES=${MODES:-"new renew mixed"}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5}           # seconds per measurement
RENEW_CLIENTS=${RENEW_CLIENTS:-2000}
SERVERS=${SERVERS:-"xdhcp kea-st"} # add kea-mt for Kea multi-threaded
XDHCP=${XDHCP:-}                  # xdhcp binary; built from this tree if empty
BASELINE=${BASELINE:-}            # a second xdhcp binary, measured as xdhcp-base
XDHCP_ENV=${XDHCP_ENV:-}          # environment for xdhcp (e.g. GOMAXPROCS=2)
XDP=${XDP:-auto}                  # xdhcp --xdp
RCVBUF=${RCVBUF:-4194304}         # receive buffer of perfdhcp's and Kea's UDP sockets (0: their default)

[ "$(id -u)" = 0 ] || { echo "bench-dora.sh: needs root (namespaces)" >&2; exit 1; }
for t in perfdhcp kea-dhcp4 ip; do
	command -v "$t" >/dev/null || { echo "bench-dora.sh: $t not installed (scripts/install-deps.sh)" >&2; exit 1; }
done

id=xrb$$
tmp=$(mktemp -d /tmp/xdhcp-bench.XXXXXX)
spid=
nss=()

stop_server() {
	if [ -n "$spid" ]; then
		kill "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
		spid=
	fi
}
cleanup() {
	stop_server
	for n in "${nss[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ -z "$XDHCP" ]; then
	XDHCP=$tmp/xdhcp
	(cd "$(dirname "$0")/.." && go build -o "$XDHCP" ./cmd/xdhcp)
fi
[ -n "$BASELINE" ] && SERVERS="$SERVERS xdhcp-base"

# xdhcp sets a 4 MB receive buffer on its socket; perfdhcp and Kea have no
# setting and keep net.core.rmem_default (208 KB here), machine-wide and
# not this script's to change: a burst (a group commit's ACKs, a stall of
# the shared disk) would then overflow them and the losses would measure a
# buffer. A small LD_PRELOAD shim (needs cc or clang) sets RCVBUF bytes on
# every UDP socket perfdhcp and Kea open. RCVBUF=0 leaves them as they are.
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

# One lab for every server: namespace S (srv0 198.18.0.1/15) and C (pf0
# 198.18.0.2/15), joined by a veth pair. Servers run there one at a time.
S=${id}s C=${id}c
nss=("$S" "$C")
# shellcheck source=scripts/lib-lab.sh
. "$(dirname "$0")/lib-lab.sh"
lab_pair "$id"

kea_config() { # $1: multi-threading true|false
	cat <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["srv0"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "lfc-interval": 0, "name": "$tmp/kea-leases.csv"},
  "multi-threading": {"enable-multi-threading": $1, "thread-pool-size": 2, "packet-queue-size": 64},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": "198.18.0.0/15",
    "pools": [{"pool": "198.18.0.10 - 198.19.255.250"}],
    "option-data": [{"name": "routers", "data": "198.18.0.1"}]}],
  "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": "$tmp/kea.log"}]}]
}}
JSON
}

# start_server NAME: a fresh server in S; sets spid.
start_server() {
	rm -f "$tmp"/l.db* "$tmp"/x.sock "$tmp"/kea-leases.csv* "$tmp"/*.pid
	case $1 in
	xdhcp | xdhcp-base)
		local bin=$XDHCP
		[ "$1" = xdhcp-base ] && bin=$BASELINE
		# shellcheck disable=SC2086
		ip netns exec "$S" env $XDHCP_ENV "$bin" serve --iface srv0 --subnet 198.18.0.0/15 \
			--range 198.18.0.10-198.19.255.250 --router 198.18.0.1 --lease-time 1h --split 256 \
			--xdp "$XDP" --db "$tmp/l.db" --control "$tmp/x.sock" >"$tmp/server.log" 2>&1 &
		spid=$!
		for _ in $(seq 200); do [ -S "$tmp/x.sock" ] && break; sleep 0.05; done
		;;
	kea-st | kea-mt)
		local mt=false
		[ "$1" = kea-mt ] && mt=true
		kea_config $mt >"$tmp/kea.json"
		KEA_PIDFILE_DIR=$tmp KEA_LOCKFILE_DIR=$tmp ip netns exec "$S" "${preload[@]}" kea-dhcp4 -c "$tmp/kea.json" >"$tmp/server.log" 2>&1 &
		spid=$!
		sleep 1
		;;
	esac
	kill -0 "$spid" 2>/dev/null || { echo "$1 did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }
}

# cpu_ns PID: nanoseconds on a CPU of all the process's threads.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'; }

# rcvbuf_errors NS: UDP datagrams dropped at a full socket receive buffer in NS.
rcvbuf_errors() { ip netns exec "$1" awk '/^Udp:/ { if (++n == 2) print $6 }' /proc/net/snmp; }

# perf_args MODE RATE: perfdhcp's client arguments for a mode.
perf_args() {
	case $1 in
	new) echo "-r $2 -R $(($2 * DURATION * 2))" ;;
	renew) echo "-r $2 -R $RENEW_CLIENTS" ;;
	mixed) echo "-r $(($2 / 2)) -R $(($2 * DURATION)) -f $(($2 / 2))" ;;
	esac
}

# measure SERVER MODE RATE: prints "exchanges/s loss% server-us perfdhcp-us
# sent/s perfdhcp-drops server-drops" (CPU in microseconds per exchange).
measure() {
	local srv=$1 mode=$2 rate=$3 out c0 c1 p0 p1 pd0 pd1 sd0 sd1 me=$BASHPID args
	start_server "$srv"
	args=$(perf_args "$mode" "$rate")
	if [ "$mode" = renew ]; then
		# Warm-up: every client gets its lease once (not measured).
		# shellcheck disable=SC2086
		ip netns exec "$C" "${preload[@]}" perfdhcp -4 -l pf0 $args -p 2 -W 300000 198.18.0.1 >/dev/null 2>&1 || true
	fi
	c0=$(cpu_ns "$spid")
	pd0=$(rcvbuf_errors "$C") sd0=$(rcvbuf_errors "$S")
	p0=$(awk '{print $16 + $17}' "/proc/$me/stat") # waited-for children: perfdhcp
	# shellcheck disable=SC2086
	out=$(ip netns exec "$C" "${preload[@]}" perfdhcp -4 -l pf0 $args -p "$DURATION" -W 300000 198.18.0.1 2>&1 || true)
	p1=$(awk '{print $16 + $17}' "/proc/$me/stat")
	c1=$(cpu_ns "$spid")
	pd1=$(rcvbuf_errors "$C") sd1=$(rcvbuf_errors "$S")
	stop_server
	awk -v c=$((c1 - c0)) -v pc=$((p1 - p0)) -v hz="$(getconf CLK_TCK)" -v d="$DURATION" \
		-v pd=$((pd1 - pd0)) -v sd=$((sd1 - sd0)) '
		/^\*\*\*Statistics for: / { sec = $0 }
		/^sent packets:/ { if (sec ~ /DISCOVER-OFFER/) disc = $3; if (sec ~ /renewal/) rsent = $3 }
		/^received packets:/ { if (sec ~ /REQUEST-ACK \(renewal\)/) racks = $3; else if (sec ~ /REQUEST-ACK/) acks = $3 }
		END {
			sent = disc + rsent; done = acks + racks
			loss = sent > 0 ? 100 * (sent - done) / sent : 100
			printf "%d %.2f %.1f %.1f %d %d %d\n", done / d, loss, (done > 0 ? c / 1000 / done : 0),
				(done > 0 ? 1e6 * pc / hz / done : 0), sent / d, pd, sd
		}' <<<"$out"
}

declare -A cpu_of loss_of
echo "bench-dora: $(nproc) CPUs, ${DURATION}s per measurement, $ROUNDS rounds, perfdhcp/Kea receive buffers: $([ "$RCVBUF" = 0 ] && echo default || echo "$RCVBUF bytes"), xdhcp env: ${XDHCP_ENV:-none}"
for round in $(seq "$ROUNDS"); do
	for mode in $MODES; do
		for rate in $RATES; do
			for srv in $SERVERS; do
				read -r done_rate loss cpu pcpu sent pdrop sdrop < <(measure "$srv" "$mode" "$rate")
				note=""
				want=$rate
				[ "$mode" = mixed ] && want=$rate
				if [ "$sent" -lt $((want * 97 / 100)) ]; then
					note="  <- perfdhcp sent only $sent/s of $want/s: the client is the limit here"
				fi
				printf "round %d %-6s %-10s offered %6d/s  done %6d/s  lost %6.2f%%  CPU per exchange: server %6.1f us, perfdhcp %6.1f us  full-socket drops: perfdhcp %d, server %d%s\n" \
					"$round" "$mode" "$srv" "$rate" "$done_rate" "$loss" "$cpu" "$pcpu" "$pdrop" "$sdrop" "$note"
				cpu_of[$mode,$rate,$srv]+="$cpu "
				loss_of[$mode,$rate,$srv]+="$loss "
			done
		done
	done
done

median() { tr ' ' '\n' | { grep . || true; } | sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
maxof() { tr ' ' '\n' | { grep . || true; } | sort -g | tail -1; }
echo
echo "median CPU per exchange (us) and worst loss over $ROUNDS rounds; ratio = xdhcp / kea-st (goal <= 0.83, moonshot 0.5):"
for mode in $MODES; do
	for rate in $RATES; do
		line=$(printf "  %-6s %6d/s:" "$mode" "$rate")
		for srv in $SERVERS; do
			line+=$(printf "  %s %s us (lost <= %s%%)" "$srv" "$(median <<<"${cpu_of[$mode,$rate,$srv]}")" "$(maxof <<<"${loss_of[$mode,$rate,$srv]}")")
		done
		x=$(median <<<"${cpu_of[$mode,$rate,xdhcp]:-}")
		k=$(median <<<"${cpu_of[$mode,$rate,kea-st]:-}")
		if [ -n "$x" ] && [ -n "$k" ]; then
			line+=$(awk -v x="$x" -v k="$k" 'BEGIN { if (k > 0) printf "  ratio %.2f", x / k }')
		fi
		if [ -n "$BASELINE" ]; then
			b=$(median <<<"${cpu_of[$mode,$rate,xdhcp-base]}")
			line+=$(awk -v x="$x" -v b="$b" 'BEGIN { if (b > 0) printf "  xdhcp/baseline %.2f", x / b }')
		fi
		echo "$line"
	done
done
