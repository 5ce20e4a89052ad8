package main

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// leases asks the daemon when one answers on --control, and reads the
// file when none does; a locked file with no daemon names --control.
func TestLeasesCommand(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	f := &fakeNode{leases: []lease.Lease{{IP: netip.MustParseAddr("198.18.0.10"), State: lease.Bound, Hostname: "pc1", Expiry: exp}}}
	sock := serveFake(t, f)
	out, err := runApp(t, "leases", "--control", sock)
	if err != nil || !strings.Contains(out, "198.18.0.10") || !strings.Contains(out, "pc1") || !strings.HasPrefix(out, "IP ") {
		t.Fatalf("leases from the daemon: %v\n%s", err, out)
	}
	var ls []lease.Lease
	if out, err := runApp(t, "leases", "--json", "--control", sock); err != nil || json.Unmarshal([]byte(out), &ls) != nil || len(ls) != 1 {
		t.Errorf("leases --json: %v %s", err, out)
	}
	dir := t.TempDir()
	st, err := lease.Open(filepath.Join(dir, "leases.db"), lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none.sock")
	if _, err := runApp(t, "leases", "--db", filepath.Join(dir, "leases.db"), "--control", none); err == nil || !strings.Contains(err.Error(), "give the running daemon's --control") {
		t.Errorf("locked store, no daemon on --control: %v", err)
	}
	st.Close()
	if out, err := runApp(t, "leases", "--json", "--db", filepath.Join(dir, "leases.db"), "--control", none); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("leases from the file: %v %q", err, out)
	}
}
