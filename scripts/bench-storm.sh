#!/usr/bin/env bash
# Storm benchmark: does the server keep serving its own clients while a flood
# of the partner's clients hits it?
#
# perfdhcp clients owned by this server (option 61 hashes to the primary's
# buckets) run at a fixed rate while `xdhcp bench gen` floods partner-owned
# DISCOVERs (secs 0) into the same link at rising rates. Measured three ways
# in one run, each server in turn on the same veth:
#   xdp   xdhcp serve with the XDP fast path (the flood is dropped in XDP)
#   user  xdhcp serve --xdp off (the same rule applied in user space)
#   kea   Kea 2.2 in HA load-balancing with a running secondary
# All three use Kea's bucket assignment (even buckets to the primary) so
# the same clients are owned in every run. Prints, per server and flood rate,
# the own clients' completed 4-way exchanges per second, their drop ratio,
# the server's CPU time over the measurement and the ratios to the no-flood
# value and to Kea.
#
# Usage: scripts/bench-storm.sh [--xdhcp BIN] [--rates "0 100000 300000 1000000"]
#          [--client-rate 500] [--phase 10] [--clients 1000] [--modes "xdp user kea"]
#          [--json FILE]
# Needs root, perfdhcp and kea-dhcp4 (scripts/install-deps.sh). Everything
# runs in network namespaces named xb-storm-<pid>-*, removed on exit.
set -euo pipefail

xdhcp=bin/xdhcp rates="0 100000 300000 1000000" client_rate=500 phase=10 nclients=1000
modes="xdp user kea" json_out=""

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
die() { echo "bench-storm.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--xdhcp) xdhcp="${2:?}"; shift 2 ;;
	--rates) rates="${2:?}"; shift 2 ;;
	--client-rate) client_rate="${2:?}"; shift 2 ;;
	--phase) phase="${2:?}"; shift 2 ;;
	--clients) nclients="${2:?}"; shift 2 ;;
	--modes) modes="${2:?}"; shift 2 ;;
	--json) json_out="${2:?}"; shift 2 ;;
	-h|--help) usage 0 ;;
	*) echo "bench-storm.sh: unknown argument $1" >&2; usage ;;
	esac
done
for r in $rates; do [[ "$r" =~ ^[0-9]+$ ]] || die "--rates: '$r' is not a packet rate"; done
[[ "$client_rate" =~ ^[0-9]+$ ]] && [ "$client_rate" -gt 0 ] || die "--client-rate $client_rate: want exchanges per second"
[[ "$phase" =~ ^[0-9]+$ ]] && [ "$phase" -ge 2 ] || die "--phase $phase: want whole seconds, at least 2"
[[ "$nclients" =~ ^[0-9]+$ ]] && [ "$nclients" -gt 0 ] || die "--clients $nclients: want a positive number"
for m in $modes; do case "$m" in xdp|user|kea) ;; *) die "--modes: '$m' is not xdp, user or kea" ;; esac; done
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, XDP)"
[ -x "$xdhcp" ] || die "$xdhcp not found: run make build or give --xdhcp"
xdhcp=$(realpath "$xdhcp")
"$xdhcp" serve --help >/dev/null 2>&1 || die "$xdhcp has no serve command"
command -v perfdhcp >/dev/null || die "perfdhcp missing (apt-get install kea-admin)"
if [[ " $modes " == *" kea "* ]]; then
	command -v kea-dhcp4 >/dev/null || die "kea-dhcp4 missing (apt-get install kea-dhcp4-server)"
	command -v curl >/dev/null || die "curl missing (needed to watch Kea's HA state)"
fi
hooks=""
for d in /usr/lib/x86_64-linux-gnu/kea/hooks /usr/lib/kea/hooks /usr/lib64/kea/hooks; do
	[ -e "$d/libdhcp_ha.so" ] && hooks=$d && break
done

id=xb-storm-$$
C=$id-cli S=$id-srv P=$id-peer
work=$(mktemp -d "/tmp/$id.XXXX")
pids=()
hba=$(printf '55%.0s' $(seq 32)) # Kea: even buckets to the primary
subnet=198.18.0.0/16 pool_lo=198.18.16.0 pool_hi=198.18.255.250

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	for n in $C $S $P; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Clients at xbc0 (perfdhcp and the generator), the server at xbs0; Kea's
# secondary reaches the primary over xbh0/xbh1.
ip netns add $C; ip netns add $S; ip netns add $P
ip link add xbc0 netns $C type veth peer name xbs0 netns $S
ip link add xbh0 netns $S type veth peer name xbh1 netns $P
ip -n $C addr add 198.18.0.2/16 dev xbc0
ip -n $S addr add 198.18.0.1/16 dev xbs0
ip -n $S addr add 198.19.2.1/24 dev xbh0
ip -n $P addr add 198.19.2.2/24 dev xbh1
for n in $C $S $P; do ip -n $n link set lo up; done
ip -n $C link set xbc0 up; ip -n $S link set xbs0 up; ip -n $S link set xbh0 up; ip -n $P link set xbh1 up

