package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/internal/labnet/testlock"
	"github.com/xdhcp/xdhcp/internal/loadgen"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// needRoot skips tests that need BPF and namespaces when not root (CI runs as root).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for BPF programs and network namespaces (run as root; CI does)")
	}
}

func newTestLab(t *testing.T) *Lab {
	t.Helper()
	needRoot(t)
	l, err := NewLab(fmt.Sprintf("xb-test-%d-%s", os.Getpid(), t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// The generator's frames cross the veth and every one is counted by the
// receiver's XDP program.
func TestGeneratorIntoVeth(t *testing.T) {
	l := newTestLab(t)
	testlock.Exclusive(t) // a flood
	c, err := NewCounter(xdpDrop)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lk, err := l.AttachIn(c.Prog)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	clients, err := loadgen.Clients(1000, 0.5, decide.MustSplit(128), decide.Primary)
	if err != nil {
		t.Fatal(err)
	}
	const count = 200_000
	res, err := loadgen.Run(context.Background(), loadgen.Options{Iface: l.Out, Clients: clients, SecsMax: 10,
		Types: []loadgen.Type{loadgen.Discover, loadgen.Request}, ServerID: netip.MustParseAddr("198.18.0.1"),
		Count: count, Duration: 10 * time.Second, Enter: l.Enter})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent < count {
		t.Fatalf("sent %d, want at least %d", res.Sent, count)
	}
	time.Sleep(50 * time.Millisecond) // let the receiver's NAPI drain
	got, err := c.Count()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d in %v (%.0f pps), received %d", res.Sent, res.Elapsed, res.Rate, got)
	if got == 0 || got > res.Sent || float64(got) < 0.9*float64(res.Sent) {
		t.Fatalf("receiver counted %d of %d sent", got, res.Sent)
	}
}
