package dhcpserver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

const policyConfig = `
lease-time: 1h
bootp: true
subnets:
  - subnet: 198.19.0.0/24
    shared-network: floor1
    ranges: ["198.19.0.100-198.19.0.101"]
    routers: 198.19.0.1
    next-server: 198.19.0.5
    boot-file: pxelinux.0
    reservations:
      - {circuit-id: "e-rc", ip: 198.19.0.50}
      - {remote-id: "0x0a0b0c", ip: 198.19.0.51, boot-file: special.0}
  - subnet: 198.19.1.0/24
    shared-network: floor1
    ranges: ["198.19.1.100-198.19.1.199"]
    routers: 198.19.1.1
  - subnet: 198.19.2.0/24
    ranges: ["198.19.2.10-198.19.2.20"]
  - subnet: 198.19.3.0/24
    ranges: ["198.19.3.10-198.19.3.20"]
classes:
  - name: uefi-x64
    match: [{option: 93, hex: "0007"}, {option: 60, prefix: "PXEClient"}]
    next-server: 198.18.0.69
    server-name: boot.lab
    boot-file: ipxe.efi
    lease-time: 10m
    options: [{code: 42, ip: 198.19.0.123}]
  - name: phones
    match: {relay: {circuit-id: {prefix: "phone-"}}}
    ranges: ["198.19.2.100-198.19.2.101"]
`

var relayIP = net.IPv4(198, 19, 0, 1).To4()

// relayAgent builds option 82 from sub-options.
func relayAgent(subs ...[]byte) dhcpv4.Modifier {
	var v []byte
	for _, s := range subs {
		v = append(v, s...)
	}
	return dhcpv4.WithGeneric(dhcpv4.OptionRelayAgentInformation, v)
}

func sub(code byte, v []byte) []byte { return append([]byte{code, byte(len(v))}, v...) }

func policyServer(t *testing.T) (*Server, *lease.Store) {
	t.Helper()
	return clockedServer(t, policyConfig, nil, nil)
}

func TestCircuitAndRemoteIDReservations(t *testing.T) {
	s, st := policyServer(t)
	circuit := relayAgent(sub(1, []byte("e-rc")), sub(2, []byte("agent-7")))
	offer, ack := dora(t, s, mac("02:00:00:00:01:01"), dhcpv4.WithRelay(relayIP), circuit)
	if got := addrOf(ack.YourIPAddr); got != netip.MustParseAddr("198.19.0.50") || !offer.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatalf("circuit-id reservation: offered %v, acked %v", offer.YourIPAddr, ack.YourIPAddr)
	}
	want := append(sub(1, []byte("e-rc")), sub(2, []byte("agent-7"))...)
	if echo := ack.GetOneOption(dhcpv4.OptionRelayAgentInformation); !bytes.Equal(echo, want) {
		t.Fatalf("option 82 not echoed: %x, want %x", echo, want)
	}
	if l, _ := st.Get(netip.MustParseAddr("198.19.0.50")); !bytes.Equal(l.RelayInfo, want) {
		t.Fatalf("lease's relay info %x, want %x", l.RelayInfo, want)
	}
	// The remote id reservation, and its own boot file over the subnet's.
	_, ack = dora(t, s, mac("02:00:00:00:01:02"), dhcpv4.WithRelay(relayIP), relayAgent(sub(2, []byte{0x0a, 0x0b, 0x0c})))
	if addrOf(ack.YourIPAddr) != netip.MustParseAddr("198.19.0.51") || ack.BootFileName != "special.0" || !ack.ServerIPAddr.Equal(net.IPv4(198, 19, 0, 5)) {
		t.Fatalf("remote-id reservation: %v file %q siaddr %v", ack.YourIPAddr, ack.BootFileName, ack.ServerIPAddr)
	}
}

