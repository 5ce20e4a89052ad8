#!/usr/bin/env bash
# profile-serve.sh: where xdhcp serve's CPU goes under perfdhcp load. One
# server in a namespace (198.18.0.0/15), perfdhcp offering RATE new clients
# a second for DURATION seconds, `perf record -g` on the daemon (user and
# kernel side, Go frames included), then the samples sorted into the
# categories of docs/perf-responder.md: store, syscalls, scheduler, codec,
# allocations, GC, logging.
#
#   sudo scripts/profile-serve.sh                 # 5000/s for 8 s
#   RATE=8000 XDHCP=/tmp/xdhcp-old scripts/profile-serve.sh
set -euo pipefail

RATE=${RATE:-5000}
DURATION=${DURATION:-8}
XDHCP=${XDHCP:-}
XDHCP_ENV=${XDHCP_ENV:-}

[ "$(id -u)" = 0 ] || { echo "profile-serve.sh: needs root (namespaces, perf)" >&2; exit 1; }
for t in perfdhcp perf python3 ip; do
	command -v "$t" >/dev/null || { echo "profile-serve.sh: $t not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
id=xps$$ S=xps$$s C=xps$$c
tmp=$(mktemp -d /tmp/xdhcp-profile.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$S" 2>/dev/null || true
	ip netns del "$C" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
if [ -z "$XDHCP" ]; then
	XDHCP=$tmp/xdhcp
	(cd "$(dirname "$0")/.." && go build -o "$XDHCP" ./cmd/xdhcp)
fi
# shellcheck source=scripts/lib-lab.sh
. "$(dirname "$0")/lib-lab.sh"
lab_pair "$id"
# shellcheck disable=SC2086
ip netns exec "$S" env $XDHCP_ENV "$XDHCP" serve --iface srv0 --subnet 198.18.0.0/15 --range 198.18.0.10-198.19.255.250 \
	--lease-time 1h --split 256 --xdp off --db "$tmp/l.db" >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -S "$tmp/l.db.sock" ] && break; sleep 0.05; done
perf record -F 2000 -g -p "$pid" -o "$tmp/perf.data" -- sleep "$DURATION" >"$tmp/perf.out" 2>&1 &
ppid=$!
ip netns exec "$C" perfdhcp -4 -l pf0 -r "$RATE" -R $((RATE * DURATION * 2)) -p "$DURATION" 198.18.0.1 >"$tmp/perfdhcp.out" 2>&1 || true
wait "$ppid" || true
grep -E "sent packets|received packets" "$tmp/perfdhcp.out" | head -4
perf script -i "$tmp/perf.data" 2>/dev/null | python3 -c '
import sys, collections
# First matching rule from the leaf up names a sample.
rules = [
    ("store: fdatasync", ["Fdatasync", "fdatasync"]),
    ("store: file write", ["bbolt.", "lease.(*journal)", "lease.appendRecord", "lease.(*Store).write"]),
    ("store: index, allocation", ["lease.(*Store)", "lease.(*indexedHeap)", "lease.(*fenwick)"]),
    ("GC", ["gcBgMarkWorker", "gcDrain", "gcAssist", "bgsweep", "bgscavenge"]),
    ("allocation", ["mallocgc", "growslice", "newobject", "makeslice", "makemap"]),
    ("syscalls: send", ["sendto", "sendmmsg", "WriteToUDP", "WriteBatch", "Sendto"]),
    ("syscalls: receive", ["recvfrom", "recvmmsg", "ReadFromUDP", "ReadBatch"]),
    ("codec", ["dhcpv4.", "dhcpwire.", "uio."]),
    ("logging", ["slog."]),
    ("metrics", ["prometheus", "metrics."]),
    ("scheduler", ["runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.sysmon", "futex",
                   "runtime.mcall", "runtime.netpoll", "runtime.goready", "runtime.wakep", "runtime.mstart",
                   "runtime.chansend", "runtime.chanrecv", "runtime.selectgo", "runtime.gopark"]),
    ("server logic", ["dhcpserver.", "daemon."]),
]
cnt, total, stack = collections.Counter(), 0, []
def flush():
    global total
    if not stack:
        return
    total += 1
    for fr in stack:
        for name, keys in rules:
            if any(k in fr for k in keys):
                cnt[name] += 1
                return
    cnt["other"] += 1
for line in sys.stdin:
    if not line.strip():
        flush(); stack = []
    elif line[0] in " \t":
        stack.append(line.strip())
    else:
        flush(); stack = []
flush()
for k, v in cnt.most_common():
    print(f"{100 * v / max(total, 1):6.1f}%  {k}")
print(f"{total} samples; sysmon alone: see perf report --no-children -S runtime.usleep")
'
kill "$pid" && wait "$pid" || true
pid=
grep -o 'Store:{[^}]*}' "$tmp/log" | tail -1 || true
