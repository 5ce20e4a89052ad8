package dhcpserver

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// FuzzHandle: any request the codec accepts goes through the handlers
// without a panic; a reply is a BOOTREPLY for the same transaction and
// client, of a type a server sends, with an address from the configured
// subnets; a request that is not a valid client message creates no lease.
func FuzzHandle(f *testing.F) {
	hw := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	for _, mods := range [][]dhcpv4.Modifier{
		nil,
		{dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 18, 1, 12)))},
		{dhcpv4.WithMessageType(dhcpv4.MessageTypeInform)},
		{dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 18, 1, 1)))},
		{dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 18, 1, 12)))},
		{dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2, 0, 0, 0, 0, 1}))},
		{dhcpv4.WithGatewayIP(net.IPv4(198, 18, 5, 1))},
	} {
		m, err := dhcpv4.NewDiscovery(hw, mods...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.ToBytes())
	}
	cfg, err := config.Parse("fuzz.yaml", []byte(testConfig))
	if err != nil {
		f.Fatal(err)
	}
	cfg.DB = filepath.Join(f.TempDir(), "leases.db")
	st, err := lease.Open(cfg.DB, lease.Options{Pools: cfg.Pools(), HBA: decide.MustSplit(256)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	s := New(cfg, st, nil)
	subnets := []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("198.18.5.0/24")}

	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := dhcpv4.FromBytes(b)
		if err != nil {
			return // the daemon drops what the codec cannot read
		}
		before := len(st.All())
		resp := s.Handle(context.Background(), req, meta)
		valid := req.OpCode == dhcpv4.OpcodeBootRequest && len(req.ClientHWAddr) <= 16 &&
			(req.MessageType() == dhcpv4.MessageTypeRequest)
		if after := st.All(); !valid && len(after) > before {
			// A DECLINE of the address just offered to this client records
			// it on probation (the offer came from an earlier input: the
			// store lives across inputs); nothing else may appear.
			l, ok := st.Get(addrOf(req.RequestedIPAddress()))
			declined := req.MessageType() == dhcpv4.MessageTypeDecline && len(after) == before+1 && ok && l.State == lease.Declined
			if !declined {
				t.Fatalf("a %s (op %d) created a lease", req.MessageType(), req.OpCode)
			}
		}
		if resp == nil {
			return
		}
		if resp.OpCode != dhcpv4.OpcodeBootReply || resp.TransactionID != req.TransactionID || resp.ClientHWAddr.String() != req.ClientHWAddr.String() {
			t.Fatalf("reply %v does not answer request %v", resp.Summary(), req.Summary())
		}
		switch resp.MessageType() {
		case dhcpv4.MessageTypeOffer, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak:
		default:
			t.Fatalf("reply of type %s", resp.MessageType())
		}
		if yi := addrOf(resp.YourIPAddr); yi.IsValid() {
			in := false
			for _, p := range subnets {
				in = in || p.Contains(yi)
			}
			if !in {
				t.Fatalf("offered %s outside the configured subnets", yi)
			}
		}
	})
}
