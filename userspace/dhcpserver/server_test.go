package dhcpserver

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

const testConfig = `
lease-time: 1h
decline-probation: 10m
subnets:
  - subnet: 198.18.1.0/24
    ranges: [198.18.1.10-198.18.1.20]
    routers: 198.18.1.1
    dns: [198.18.1.53]
    domain: lab.example
    options: [{code: 42, ip: 198.18.1.123}]
    reservations:
      - {mac: "02:00:00:00:00:07", ip: 198.18.1.5, hostname: printer}
      - {client-id: "ff:01:02", ip: 198.18.1.6}
  - subnet: 198.18.5.0/24
    ranges: [198.18.5.10-198.18.5.20]
    t1: 10m
`

var (
	meta     = Meta{Iface: "eth0", IfAddr: netip.MustParseAddr("198.18.1.1")}
	serverIP = net.IPv4(198, 18, 1, 1).To4()
)

func newServer(t *testing.T, edit func(*config.Config)) (*Server, *lease.Store) {
	t.Helper()
	return clockedServer(t, testConfig, nil, edit)
}

func mac(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }

func handle(t *testing.T, s *Server, req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	t.Helper()
	return s.Handle(context.Background(), req, meta)
}

// dora runs DISCOVER then REQUEST from the offer and returns the ACK.
func dora(t *testing.T, s *Server, m net.HardwareAddr, mods ...dhcpv4.Modifier) (offer, ack *dhcpv4.DHCPv4) {
	t.Helper()
	d, _ := dhcpv4.NewDiscovery(m, mods...)
	offer = handle(t, s, d)
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("DISCOVER from %v: got %v", m, offer)
	}
	r, _ := dhcpv4.NewRequestFromOffer(offer, mods...)
	ack = handle(t, s, r)
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("REQUEST from %v: got %v", m, ack)
	}
	return offer, ack
}

func TestDORA(t *testing.T) {
	s, st := newServer(t, nil)
	m := mac("02:00:00:00:00:01")
	offer, ack := dora(t, s, m, dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
	yi := addrOf(ack.YourIPAddr)
	if !ack.YourIPAddr.Equal(offer.YourIPAddr) || !netip.MustParsePrefix("198.18.1.0/24").Contains(yi) {
		t.Fatalf("offered %v, acked %v", offer.YourIPAddr, ack.YourIPAddr)
	}
	for _, r := range []*dhcpv4.DHCPv4{offer, ack} {
		if !r.ServerIdentifier().Equal(serverIP) || r.IPAddressLeaseTime(0) != time.Hour ||
			r.IPAddressRenewalTime(0) != 30*time.Minute || r.IPAddressRebindingTime(0) != 52*time.Minute+30*time.Second ||
			r.SubnetMask().String() != "ffffff00" || !r.Router()[0].Equal(serverIP) || r.DomainName() != "lab.example" ||
			!net.IP(r.GetOneOption(dhcpv4.OptionNTPServers)).Equal(net.IPv4(198, 18, 1, 123)) {
			t.Fatalf("%v lacks options:\n%v", r.MessageType(), r.Summary())
		}
	}
	l, ok := st.Get(yi)
	if !ok || l.State != lease.Bound || l.HWAddr != m.String() {
		t.Fatalf("lease %+v %v", l, ok)
	}
	// The same client asks again: the same address.
	if _, again := dora(t, s, m); !again.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatalf("second DORA %v, first %v", again.YourIPAddr, ack.YourIPAddr)
	}
}

