package dhcpserver

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// FuzzPolicy: requests with any relay information, class options, subnet
// selection and FQDN options, BOOTP or DHCP, through the policy handlers:
// no panic; a reply answers the request; an address comes from a
// configured subnet, from the phones class's range only for a member
// (circuit id "phone-...") and from no class range for anyone else.
func FuzzPolicy(f *testing.F) {
	hw := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	gi := dhcpv4.WithRelay(net.IPv4(198, 19, 2, 1))
	for _, mods := range [][]dhcpv4.Modifier{
		{gi, relayAgent(sub(1, []byte("phone-a")))},
		{gi, relayAgent(sub(1, []byte("e-rc")), sub(5, []byte{198, 19, 0, 0}))},
		{dhcpv4.WithRelay(relayIP), dhcpv4.WithGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 7}),
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007")), dhcpv4.WithRequestedOptions(dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName)},
		{gi, dhcpv4.WithGeneric(dhcpv4.OptionSubnetSelection, []byte{198, 19, 3, 1})},
		{gi, dhcpv4.WithGeneric(dhcpv4.OptionFQDN, []byte{fqdnE, 0, 0, 3, 'a', 'b', 'c', 0})},
		{gi, dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 19, 2, 100)))},
	} {
		m, err := dhcpv4.NewDiscovery(hw, mods...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.ToBytes())
		m.Options.Del(dhcpv4.OptionDHCPMessageType) // the BOOTP form
		f.Add(m.ToBytes())
	}
	s, _ := clockedServer(f, policyConfig+"ddns: {server: 198.18.0.53, zone: lab.example}\n", nil, nil)
	phones := lease.Range{Start: netip.MustParseAddr("198.19.2.100"), End: netip.MustParseAddr("198.19.2.101")}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		resp := s.Handle(context.Background(), req, meta)
		if resp == nil {
			return
		}
		if resp.OpCode != dhcpv4.OpcodeBootReply || resp.TransactionID != req.TransactionID {
			t.Fatalf("reply %v does not answer %v", resp.Summary(), req.Summary())
		}
		yi := addrOf(resp.YourIPAddr)
		if !yi.IsValid() {
			return
		}
		if s.Config().SubnetFor(yi) == nil {
			t.Fatalf("gave %v outside the configured subnets", yi)
		}
		member := bytes.HasPrefix(parseRelayInfo(req.Options.Get(dhcpv4.OptionRelayAgentInformation)).sub[config.RelayCircuitID], []byte("phone-"))
		if phones.Contains(yi) && !member && resp.MessageType() != dhcpv4.MessageTypeNak {
			t.Fatalf("class address %v given to a non-member:\n%s", yi, req.Summary())
		}
	})
}