func TestLinkSelectionAndSubnetSelection(t *testing.T) {
	s, _ := policyServer(t)
	for _, tc := range []struct {
		name string
		mods []dhcpv4.Modifier
		want string
	}{
		{"giaddr alone", []dhcpv4.Modifier{dhcpv4.WithRelay(net.IPv4(198, 19, 2, 1))}, "198.19.2.0/24"},
		{"link selection over giaddr", []dhcpv4.Modifier{dhcpv4.WithRelay(net.IPv4(198, 19, 2, 1)), relayAgent(sub(5, []byte{198, 19, 3, 0}))}, "198.19.3.0/24"},
		{"option 118 over giaddr", []dhcpv4.Modifier{dhcpv4.WithRelay(net.IPv4(198, 19, 2, 1)), dhcpv4.WithGeneric(dhcpv4.OptionSubnetSelection, []byte{198, 19, 3, 7})}, "198.19.3.0/24"},
		{"link selection over option 118", []dhcpv4.Modifier{dhcpv4.WithRelay(net.IPv4(198, 19, 2, 1)),
			relayAgent(sub(5, []byte{198, 19, 2, 0})), dhcpv4.WithGeneric(dhcpv4.OptionSubnetSelection, []byte{198, 19, 3, 7})}, "198.19.2.0/24"},
	} {
		d, _ := dhcpv4.NewDiscovery(mac("02:00:00:00:02:01"), tc.mods...)
		offer := handle(t, s, d)
		if offer == nil || !netip.MustParsePrefix(tc.want).Contains(addrOf(offer.YourIPAddr)) {
			t.Errorf("%s: offered %v, want an address of %s", tc.name, offer, tc.want)
		}
	}
	// An address no subnet holds: silence, not a guess.
	d, _ := dhcpv4.NewDiscovery(mac("02:00:00:00:02:02"), dhcpv4.WithRelay(relayIP), relayAgent(sub(5, []byte{10, 1, 2, 3})))
	if r := handle(t, s, d); r != nil {
		t.Fatalf("link selection of an unknown network answered: %v", r.Summary())
	}
}

// The first subnet of floor1 has two addresses: the third client
// overflows into the second, and renews there.
func TestSharedNetworkOverflow(t *testing.T) {
	s, st := policyServer(t)
	var got []netip.Addr
	for i := range 3 {
		_, ack := dora(t, s, mac("02:00:00:00:03:0"+string(rune('1'+i))), dhcpv4.WithRelay(relayIP))
		got = append(got, addrOf(ack.YourIPAddr))
	}
	first, second := netip.MustParsePrefix("198.19.0.0/24"), netip.MustParsePrefix("198.19.1.0/24")
	if !first.Contains(got[0]) || !first.Contains(got[1]) || !second.Contains(got[2]) {
		t.Fatalf("addresses %v: want two from %v, then one from %v", got, first, second)
	}
	// Renewing (unicast, ciaddr) the overflowed address is ACKed with the
	// second subnet's router.
	r, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac("02:00:00:00:03:03")),
		dhcpv4.WithClientIP(got[2].AsSlice()), dhcpv4.WithRelay(relayIP))
	ack := handle(t, s, r)
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || !ack.Router()[0].Equal(net.IPv4(198, 19, 1, 1)) {
		t.Fatalf("renewal in the second subnet: %v", ack)
	}
	if l, _ := st.Get(got[2]); l.State != lease.Bound {
		t.Fatalf("store: %+v", l)
	}
}

func TestUEFIClassBootFields(t *testing.T) {
	s, _ := policyServer(t)
	uefi := []dhcpv4.Modifier{dhcpv4.WithRelay(relayIP),
		dhcpv4.WithGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 7}),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016")),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName, dhcpv4.OptionNTPServers)}
	offer, ack := dora(t, s, mac("02:00:00:00:04:01"), uefi...)
	for _, r := range []*dhcpv4.DHCPv4{offer, ack} {
		if !r.ServerIPAddr.Equal(net.IPv4(198, 18, 0, 69)) || r.BootFileName != "ipxe.efi" || r.ServerHostName != "boot.lab" {
			t.Fatalf("%v: siaddr %v file %q sname %q", r.MessageType(), r.ServerIPAddr, r.BootFileName, r.ServerHostName)
		}
		if r.BootFileNameOption() != "ipxe.efi" || r.TFTPServerName() != "boot.lab" {
			t.Fatalf("%v: options 66 %q, 67 %q", r.MessageType(), r.TFTPServerName(), r.BootFileNameOption())
		}
		if r.IPAddressLeaseTime(0) != 10*time.Minute || !net.IP(r.GetOneOption(dhcpv4.OptionNTPServers)).Equal(net.IPv4(198, 19, 0, 123)) {
			t.Fatalf("%v: class lease time %v, option 42 %v", r.MessageType(), r.IPAddressLeaseTime(0), r.GetOneOption(dhcpv4.OptionNTPServers))
		}
	}
	// Option 93 alone is not enough (both conditions must hold): the
	// subnet's fields, and no 66/67 unless asked.
	_, plain := dora(t, s, mac("02:00:00:00:04:02"), dhcpv4.WithRelay(relayIP),
		dhcpv4.WithGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 7}))
	if plain.BootFileName != "pxelinux.0" || !plain.ServerIPAddr.Equal(net.IPv4(198, 19, 0, 5)) ||
		plain.Options.Has(dhcpv4.OptionBootfileName) || plain.IPAddressLeaseTime(0) != time.Hour {
		t.Fatalf("non-member: file %q siaddr %v lease %v\n%s", plain.BootFileName, plain.ServerIPAddr, plain.IPAddressLeaseTime(0), plain.Summary())
	}
}

