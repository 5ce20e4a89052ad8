package daemon

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/dhcpserver"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

const reloadBefore = `
interfaces: [lo]
server-id: 198.18.0.1
subnets:
  - subnet: 198.18.0.0/24
    ranges: [198.18.0.100-198.18.0.101]
    dns: 198.18.0.53
`

// The range moves to .200-.210, DNS changes, a subnet is added, the
// interfaces (restart-only) change.
const reloadAfter = `
interfaces: [lo, eth9]
server-id: 198.18.0.1
lease-time: 2h
subnets:
  - subnet: 198.18.0.0/24
    ranges: [198.18.0.200-198.18.0.210]
    dns: 198.18.0.54
  - subnet: 198.18.1.0/24
    ranges: [198.18.1.10-198.18.1.20]
`

func parse(t *testing.T, db, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	c.DB = db
	return c
}

// discover asks the server for an offer as a relayed client (no sockets:
// the handlers only).
func discover(t *testing.T, d *Daemon, mac net.HardwareAddr) *dhcpv4.DHCPv4 {
	t.Helper()
	req, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithRequestedOptions(dhcpv4.OptionDomainNameServer))
	if err != nil {
		t.Fatal(err)
	}
	req.GatewayIPAddr = net.IPv4(198, 18, 0, 2)
	resp := d.server.Handle(context.Background(), req, dhcpserver.Meta{Iface: "lo", ServerID: netip.MustParseAddr("198.18.0.1")})
	if resp == nil || resp.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("no offer for %s: %v", mac, resp)
	}
	return resp
}

func TestReloadSwapsConfigAndKeepsLeases(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leases.db")
	d, err := New(Options{Config: parse(t, db, reloadBefore), Rule: decide.Rule{Role: decide.Primary, HBA: decide.MustSplit(256)}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.store.Close()
	subnet := netip.MustParsePrefix("198.18.0.0/24")
	old := netip.MustParseAddr("198.18.0.100")
	client := lease.ClientID{1, 2, 0, 0, 0, 0, 1}
	if _, err := d.store.Bind(lease.BindRequest{Subnet: subnet, Client: client, IP: old, LeaseTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if dns := discover(t, d, net.HardwareAddr{2, 0, 0, 0, 0, 2}).DNS(); len(dns) != 1 || !dns[0].Equal(net.IPv4(198, 18, 0, 53)) {
		t.Fatalf("before reload DNS %v", dns)
	}

	changed, err := d.Reload(parse(t, db, reloadAfter))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"lease-time: 1h0m0s -> 2h0m0s",
		"subnet 198.18.0.0/24 ranges: [198.18.0.100-198.18.0.101] -> [198.18.0.200-198.18.0.210]",
		"subnet 198.18.0.0/24 dns: [198.18.0.53] -> [198.18.0.54]",
		"subnet 198.18.1.0/24: added, ranges [198.18.1.10-198.18.1.20]",
		"interfaces: changing it needs a restart, the running value is kept",
	} {
		if !slices.Contains(changed, want) {
			t.Errorf("changes lack %q:\n%s", want, strings.Join(changed, "\n"))
		}
	}
	if len(changed) != 5 {
		t.Errorf("%d changes, want 5:\n%s", len(changed), strings.Join(changed, "\n"))
	}
	if got := d.server.Config().Interfaces; !slices.Equal(got, []string{"lo"}) {
		t.Errorf("interfaces after reload %v, want the running [lo]", got)
	}
	// A new client: new DNS, an address from the new range.
	offer := discover(t, d, net.HardwareAddr{2, 0, 0, 0, 0, 3})
	if dns := offer.DNS(); len(dns) != 1 || !dns[0].Equal(net.IPv4(198, 18, 0, 54)) {
		t.Errorf("after reload DNS %v, want 198.18.0.54", dns)
	}
	newRange := lease.Range{Start: netip.MustParseAddr("198.18.0.200"), End: netip.MustParseAddr("198.18.0.210")}
	if ip, _ := netip.AddrFromSlice(offer.YourIPAddr.To4()); !newRange.Contains(ip) {
		t.Errorf("after reload offered %v, want 198.18.0.200-210", ip)
	}
	// The lease outside the new ranges is kept, given to nobody else,
	// and its renewal refused so the client moves.
	if l, ok := d.store.Get(old); !ok || l.State != lease.Bound || l.Client.String() != client.String() {
		t.Fatalf("lease %v after reload: %+v %v", old, l, ok)
	}
	if _, err := d.store.Bind(lease.BindRequest{Subnet: subnet, Client: client, IP: old, LeaseTime: time.Hour}); !errors.Is(err, lease.ErrUnknownAddress) {
		t.Errorf("renewal outside the new ranges: %v, want ErrUnknownAddress", err)
	}

	// An invalid configuration changes nothing.
	bad := parse(t, db, reloadAfter)
	bad.LeaseTime = -1
	if _, err := d.Reload(bad); err == nil || !strings.Contains(err.Error(), "lease-time") {
		t.Errorf("invalid reload: %v", err)
	}
	if d.server.Config().LeaseTime != 2*time.Hour {
		t.Errorf("lease time %v after a refused reload, want 2h", d.server.Config().LeaseTime)
	}
}
