package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/daemon"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// fakeNode answers the control API the way a daemon does, from fixed
// values; it records the rule changes it is asked for. The commands'
// tests run against it in process, over a real unix socket.
type fakeNode struct {
	mu     sync.Mutex
	leases []lease.Lease
	rule   decide.Rule
	pair   bool
	tunes  []control.RuleChange
	refuse error // Tune's answer, when set
	status *failover.Status
	pdErr  error
	health control.Health
	tuning string
}

func (f *fakeNode) All() []lease.Lease  { return f.leases }
func (f *fakeNode) Stats() daemon.Stats { return daemon.Stats{Received: 7, Replies: 5} }
func (f *fakeNode) Health() control.Health {
	return f.health
}

func (f *fakeNode) Rule() control.RuleView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return control.RuleView{Rule: f.rule, Pair: f.pair, Tuning: f.tuning}
}

func (f *fakeNode) Tune(_ context.Context, ch control.RuleChange) (control.RuleView, error) {
	f.mu.Lock()
	f.tunes = append(f.tunes, ch)
	if f.refuse == nil {
		if ch.Threshold != nil {
			f.rule.Threshold = *ch.Threshold
		}
		if ch.HBA != nil {
			f.rule.HBA = *ch.HBA
		}
		if ch.State != nil {
			f.rule.Rule = *ch.State
		}
	}
	f.mu.Unlock()
	return f.Rule(), f.refuse
}

type fakeFailover struct{ f *fakeNode }

func (x fakeFailover) Status() failover.Status { return *x.f.status }
func (x fakeFailover) PartnerDown(context.Context) error {
	return x.f.pdErr
}

// serveFake runs f on a control socket in a temp dir and returns its path.
// The fake says it serves in this network namespace, so the commands treat
// it as the daemon of their interface.
func serveFake(t *testing.T, f *fakeNode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := control.Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if f.health.NetNS == "" {
		f.health.NetNS, _ = os.Readlink("/proc/thread-self/ns/net")
	}
	svc := control.Services{Leases: f, Stats: f, Rules: f, Health: f}
	if f.status != nil {
		svc.Failover = fakeFailover{f}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { control.NewServer(svc, nil).Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}
