#!/usr/bin/env bash
# crash.sh: the crash-consistency run of the suite (TestServeCrashConsistency)
# with more kills: perfdhcp drives relayed clients at xdhcp serve in a
# namespace, the daemon is killed with SIGKILL at random moments (0.3-1.5 s
# apart) and restarted on the same store, then stopped with SIGTERM. After
# each kill the store file must hold every lease a client was ACKed (as
# captured on the client's interface) and no address may have been ACKed to
# two clients. Prints the counts; exits non-zero on any violation.
#
#   sudo scripts/crash.sh                    # 30 kills at 800 exchanges/s
#   KILLS=100 RATE=1500 SEED=42 scripts/crash.sh
set -euo pipefail

KILLS=${KILLS:-30}
RATE=${RATE:-800}
SEED=${SEED:-}

[ "$(id -u)" = 0 ] || { echo "crash.sh: needs root (namespaces, XDP)" >&2; exit 1; }
command -v perfdhcp >/dev/null || { echo "crash.sh: perfdhcp not installed (scripts/install-deps.sh)" >&2; exit 1; }

cd "$(dirname "$0")/.."
log=$(mktemp /tmp/xdhcp-crash.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
XDHCP_CRASH_KILLS=$KILLS XDHCP_CRASH_RATE=$RATE XDHCP_CRASH_SEED=$SEED \
	go test -count=1 -timeout 30m -run '^TestServeCrashConsistency$' -v ./cmd/xdhcp >"$log" 2>&1 || status=$?
# Per kill, then the totals (the lines the test prints with MEASURED).
grep -E 'seed |kill [0-9]+:|MEASURED|perfdhcp received|violation|--- (PASS|FAIL|SKIP)' "$log" | sed 's/^ *//'
[ $status = 0 ] || { echo "crash.sh: FAILED (full log follows)"; cat "$log"; }
exit $status