func TestRequestStates(t *testing.T) {
	s, _ := newServer(t, nil)
	_, ack := dora(t, s, mac("02:00:00:00:00:01"))
	bound := ack.YourIPAddr
	_, other := dora(t, s, mac("02:00:00:00:00:02"))
	unicast := func(d *dhcpv4.DHCPv4) { d.SetUnicast() }
	for _, tc := range []struct {
		name string
		mods []dhcpv4.Modifier
		want dhcpv4.MessageType // None: no reply
		via  Via
	}{
		{"renewing", []dhcpv4.Modifier{dhcpv4.WithClientIP(bound), unicast}, dhcpv4.MessageTypeAck, ViaUnicast},
		{"rebinding", []dhcpv4.Modifier{dhcpv4.WithClientIP(bound), dhcpv4.WithBroadcast(true)}, dhcpv4.MessageTypeAck, ViaUnicast},
		{"init-reboot", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(bound))}, dhcpv4.MessageTypeAck, ViaL2},
		{"init-reboot, broadcast flag", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(bound)), dhcpv4.WithBroadcast(true)}, dhcpv4.MessageTypeAck, ViaBroadcast},
		{"init-reboot, wrong subnet", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 19, 0, 5)))}, dhcpv4.MessageTypeNak, ViaBroadcast},
		{"init-reboot, other client's address", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(other.YourIPAddr))}, dhcpv4.MessageTypeNak, ViaBroadcast},
		{"init-reboot, outside the ranges", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 18, 1, 200)))}, dhcpv4.MessageTypeNak, ViaBroadcast},
		{"selecting another server", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(bound)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 18, 1, 2)))}, dhcpv4.MessageTypeNone, 0},
		{"relayed, wrong subnet", []dhcpv4.Modifier{dhcpv4.WithGatewayIP(net.IPv4(198, 18, 5, 1)), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(bound))}, dhcpv4.MessageTypeNak, ViaRelay},
		{"no address named", nil, dhcpv4.MessageTypeNone, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac("02:00:00:00:00:01")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest)}, tc.mods...)...)
			resp := handle(t, s, req)
			if tc.want == dhcpv4.MessageTypeNone {
				if resp != nil {
					t.Fatalf("want silence, got %v", resp.Summary())
				}
				return
			}
			if resp == nil || resp.MessageType() != tc.want {
				t.Fatalf("got %v, want %v", resp, tc.want)
			}
			if d := Route(req, resp); d.Via != tc.via {
				t.Fatalf("routed %v, want %v", d, tc.via)
			}
			if tc.want == dhcpv4.MessageTypeAck && !resp.YourIPAddr.Equal(bound) {
				t.Fatalf("acked %v, want %v", resp.YourIPAddr, bound)
			}
			if tc.want == dhcpv4.MessageTypeNak && (!resp.YourIPAddr.IsUnspecified() || resp.Message() == "" || resp.Options.Has(dhcpv4.OptionIPAddressLeaseTime)) {
				t.Fatalf("NAK malformed: %v", resp.Summary())
			}
		})
	}
}

func TestRelayedClient(t *testing.T) {
	s, _ := newServer(t, nil)
	gi := net.IPv4(198, 18, 5, 1)
	rai := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.AgentCircuitIDSubOption, []byte("port7")))
	offer, ack := dora(t, s, mac("02:00:00:00:00:03"), dhcpv4.WithGatewayIP(gi), dhcpv4.WithOption(rai))
	if !netip.MustParsePrefix("198.18.5.0/24").Contains(addrOf(ack.YourIPAddr)) {
		t.Fatalf("relayed client got %v", ack.YourIPAddr)
	}
	if got := ack.RelayAgentInfo(); got == nil || string(got.Get(dhcpv4.AgentCircuitIDSubOption)) != "port7" {
		t.Fatalf("option 82 not echoed: %v", ack.Summary())
	}
	if ack.IPAddressRenewalTime(0) != 10*time.Minute {
		t.Fatalf("per-subnet t1: %v", ack.IPAddressRenewalTime(0))
	}
	d := Route(offer, ack)
	if d.Via != ViaRelay || d.IP != netip.AddrFrom4([4]byte{198, 18, 5, 1}) || d.Port != 67 {
		t.Fatalf("route %v", d)
	}
	// A relay for a subnet we do not serve: silence.
	unknown, _ := dhcpv4.NewDiscovery(mac("02:00:00:00:00:04"), dhcpv4.WithGatewayIP(net.IPv4(198, 19, 9, 1)))
	if r := handle(t, s, unknown); r != nil {
		t.Fatalf("answered an unknown relay: %v", r.Summary())
	}
}

func TestDeclineReleaseInform(t *testing.T) {
	s, st := newServer(t, nil)
	m := mac("02:00:00:00:00:01")
	d, _ := dhcpv4.NewDiscovery(m)
	offer := handle(t, s, d)
	decl, _ := dhcpv4.New(dhcpv4.WithHwAddr(m), dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverIP)))
	if r := handle(t, s, decl); r != nil {
		t.Fatalf("DECLINE answered: %v", r)
	}
	if l, _ := st.Get(addrOf(offer.YourIPAddr)); l.State != lease.Declined {
		t.Fatalf("declined lease %+v", l)
	}
	_, ack := dora(t, s, m)
	if ack.YourIPAddr.Equal(offer.YourIPAddr) {
		t.Fatalf("got the declined address %v again", ack.YourIPAddr)
	}
	rel, _ := dhcpv4.NewReleaseFromACK(ack)
	if r := handle(t, s, rel); r != nil {
		t.Fatalf("RELEASE answered: %v", r)
	}
	if l, _ := st.Get(addrOf(ack.YourIPAddr)); l.State != lease.Released {
		t.Fatalf("released lease %+v", l)
	}
	inf, _ := dhcpv4.NewInform(m, net.IPv4(198, 18, 1, 99))
	r := handle(t, s, inf)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.IsUnspecified() ||
		r.Options.Has(dhcpv4.OptionIPAddressLeaseTime) || r.DomainName() != "lab.example" {
		t.Fatalf("INFORM reply %v", r)
	}
	if d := Route(inf, r); d.Via != ViaUnicast || d.IP.String() != "198.18.1.99" {
		t.Fatalf("INFORM route %v", d)
	}
}

