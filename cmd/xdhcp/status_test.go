package main

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// pairStatus is a daemon in communications-interrupted whose partner was
// last heard a minute ago.
func pairStatus() *failover.Status {
	contact := time.Now().Add(-time.Minute)
	partner := decide.Normal
	return &failover.Status{Role: decide.Secondary, State: decide.CommunicationsInterrupted, StateSince: contact,
		Reason: "partner unreachable: EOF", PartnerState: &partner, LastContact: &contact, BucketsOwned: 256,
		Unacked: 3, MCLT: time.Hour, ShareSplit: 128,
		Shares: []failover.Share{
			{Range: lease.Range{Start: netip.MustParseAddr("198.18.0.10"), End: netip.MustParseAddr("198.18.0.129")}, Owner: decide.Primary, Size: 120, Free: 100},
			{Range: lease.Range{Start: netip.MustParseAddr("198.18.0.130"), End: netip.MustParseAddr("198.18.0.250")}, Owner: decide.Secondary, Mine: true, Size: 121, Free: 90},
		}}
}

func TestStatusCommand(t *testing.T) {
	sock := serveFake(t, &fakeNode{status: pairStatus()})
	out, err := runApp(t, "status", "--control", sock)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"role               secondary", "state              communications-interrupted", "partner unreachable: EOF",
		"partner            normal, not connected", "(1m0", "buckets owned now  256 of 256", "unacked updates    3",
		"198.18.0.130-198.18.0.250  secondary (this server)  121   90"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, err = runApp(t, "status", "--json", "--control", sock)
	var st failover.Status
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.State != decide.CommunicationsInterrupted || len(st.Shares) != 2 || st.Shares[1].Free != 90 {
		t.Errorf("status --json: %v %+v\n%s", err, st, out)
	}
	// The environment names the socket too (XDHCP_CONTROL), and flags may
	// follow nothing or anything.
	t.Setenv("XDHCP_CONTROL", sock)
	if out, err := runApp(t, "status"); err != nil || !strings.Contains(out, "communications-interrupted") {
		t.Errorf("status with XDHCP_CONTROL: %v\n%s", err, out)
	}
}

func TestStatusNoDaemonOrStandalone(t *testing.T) {
	if _, err := runApp(t, "status", "--control", filepath.Join(t.TempDir(), "none.sock")); err == nil || !strings.Contains(err.Error(), "is xdhcp serve running?") {
		t.Errorf("no daemon: %v", err)
	}
	sock := serveFake(t, &fakeNode{})
	if _, err := runApp(t, "status", "--control", sock); err == nil || !strings.Contains(err.Error(), "runs standalone") {
		t.Errorf("standalone daemon: %v", err)
	}
}
