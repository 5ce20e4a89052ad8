package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// health exits 0 when the daemon is healthy and 1 (an error) with every
// problem printed when it is not, or when no daemon answers.
func TestHealthCommand(t *testing.T) {
	contact := time.Now().Add(-2 * time.Second)
	normal := decide.Normal
	f := &fakeNode{health: control.Health{OK: true, Serving: true, PID: 42, FastPath: "native",
		Interfaces: []control.InterfaceHealth{{Name: "eth0", XDP: true, ProgramID: 7}},
		Store:      control.StoreHealth{Path: "/var/lib/xdhcp/leases.db", Writable: true},
		Partner:    &control.PartnerHealth{State: decide.Normal, PartnerState: &normal, Connected: true, LastContact: &contact}}}
	sock := serveFake(t, f)
	out, err := runApp(t, "health", "--control", sock)
	if err != nil {
		t.Fatalf("healthy: %v\n%s", err, out)
	}
	for _, want := range []string{"healthy", "fast path on eth0  attached (program 7) (xdp native)", "/var/lib/xdhcp/leases.db, writable", "normal; partner normal, connected"} {
		if !strings.Contains(out, want) {
			t.Errorf("health lacks %q:\n%s", want, out)
		}
	}
	f.health.OK, f.health.Interfaces[0].XDP = false, false
	f.health.Problems = []string{"fast path not attached on eth0: the rule runs in user space there"}
	out, err = runApp(t, "health", "--control", sock)
	if err == nil || !strings.Contains(out, "NOT healthy") || !strings.Contains(out, "! fast path not attached on eth0") {
		t.Errorf("unhealthy: %v\n%s", err, out)
	}
	var h control.Health
	if out, err := runApp(t, "health", "--json", "--control", sock); err == nil || json.Unmarshal([]byte(out), &h) != nil || h.OK || len(h.Problems) != 1 {
		t.Errorf("unhealthy --json: %v %s", err, out)
	}
	if _, err := runApp(t, "health", "--control", filepath.Join(t.TempDir(), "none.sock")); err == nil || !strings.Contains(err.Error(), "is xdhcp serve running?") {
		t.Errorf("no daemon: %v", err)
	}
}
