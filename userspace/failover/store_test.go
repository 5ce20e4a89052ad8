package failover

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// The resync against the real bbolt store: a primary holding 10,000
// bindings meets an empty secondary; both reach NORMAL with the same set.
func TestResyncRealStores(t *testing.T) {
	if testing.Short() {
		t.Skip("fsyncs 10,000 bindings")
	}
	const n = 10000
	pool := lease.Range{Start: netip.MustParseAddr("198.18.0.0"), End: netip.MustParseAddr("198.18.63.255")}
	open := func(name string, role decide.Role) *lease.Store {
		s, err := lease.Open(filepath.Join(t.TempDir(), name), lease.Options{
			Pools: []lease.Pool{{Subnet: netip.MustParsePrefix("198.18.0.0/18"), Ranges: []lease.Range{pool}}},
			HBA:   decide.MustSplit(128), Role: role, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ps, ss := open("primary.db", decide.Primary), open("secondary.db", decide.Secondary)
	now := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := bindingFrom(t, fmt.Sprintf("02:00:00:%02x:%02x:%02x", i>>16, (i>>8)&0xff, i&0xff), "198.18.0.1", now)
			l.IP = netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
			if _, err := ps.ApplyPeer(context.Background(), l); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	secAddr := freePort(t)
	start := time.Now()
	mk := func(role decide.Role, st *lease.Store, listen, peer string) *Engine {
		r := &fakeRule{cfg: decide.Rule{HBA: decide.MustSplit(128), Role: role, Threshold: 6}}
		e, err := New(Options{Peer: peer, Listen: listen, Secret: testSecret, MCLT: time.Hour, ReceiveTimeout: time.Second,
			Retry: 20 * time.Millisecond, Pools: []lease.Range{pool}, Bindings: st, Rule: r, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); e.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return e
	}
	se := mk(decide.Secondary, ss, secAddr, "")
	pe := mk(decide.Primary, ps, "", secAddr)
	waitFor(t, "both normal", 30*time.Second, func() bool {
		return pe.Status().State == decide.Normal && se.Status().State == decide.Normal
	})
	took := time.Since(start)
	if got := len(ss.All()); got != n {
		t.Fatalf("secondary holds %d bindings, want %d", got, n)
	}
	if u := pe.Status().Unacked; u != 0 {
		t.Errorf("primary: %d unacknowledged after NORMAL", u)
	}
	a, b := ps.All(), ss.All()
	for i := range a {
		if a[i].IP != b[i].IP || a[i].Client.String() != b[i].Client.String() || !a[i].Expiry.Equal(b[i].Expiry) {
			t.Fatalf("binding %d differs: %+v / %+v", i, a[i], b[i])
		}
	}
	t.Logf("resync of %d bindings into an empty bbolt store: both NORMAL after %s", n, took.Round(time.Millisecond))
}