// A class's ranges are its members' only pool, and nobody else's.
func TestClassRangesAreTheirOwn(t *testing.T) {
	s, _ := policyServer(t)
	gi := dhcpv4.WithRelay(net.IPv4(198, 19, 2, 1))
	phones := netip.MustParseAddr("198.19.2.100")
	for i := range 2 {
		_, ack := dora(t, s, mac("02:00:00:00:05:0"+string(rune('1'+i))), gi, relayAgent(sub(1, []byte("phone-"+string(rune('a'+i))))))
		if a := addrOf(ack.YourIPAddr); a != phones && a != phones.Next() {
			t.Fatalf("phone %d got %v, want the class's 198.19.2.100-101", i, a)
		}
	}
	// The class's pool is empty now: a third phone gets nothing, though
	// the subnet's own range has room.
	d, _ := dhcpv4.NewDiscovery(mac("02:00:00:00:05:03"), gi, relayAgent(sub(1, []byte("phone-c"))))
	if r := handle(t, s, d); r != nil {
		t.Fatalf("third phone offered %v from outside its class's ranges", r.YourIPAddr)
	}
	// Other clients never get a class address, even when asking for one.
	for i := range 11 {
		d, _ := dhcpv4.NewDiscovery(mac(fmt.Sprintf("02:00:00:00:06:%02x", i)), gi,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 19, 2, 101))))
		r := handle(t, s, d)
		if r == nil {
			t.Fatalf("client %d: no offer", i)
		}
		if a := addrOf(r.YourIPAddr); !(lease.Range{Start: netip.MustParseAddr("198.19.2.10"), End: netip.MustParseAddr("198.19.2.20")}).Contains(a) {
			t.Fatalf("non-member %d offered %v", i, a)
		}
	}
	// A non-member asking straight for a class address is refused.
	req, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac("02:00:00:00:07:01")), gi,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 19, 2, 101))))
	if r := handle(t, s, req); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("non-member REQUEST for a class address: %v", r)
	}
}

func TestBOOTP(t *testing.T) {
	s, st := policyServer(t)
	req, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("02:00:00:00:08:01")), dhcpv4.WithRelay(net.IPv4(198, 19, 2, 1)))
	req.Options.Del(dhcpv4.OptionDHCPMessageType)
	if req.MessageType() != dhcpv4.MessageTypeNone {
		t.Fatalf("not a BOOTP request: %v", req.MessageType())
	}
	r := handle(t, s, req)
	if r == nil || r.OpCode != dhcpv4.OpcodeBootReply {
		t.Fatalf("no BOOTREPLY: %v", r)
	}
	for _, c := range dhcpOnly {
		if r.Options.Has(c) {
			t.Fatalf("BOOTREPLY carries DHCP option %v:\n%s", c, r.Summary())
		}
	}
	a := addrOf(r.YourIPAddr)
	l, ok := st.Get(a)
	if !ok || l.State != lease.Bound || l.Expiry.Sub(l.Start) != bootpForever || r.SubnetMask().String() != "ffffff00" {
		t.Fatalf("BOOTP binding of %v: %+v (mask %v)", a, l, r.SubnetMask())
	}
	// The same client asking again gets the same address.
	if again := handle(t, s, req); again == nil || !again.YourIPAddr.Equal(r.YourIPAddr) {
		t.Fatalf("second BOOTREQUEST: %v", again)
	}
	s.Config().BOOTP = false
	if off := handle(t, s, req); off != nil {
		t.Fatal("BOOTREQUEST answered with bootp: false")
	}
}

