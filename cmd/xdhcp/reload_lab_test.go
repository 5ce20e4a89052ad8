package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

const reloadYAML = `interfaces: [srv0]
subnets:
  - subnet: 198.18.0.0/24
    ranges: [198.18.0.100-198.18.0.109]
    dns: 198.18.0.53
    lease-time: 1h
`

// New DNS server and a second range.
const reloadYAML2 = `interfaces: [srv0]
subnets:
  - subnet: 198.18.0.0/24
    ranges: [198.18.0.100-198.18.0.109, 198.18.0.200-198.18.0.209]
    dns: 198.18.0.54
    lease-time: 1h
`

// Line 4 holds an address that is not one.
const reloadBroken = `interfaces: [srv0]
subnets:
  - subnet: 198.18.0.0/24
    ranges: [198.18.0.100-198.18.0.999]
    dns: 198.18.0.55
`

// reloadClient gets and renews leases from a packet socket in the client
// namespace (broadcast replies: the interface needs no address).
type reloadClient struct {
	t    *testing.T
	sock *labnet.PacketSocket
}

// get runs DISCOVER-OFFER-REQUEST-ACK for mac and returns the ACK.
func (c *reloadClient) get(mac net.HardwareAddr) *dhcpv4.DHCPv4 {
	c.t.Helper()
	disc, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithBroadcast(true), dhcpv4.WithRequestedOptions(dhcpv4.OptionDomainNameServer))
	if err != nil {
		c.t.Fatal(err)
	}
	offer := sockExchange(c.t, c.sock, mac, disc, dhcpv4.MessageTypeOffer, "")
	if offer == nil {
		c.t.Fatalf("no offer for %s", mac)
	}
	req, err := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithBroadcast(true))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.ack(mac, req)
}

// renew asks again for ip (INIT-REBOOT: option 50, no ciaddr), which
// extends the binding like a renewal.
func (c *reloadClient) renew(mac net.HardwareAddr, ip net.IP) *dhcpv4.DHCPv4 {
	c.t.Helper()
	req, err := dhcpv4.New(dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithBroadcast(true), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip)),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionDomainNameServer))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.ack(mac, req)
}

func (c *reloadClient) ack(mac net.HardwareAddr, req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	c.t.Helper()
	ack := sockExchange(c.t, c.sock, mac, req, dhcpv4.MessageTypeAck, "")
	if ack == nil {
		c.t.Fatalf("no ACK for %s (%s)", mac, req.MessageType())
	}
	return ack
}

func dnsOf(m *dhcpv4.DHCPv4) string {
	var s []string
	for _, a := range m.DNS() {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

// SIGHUP: xdhcp serve --config re-reads the file; a new client gets the
// new DNS server and the new range's addresses once the old one is used,
// the leases made before are kept and renew; a broken file keeps the
// running configuration and the log names the file and line.
func TestServeReloadOnSIGHUP(t *testing.T) {
	needRoot(t)
	l := newPairLab(t, "xh", "198.18.0.1/24", "cli0", "")
	file := filepath.Join(l.dir, "xdhcp.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadYAML)
	l.start()
	sock, err := l.cli.OpenPacketSocket("cli0")
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	c := &reloadClient{t: t, sock: sock}
	mac := func(i int) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 0x7e, byte(i)} }

	// Ten clients take the whole first range.
	old := map[string]net.IP{}
	for i := range 10 {
		ack := c.get(mac(i))
		if dnsOf(ack) != "198.18.0.53" {
			t.Fatalf("before reload client %d got DNS %q", i, dnsOf(ack))
		}
		old[mac(i).String()] = ack.YourIPAddr
	}
	before := l.leases(t)

	hup := func(want string) {
		t.Helper()
		n := strings.Count(l.log.String(), want)
		if err := l.daemon.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, want+" in the log", 5*time.Second, func() bool { return strings.Count(l.log.String(), want) > n })
	}
	write(reloadYAML2)
	hup("configuration reloaded")
	// Two changes: --db (a flag the file does not set) still overrides the
	// file, else the db would show as a third, restart-only change.
	if n := strings.Count(l.log.String(), "reload changed"); n != 2 {
		t.Errorf("%d changes logged, want 2 (dns, ranges):\n%s", n, l.log)
	}
	for _, want := range []string{`dns: [198.18.0.53] -> [198.18.0.54]"`, "ranges: [198.18.0.100-198.18.0.109] -> [198.18.0.100-198.18.0.109 198.18.0.200-198.18.0.209]"} {
		if !strings.Contains(l.log.String(), want) {
			t.Errorf("the reload log lacks %q:\n%s", want, l.log)
		}
	}
	ack := c.get(mac(10))
	if dnsOf(ack) != "198.18.0.54" || !strings.HasPrefix(ack.YourIPAddr.String(), "198.18.0.20") {
		t.Errorf("after reload a new client got %v with DNS %q, want 198.18.0.20x and 198.18.0.54", ack.YourIPAddr, dnsOf(ack))
	}
	after := l.leases(t)
	for i := range 10 {
		ip := old[mac(i).String()]
		b, a := before[ip.String()], after[ip.String()]
		if a.State != lease.Bound || a.Client.String() != b.Client.String() {
			t.Fatalf("lease %v after reload: %+v, before %+v", ip, a, b)
		}
		if r := c.renew(mac(i), ip); !r.YourIPAddr.Equal(ip) || dnsOf(r) != "198.18.0.54" {
			t.Errorf("renewal of %v: got %v DNS %q", ip, r.YourIPAddr, dnsOf(r))
		}
	}
	renewed := l.leases(t)
	for _, ip := range old {
		if r := renewed[ip.String()]; !r.Start.After(after[ip.String()].Start) {
			t.Errorf("lease %v not renewed in the store: %+v", ip, r)
		}
	}

	write(reloadBroken)
	hup("reload refused")
	if !strings.Contains(l.log.String(), "xdhcp.yaml:4:") {
		t.Errorf("the refused reload does not name the file and line:\n%s", l.log)
	}
	if ack := c.get(mac(11)); dnsOf(ack) != "198.18.0.54" {
		t.Errorf("after a refused reload a new client got DNS %q, want the running 198.18.0.54", dnsOf(ack))
	}
	for _, line := range strings.Split(l.log.String(), "\n") {
		if strings.Contains(line, "reload") {
			t.Log(line)
		}
	}
	t.Logf("MEASURED reload: 10 leases before the reload, %d in the store after it, 10 renewed; the broken file was refused and the running config kept", len(renewed))
}