"$xdhcp" bench clients --count "$nclients" --peer-share 0 --hba "$hba" --role primary --key client-id >"$work/macs"

kea_conf() { # name iface addr peer-url self-url
	cat <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["$2"], "dhcp-socket-type": "raw"},
  "lease-database": {"type": "memfile", "name": "$work/kea-$1.csv", "lfc-interval": 0},
  "valid-lifetime": 3600,
  "multi-threading": {"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64},
  "hooks-libraries": [
    {"library": "$hooks/libdhcp_lease_cmds.so"},
    {"library": "$hooks/libdhcp_ha.so", "parameters": {"high-availability": [{
      "this-server-name": "$1", "mode": "load-balancing",
      "heartbeat-delay": 1000, "max-response-delay": 5000, "max-ack-delay": 5000, "max-unacked-clients": 5,
      "multi-threading": {"enable-multi-threading": true, "http-dedicated-listener": true,
                          "http-listener-threads": 1, "http-client-threads": 1},
      "peers": [
        {"name": "primary", "url": "http://198.19.2.1:8001/", "role": "primary", "auto-failover": true},
        {"name": "secondary", "url": "http://198.19.2.2:8001/", "role": "secondary", "auto-failover": true}]}]}}
  ],
  "subnet4": [{"id": 1, "subnet": "$subnet", "pools": [{"pool": "$pool_lo - $pool_hi"}]}],
  "loggers": [{"name": "kea-dhcp4", "severity": "ERROR", "output_options": [{"output": "$work/kea-$1.log"}]}]
}}
JSON
}

server_pid=""
start_server() { # mode
	case "$1" in
	xdp|user)
		local x=native
		[ "$1" = user ] && x=off && ip netns exec $S "$xdhcp" bench pass --iface xbs0
		ip netns exec $S "$xdhcp" serve --iface xbs0 --subnet $subnet --range $pool_lo-$pool_hi \
			--hba "$hba" --role primary --server-id 198.18.0.1 --xdp $x --db "$work/leases-$1.db" --control "$work/control-$1.sock" \
			>"$work/serve-$1.log" 2>&1 &
		server_pid=$!; pids+=("$server_pid")
		;;
	kea)
		[ -n "$hooks" ] || die "Kea's HA hook (libdhcp_ha.so) not found"
		ip netns exec $S "$xdhcp" bench pass --iface xbs0
		kea_conf primary xbs0 >"$work/kea-primary.json"
		kea_conf secondary xbh1 >"$work/kea-secondary.json"
		# Kea wants an address of the served subnet on its interface.
		ip -n $P addr add 198.18.0.3/16 dev xbh1 2>/dev/null || true
		KEA_PIDFILE_DIR=$work KEA_LOCKFILE_DIR=$work ip netns exec $P kea-dhcp4 -c "$work/kea-secondary.json" \
			>"$work/kea-secondary.out" 2>&1 &
		pids+=("$!")
		mkdir -p "$work/p"
		KEA_PIDFILE_DIR=$work/p KEA_LOCKFILE_DIR=$work/p ip netns exec $S kea-dhcp4 -c "$work/kea-primary.json" \
			>"$work/kea-primary.out" 2>&1 &
		server_pid=$!; pids+=("$server_pid")
		local state=""
		for _ in $(seq 60); do
			state=$(ip netns exec $S curl -s -m 1 -X POST -H 'Content-Type: application/json' \
				-d '{"command": "ha-heartbeat"}' http://198.19.2.1:8001/ | sed -n 's/.*"state": *"\([a-z-]*\)".*/\1/p' || true)
			[ "$state" = load-balancing ] && break
			sleep 0.5
		done
		[ "$state" = load-balancing ] || die "Kea HA did not reach load-balancing (state '$state'); logs in $work"
		;;
	esac
	sleep 2
	kill -0 "$server_pid" 2>/dev/null || { cat "$work"/serve-"$1".log "$work"/kea-primary.out 2>/dev/null >&2; die "$1 server exited"; }
}

stop_server() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
	pids=()
	ip -n $S link set dev xbs0 xdp off 2>/dev/null || true
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