func TestReservations(t *testing.T) {
	s, _ := newServer(t, nil)
	_, ack := dora(t, s, mac("02:00:00:00:00:07"), dhcpv4.WithRequestedOptions(dhcpv4.OptionHostName))
	if ack.YourIPAddr.String() != "198.18.1.5" || ack.HostName() != "printer" {
		t.Fatalf("reserved client: %v %q", ack.YourIPAddr, ack.HostName())
	}
	_, ack = dora(t, s, mac("02:00:00:00:00:08"), dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0xff, 1, 2})))
	if ack.YourIPAddr.String() != "198.18.1.6" {
		t.Fatalf("client-id reservation: %v", ack.YourIPAddr)
	}
	// The reserved client asking for another address is sent back.
	req, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("02:00:00:00:00:07")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 18, 1, 12))))
	if r := handle(t, s, req); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("reserved client, other address: %v", r)
	}
	// Nobody else gets a reserved address, even asking for it.
	d, _ := dhcpv4.NewDiscovery(mac("02:00:00:00:00:09"), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 18, 1, 5))))
	if offer := handle(t, s, d); offer == nil || offer.YourIPAddr.String() == "198.18.1.5" {
		t.Fatal("a stranger got the reserved address")
	}
}

func TestParameterRequestList(t *testing.T) {
	s, _ := newServer(t, nil)
	d, _ := dhcpv4.NewDiscovery(mac("02:00:00:00:00:01"), dhcpv4.WithOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionRouter)))
	r := handle(t, s, d)
	if r.Options.Has(dhcpv4.OptionDomainNameServer) || r.Options.Has(dhcpv4.OptionNTPServers) || !r.Options.Has(dhcpv4.OptionRouter) || !r.Options.Has(dhcpv4.OptionSubnetMask) {
		t.Fatalf("PRL [router]: %v", r.Summary())
	}
}

func TestMalformedAndNonAuthoritative(t *testing.T) {
	s, _ := newServer(t, func(c *config.Config) { c.Authoritative = false })
	bootp, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("02:00:00:00:00:01")))
	bootp.Options.Del(dhcpv4.OptionDHCPMessageType)
	reply, _ := dhcpv4.NewReplyFromRequest(bootp)
	for name, req := range map[string]*dhcpv4.DHCPv4{"bootp": bootp, "a reply": reply} {
		if r := handle(t, s, req); r != nil {
			t.Errorf("%s answered: %v", name, r)
		}
	}
	req, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("02:00:00:00:00:01")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 19, 0, 5))))
	if r := handle(t, s, req); r != nil {
		t.Fatalf("non-authoritative server NAKed: %v", r)
	}
}

// The lease limit (failover's MCLT rule) caps the lease time in the OFFER,
// the ACK and the stored lease, with T1/T2 scaled down in proportion.
func TestLeaseLimit(t *testing.T) {
	s, st := newServer(t, nil)
	var asked []netip.Addr
	s.SetLeaseLimit(func(ip netip.Addr, want time.Duration) time.Duration {
		asked = append(asked, ip)
		return 10 * time.Minute
	})
	offer, ack := dora(t, s, mac("02:00:00:00:00:31"))
	for _, m := range []*dhcpv4.DHCPv4{offer, ack} {
		if lt := m.IPAddressLeaseTime(0); lt != 10*time.Minute {
			t.Errorf("%s lease time %s, want the 10m cap", m.MessageType(), lt)
		}
		if t1, t2 := m.IPAddressRenewalTime(0), m.IPAddressRebindingTime(0); t1 != 5*time.Minute || t2 != 525*time.Second {
			t.Errorf("%s T1 %s T2 %s, want 5m and 8m45s", m.MessageType(), t1, t2)
		}
	}
	l, ok := st.Get(addrOf(ack.YourIPAddr))
	if !ok || l.Expiry.Sub(l.Start) != 10*time.Minute {
		t.Errorf("stored lease %+v, want 10m long", l)
	}
	if len(asked) == 0 || asked[len(asked)-1] != addrOf(ack.YourIPAddr) {
		t.Errorf("limit asked for %v, want the leased address", asked)
	}
}
