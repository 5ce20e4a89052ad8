package dhcpserver

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// The server's namespace reaches a host holding 198.18.210.10, the
// range's first address. A DISCOVER's offer waits for the check, skips the
// address that answered (declined) and names the next; a DISCOVER
// retransmitted while its address is being checked gets no second offer.
func TestPingCheckOffersTheNextAddress(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and raw ICMP sockets (run as root; CI does)")
	}
	ctx := context.Background()
	id := fmt.Sprintf("xps%d", os.Getpid()%100000)
	srv, err := labnet.NewNS(ctx, id+"s")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	host, err := labnet.NewNS(ctx, id+"h")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if err := labnet.Veth(ctx, srv, "s0", "198.18.210.1/24", host, "h0", "198.18.210.10/24"); err != nil {
		t.Fatal(err)
	}
	s, st := clockedServer(t, `
decline-probation: 1h
ping-check: {enabled: true, timeout: 300ms}
subnets:
  - subnet: 198.18.210.0/24
    ranges: [198.18.210.10-198.18.210.20]
`, nil, nil)
	bg, cancel := context.WithCancel(ctx)
	defer cancel()
	s.Start(bg)
	m := Meta{Iface: "s0", IfAddr: netip.MustParseAddr("198.18.210.1")}
	d, _ := dhcpv4.NewDiscovery(mac("02:00:00:00:0b:01"))
	var first, again *dhcpv4.DHCPv4
	var pending, pendingAgain *lease.Pending
	err = srv.Do(func() error {
		// The pinger's socket opens in the namespace at the first check.
		first, pending = s.Serve(ctx, d, m)
		again, pendingAgain = s.Serve(ctx, d, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if first == nil || pending == nil {
		t.Fatalf("first DISCOVER: reply %v pending %v: the offer should wait for the check", first, pending)
	}
	if again != nil || pendingAgain != nil {
		t.Fatalf("retransmitted DISCOVER during the check got %v", again)
	}
	start := time.Now()
	if err := pending.Wait(); err != nil {
		t.Fatalf("check: %v", err)
	}
	if got := addrOf(first.YourIPAddr); got != netip.MustParseAddr("198.18.210.11") {
		t.Fatalf("offered %v after the check, want 198.18.210.11", got)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("the offer left after %v: the second address was not checked", waited)
	}
	if l, _ := st.Get(netip.MustParseAddr("198.18.210.10")); l.State != lease.Declined {
		t.Fatalf("the address that answered: %+v", l)
	}
	if p := s.Policy(); p.PingChecks != 2 || p.PingConflicts != 1 || p.PingBusy != 1 {
		t.Fatalf("counters %+v", p)
	}
	// The client takes the offer: a leased address is not pinged again.
	r, _ := dhcpv4.NewRequestFromOffer(first)
	if ack := s.Handle(ctx, r, m); ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("REQUEST: %v", ack)
	}
	if resp, p := s.Serve(ctx, d, m); resp == nil || p != nil {
		t.Fatalf("DISCOVER of a bound client: reply %v pending %v (no check expected)", resp, p)
	}
}
