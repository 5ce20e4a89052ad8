package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/rulectl"
)

// servedFake is a fake daemon serving eth7 in this network namespace.
func servedFake(t *testing.T, pair bool) (*fakeNode, string) {
	t.Helper()
	f := &fakeNode{rule: decide.DefaultRule(), pair: pair, tuning: "/var/lib/xdhcp/leases.db.tuning",
		health: control.Health{OK: true, Serving: true, Interfaces: []control.InterfaceHealth{{Name: "eth7", XDP: true}}}}
	return f, serveFake(t, f)
}

// With a daemon serving the interface, the rule commands ask it (flags
// after the argument too) and print what it now uses.
func TestThresholdSetThroughTheDaemon(t *testing.T) {
	f, sock := servedFake(t, false)
	out, err := runApp(t, "threshold", "set", "2", "--iface", "eth7", "--control", sock)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.tunes) != 1 || f.tunes[0].Threshold == nil || *f.tunes[0].Threshold != 2 || f.tunes[0].HBA != nil {
		t.Fatalf("the daemon was asked %+v", f.tunes)
	}
	if !strings.Contains(out, "threshold 2 (partner's clients answered from secs 2): in force in the daemon, kept in /var/lib/xdhcp/leases.db.tuning") {
		t.Errorf("output: %s", out)
	}
	if out, err := runApp(t, "threshold", "--json", "--control", sock); err != nil || !strings.Contains(out, `"threshold": 2`) || !strings.Contains(out, `"tuning_file"`) {
		t.Errorf("threshold get from the daemon: %v %s", err, out)
	}
	f.pair = true
	if out, err := runApp(t, "threshold", "set", "--control", sock, "4"); err != nil || !strings.Contains(out, "on both servers of the pair") {
		t.Errorf("pair: %v %s", err, out)
	}
	f.refuse = control.Refused("tuning not agreed with the partner: threshold 5 vs 6")
	if _, err := runApp(t, "threshold", "set", "5", "--control", sock); err == nil || !strings.Contains(err.Error(), "not agreed with the partner") {
		t.Errorf("refusal not passed on: %v", err)
	}
	for _, bad := range [][]string{{"threshold", "set"}, {"threshold", "set", "70000"}, {"threshold", "set", "1", "2"}} {
		if _, err := runApp(t, append(bad, "--control", sock)...); err == nil || !strings.Contains(err.Error(), "threshold") {
			t.Errorf("%v: %v", bad, err)
		}
	}
	// A daemon that does not serve --iface is not asked: the maps are.
	n := len(f.tunes)
	if _, err := runApp(t, "threshold", "set", "3", "--iface", "nosuch0", "--control", sock, "--pin-dir", filepath.Join(t.TempDir(), "pins")); err == nil || len(f.tunes) != n {
		t.Errorf("another interface's command reached the daemon (%d asks) or found maps: %v", len(f.tunes)-n, err)
	}
}

func TestBucketsAndStateThroughTheDaemon(t *testing.T) {
	f, sock := servedFake(t, false)
	out, err := runApp(t, "buckets", "set", "--split", "64", "--control", sock)
	if err != nil || f.rule.HBA.Count(decide.Primary) != 64 || !strings.Contains(out, "role primary owns 64 of 256 buckets") || !strings.Contains(out, "kept in") {
		t.Fatalf("buckets set: %v\n%s", err, out)
	}
	var v bucketsView
	if out, err := runApp(t, "buckets", "show", "--json", "--control", sock); err != nil || json.Unmarshal([]byte(out), &v) != nil || v.PrimaryN != 64 || v.Daemon == nil {
		t.Errorf("buckets show: %v %s", err, out)
	}
	if _, err := runApp(t, "buckets", "set", "--control", sock); err == nil || !strings.Contains(err.Error(), "give --split, --hba or --role") {
		t.Errorf("buckets set without a change: %v", err)
	}
	out, err = runApp(t, "state", "set", "partner-down", "--control", sock)
	if err != nil || f.rule.Rule != decide.PartnerDown || !strings.Contains(out, "state partner-down: in force in the daemon until it restarts") {
		t.Errorf("state set: %v %s", err, out)
	}
	if _, err := runApp(t, "state", "set", "sideways", "--control", sock); err == nil || !strings.Contains(err.Error(), `state "sideways"`) {
		t.Errorf("bad state: %v", err)
	}
}

// Without a daemon the commands write the maps, under the lock: two
// writers changing different fields at once never lose each other's
// change (the maps' read-modify-write is not atomic on its own).
func TestRuleCommandsWriteTheMapsUnderTheLock(t *testing.T) {
	needRoot(t)
	pinDir := fmt.Sprintf("/sys/fs/bpf/xdhcp-test-rc-%d", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(pinDir) })
	pins, err := loader.OpenPinDir(pinDir)
	if err != nil {
		t.Fatal(err)
	}
	if !pins.Persistent {
		t.Skip("this process does not share the host's mounts: no pins")
	}
	p, err := loader.Load(loader.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetRule(decide.DefaultRule()); err != nil {
		t.Fatal(err)
	}
	if err := pins.PinMaps(p.Maps); err != nil {
		t.Fatal(err)
	}
	common := []string{"--pin-dir", pinDir, "--control", filepath.Join(t.TempDir(), "none.sock")}
	out, err := runApp(t, append([]string{"threshold", "set", "3"}, common...)...)
	if err != nil || !strings.Contains(out, "written to the fast path's maps") {
		t.Fatalf("threshold set: %v %s", err, out)
	}
	// A writer holding the lock holds the command off until it lets go.
	unlock, err := rulectl.LockMaps(pinDir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := runApp(t, append([]string{"threshold", "set", "9"}, common...)...); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("threshold set finished while another writer held the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r, _ := p.Maps.Rule(); r.Threshold != 9 {
		t.Fatalf("threshold %d after the lock was released, want 9", r.Threshold)
	}
	for i := 0; i < 10; i++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, errs[0] = runApp(t, append([]string{"threshold", "set", fmt.Sprint(i)}, common...)...)
		}()
		go func() {
			defer wg.Done()
			_, errs[1] = runApp(t, append([]string{"buckets", "set", "--split", fmt.Sprint(100 + i)}, common...)...)
		}()
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		r, err := p.Maps.Rule()
		if err != nil {
			t.Fatal(err)
		}
		if r.Threshold != uint16(i) || r.HBA.Count(decide.Primary) != 100+i {
			t.Fatalf("round %d: threshold %d, %d primary buckets: a writer's change was lost", i, r.Threshold, r.HBA.Count(decide.Primary))
		}
	}
}