func TestFQDNOption(t *testing.T) {
	s, st := clockedServer(t, policyConfig+`
ddns: {server: 198.18.0.53, zone: lab.example}
`, nil, nil)
	// E flag (wire format), S=0: the server overrides (S|O) and names the
	// client in its zone.
	fqdn := dhcpv4.WithGeneric(dhcpv4.OptionFQDN, append([]byte{fqdnE, 0, 0}, "\x05Host1\x05other\x03org\x00"...))
	_, ack := dora(t, s, mac("02:00:00:00:09:01"), dhcpv4.WithRelay(relayIP), fqdn)
	v := ack.GetOneOption(dhcpv4.OptionFQDN)
	want := append([]byte{fqdnE | fqdnS | fqdnO, 255, 255}, "\x05host1\x03lab\x07example\x00"...)
	if !bytes.Equal(v, want) {
		t.Fatalf("option 81 reply %q, want %q", v, want)
	}
	if l, _ := st.Get(addrOf(ack.YourIPAddr)); l.DNSName != "host1.lab.example." {
		t.Fatalf("lease DNS name %q", l.DNSName)
	}
	// N: no server updates, and the reply says so.
	_, ack = dora(t, s, mac("02:00:00:00:09:02"), dhcpv4.WithRelay(relayIP),
		dhcpv4.WithGeneric(dhcpv4.OptionFQDN, append([]byte{fqdnN, 0, 0}, "host2"...)))
	if v := ack.GetOneOption(dhcpv4.OptionFQDN); len(v) < 1 || v[0] != fqdnN {
		t.Fatalf("N flag reply %q", v)
	}
	if l, _ := st.Get(addrOf(ack.YourIPAddr)); l.DNSName != "" {
		t.Fatalf("client asked for no updates, lease names %q", l.DNSName)
	}
	// Option 12 alone names the lease; a name that is no host label does not.
	_, ack = dora(t, s, mac("02:00:00:00:09:03"), dhcpv4.WithRelay(relayIP), dhcpv4.WithOption(dhcpv4.OptHostName("bad_name")))
	if l, _ := st.Get(addrOf(ack.YourIPAddr)); l.DNSName != "" || ack.Options.Has(dhcpv4.OptionFQDN) {
		t.Fatalf("invalid label registered %q", l.DNSName)
	}
}

// With ping-check on but no background started (no socket), offers go
// out unchecked and are counted as such.
func TestPingCheckWithoutSocketOffersUnchecked(t *testing.T) {
	s, _ := clockedServer(t, policyConfig+"ping-check: {enabled: true}\n", nil, nil)
	d, _ := dhcpv4.NewDiscovery(mac("02:00:00:00:0a:01"), dhcpv4.WithRelay(relayIP))
	if r := s.Handle(context.Background(), d, meta); r == nil {
		t.Fatal("no offer")
	}
	if p := s.Policy(); p.PingSkipped != 1 || p.PingChecks != 0 {
		t.Fatalf("counters %+v", p)
	}
}

// Regression (FuzzPolicy): a client bound from a class's range that is no
// longer a member was offered its old address again, which its REQUEST
// could not have: the offer now comes from its new pool.
func TestLeftClassGetsItsNewPool(t *testing.T) {
	s, _ := policyServer(t)
	gi := dhcpv4.WithRelay(net.IPv4(198, 19, 2, 1))
	m := mac("02:00:00:00:0c:01")
	_, ack := dora(t, s, m, gi, relayAgent(sub(1, []byte("phone-x"))))
	if a := addrOf(ack.YourIPAddr); a != netip.MustParseAddr("198.19.2.100") {
		t.Fatalf("phone bound %v", a)
	}
	_, ack = dora(t, s, m, gi)
	if a := addrOf(ack.YourIPAddr); a.As4()[3] > 20 {
		t.Fatalf("after leaving the class the client was given %v", a)
	}
}
