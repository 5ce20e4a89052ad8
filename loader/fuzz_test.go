package loader

import (
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// FuzzXDPMatchesGo feeds random and mutated frames through the kernel program
// and the Go twin under a fuzzed config: they must agree on every verdict, and
// a frame the twin does not see as DHCP must never be dropped.
func FuzzXDPMatchesGo(f *testing.F) {
	mac := net.HardwareAddr{0, 0, 1, 2, 3, 5}
	seed := func(m *dhcpv4.DHCPv4, err error) {
		if err != nil {
			f.Fatal(err)
		}
		for _, cfgBits := range []uint32{0x0006_0011, 0x0003_0113, 0x0000_0001, 0x0006_0f11} {
			f.Add(frames.Message(m), cfgBits)
			f.Add(frames.Frame{Src: mac, VLANs: []uint16{7, 8}, IPOptions: []byte{1, 1, 1, 1}, Payload: m.ToBytes()}.Bytes(), cfgBits)
		}
	}
	seed(dhcpv4.NewDiscovery(mac))
	seed(dhcpv4.NewDiscovery(mac, dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 0, 0, 1, 2, 3, 5}))))
	seed(dhcpv4.NewDiscovery(mac, dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 18, 0, 1)))))
	seed(dhcpv4.NewDiscovery(mac, dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 18, 0, 2)))))
	f.Add([]byte("not a frame at all, but long enough"), uint32(0x0006_0001))
	for _, capture := range []string{"dhcp-seconds.pcap", "win-server1-1.pcapng", "win-server2-1.pcapng"} {
		for _, fr := range readCapture(f, capture) {
			f.Add(fr, uint32(0x0006_0111))
		}
	}

	needRoot(f)
	p, err := Load(LoadOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })

	f.Fuzz(func(t *testing.T, frame []byte, cfgBits uint32) {
		if len(frame) < 14 || len(frame) > 3000 {
			return // test runs need an Ethernet header; XDP frames fit a page
		}
		cfg := fuzzConfig(cfgBits)
		if err := p.SetRule(cfg); err != nil {
			t.Fatal(err)
		}
		action, got := kernelVerdict(t, p, frame)
		twin := decide.DecideFrame(&cfg, frame)
		if got != twin.Reason || action != actionOf(twin.Reason) {
			t.Fatalf("kernel %s (action %d), Go %s, config %+v, frame %x", got, action, twin.Reason, cfg, frame)
		}
		if _, reason, ok := decide.ParseFrame(frame); !ok && reason != decide.ReasonMalformed && action != xdpPass {
			t.Fatalf("non-DHCP frame (%s) dropped: %x", reason, frame)
		}
	})
}

// fuzzConfig maps 32 bits to a config: bits 0-1 state (normal most often),
// bit 4 role, bits 8-11 flags, bits 16-23 threshold, bits 24-31 split point.
func fuzzConfig(bits uint32) decide.Rule {
	state := decide.Normal
	if bits&3 == 3 {
		state = decide.PartnerDown
	}
	c := decide.Rule{
		HBA:           decide.MustSplit(int(bits >> 24)),
		Role:          decide.Role(bits >> 4 & 1),
		Threshold:     uint16(bits >> 16 & 0xff),
		Rule:          state,
		ChaddrOnly:    bits&(1<<8) != 0,
		SwapSecs:      bits&(1<<9) != 0,
		DropMalformed: bits&(1<<10) != 0,
		RelayStats:    bits&(1<<11) != 0,
	}
	if bits&2 != 0 {
		c.ServerIDs = []netip.Addr{netip.MustParseAddr("198.18.0.1")}
	}
	return c
}
