package pingcheck

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/internal/labnet"
)

// Two namespaces on one veth: the pinger's (198.18.200.1) and a host's
// (198.18.200.2). The host answers; an address nobody holds does not.
func TestPingInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and raw ICMP sockets (run as root; CI does)")
	}
	ctx := context.Background()
	id := fmt.Sprintf("xpc%d", os.Getpid()%100000)
	a, err := labnet.NewNS(ctx, id+"a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := labnet.NewNS(ctx, id+"b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := labnet.Veth(ctx, a, "p0", "198.18.200.1/24", b, "p1", "198.18.200.2/24"); err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var p *Pinger
	if err := a.Do(func() error { p, err = Open(pctx); return err }); err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// Concurrent checks are told apart: the host's answer reaches only its own.
	var wg sync.WaitGroup
	results := map[string]bool{}
	var mu sync.Mutex
	start := time.Now()
	for _, ip := range []string{"198.18.200.2", "198.18.200.3", "198.18.200.4"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := p.Ping(ctx, netip.MustParseAddr(ip), 300*time.Millisecond)
			if err != nil {
				t.Errorf("ping %s: %v", ip, err)
			}
			mu.Lock()
			results[ip] = ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	if !results["198.18.200.2"] || results["198.18.200.3"] || results["198.18.200.4"] {
		t.Fatalf("answers %v: want only 198.18.200.2", results)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("three concurrent checks took %v", d)
	}
	cancel()
	waitClosed := time.Now().Add(2 * time.Second)
	for {
		if _, err := p.Ping(ctx, netip.MustParseAddr("198.18.200.2"), 100*time.Millisecond); err == ErrClosed {
			break
		}
		if time.Now().After(waitClosed) {
			t.Fatal("pinger still open after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