results=()
measure() { # mode rate
	local mode=$1 rate=$2 genpid="" genjson="$work/gen-$1-$2.json"
	if [ "$rate" -gt 0 ]; then
		ip netns exec $C "$xdhcp" bench gen --iface xbc0 --pps "$rate" --duration "$((phase + 3))s" \
			--clients 65536 --peer-share 1 --hba "$hba" --role primary --secs 0 --types discover --json \
			>"$genjson" 2>/dev/null &
		genpid=$!; pids+=("$genpid")
		sleep 1
	fi
	local t0; t0=$(cpu_ticks "$server_pid")
	local out; out=$(ip netns exec $C perfdhcp -4 -l xbc0 -r "$client_rate" -p "$phase" -M "$work/macs" -W 1000000 198.18.0.1 2>&1 || true)
	local t1; t1=$(cpu_ticks "$server_pid")
	local flood=0
	if [ -n "$genpid" ]; then
		wait "$genpid" || true
		flood=$(sed -n 's/.*"rate_pps": *\([0-9.e+]*\).*/\1/p' "$genjson" | tail -1)
	fi
	local xrate sent recv
	xrate=$(sed -n 's/^Rate: \([0-9.]*\) 4-way.*/\1/p' <<<"$out" | head -1)
	sent=$(sed -n 's/^sent packets: //p' <<<"$out" | awk '{s += $1} END {print s + 0}')
	recv=$(sed -n 's/^received packets: //p' <<<"$out" | awk '{s += $1} END {print s + 0}')
	[ -n "$xrate" ] || { echo "$out" >&2; die "no perfdhcp rate for $mode at $rate pps"; }
	local drop cpu
	drop=$(awk -v s="$sent" -v r="$recv" 'BEGIN {printf "%.4f", s ? (s - r) / s : 0}')
	cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
	results+=("$mode $rate ${flood:-0} $xrate $drop $cpu")
	printf '%-5s flood %8s pps (achieved %10.0f): own clients %8.1f exchanges/s, drop ratio %.4f, server CPU %6.2fs\n' \
		"$mode" "$rate" "${flood:-0}" "$xrate" "$drop" "$cpu" >&2
}

echo "storm: $nclients own clients at $client_rate exchanges/s for ${phase}s per point; flood rates: $rates; $(nproc) CPUs, kernel $(uname -r)" >&2
for mode in $modes; do
	start_server "$mode"
	for rate in $rates; do measure "$mode" "$rate"; done
	stop_server
done

# Report: ratios to each server's no-flood throughput, and xdhcp's to Kea's.
report=$(printf '%s\n' "${results[@]}" | awk '
	{ mode[NR] = $1; rate[NR] = $2; flood[NR] = $3; x[NR] = $4; drop[NR] = $5; cpu[NR] = $6
	  if ($2 == 0) base[$1] = $4; key[$1 " " $2] = $4 }
	END {
		printf "%-5s %10s %12s %12s %8s %8s %10s %9s\n", "mode", "flood", "flood_sent", "own_xchg/s", "drop", "cpu_s", "vs_noflood", "vs_kea"
		for (i = 1; i <= NR; i++) {
			r0 = (mode[i] in base && base[mode[i]] > 0) ? sprintf("%.3f", x[i] / base[mode[i]]) : "-"
			k = "kea " rate[i]; rk = (mode[i] != "kea" && (k in key) && key[k] > 0) ? sprintf("%.3f", x[i] / key[k]) : "-"
			printf "%-5s %10d %12.0f %12.1f %8.4f %8.2f %10s %9s\n", mode[i], rate[i], flood[i], x[i], drop[i], cpu[i], r0, rk
		}
	}')
echo "$report"
if [ -n "$json_out" ]; then
	printf '%s\n' "${results[@]}" | awk -v cr="$client_rate" -v ph="$phase" -v n="$nclients" '
		{ m[NR] = $1; r[NR] = $2; f[NR] = $3; x[NR] = $4; d[NR] = $5; c[NR] = $6; if ($2 == 0) base[$1] = $4; key[$1 " " $2] = $4 }
		END {
			printf "{\"client_rate\": %d, \"phase_s\": %d, \"clients\": %d, \"rows\": [\n", cr, ph, n
			for (i = 1; i <= NR; i++) {
				rb = (m[i] in base && base[m[i]] > 0) ? x[i] / base[m[i]] : 0
				k = "kea " r[i]; rk = (m[i] != "kea" && (k in key) && key[k] > 0) ? x[i] / key[k] : 0
				printf "  {\"mode\": \"%s\", \"flood_pps\": %d, \"flood_sent_pps\": %.0f, \"own_exchanges_per_s\": %.1f, \"drop_ratio\": %.4f, \"server_cpu_s\": %.2f, \"ratio\": %.4f, \"ratio_to_kea\": %.4f}%s\n", m[i], r[i], f[i], x[i], d[i], c[i], rb, rk, (i < NR ? "," : "")
			}
			print "]}"
		}' >"$json_out"
fi
