package loader

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// needRoot skips tests that load BPF when not root (CI runs as root).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs (run as root; CI does)")
	}
}

func loadTest(t testing.TB) *Program {
	t.Helper()
	needRoot(t)
	p, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// kernelVerdict test-runs one frame and returns the XDP action and the
// reason whose counter moved (exactly one must move).
func kernelVerdict(t testing.TB, p *Program, frame []byte) (uint32, decide.Reason) {
	t.Helper()
	before, err := p.Verdicts()
	if err != nil {
		t.Fatal(err)
	}
	ret, err := p.XDP().Run(&ebpfRunOptions{Data: frame})
	if err != nil {
		t.Fatalf("test run: %v", err)
	}
	after, err := p.Verdicts()
	if err != nil {
		t.Fatal(err)
	}
	reason := decide.NumReasons
	for r := range after {
		switch d := after[r] - before[r]; d {
		case 0:
		case 1:
			if reason != decide.NumReasons {
				t.Fatalf("two counters moved: %s and %s", reason, decide.Reason(r))
			}
			reason = decide.Reason(r)
		default:
			t.Fatalf("counter %s moved by %d for one packet", decide.Reason(r), d)
		}
	}
	if reason == decide.NumReasons {
		t.Fatalf("no verdict counter moved (action %d)", ret)
	}
	return ret, reason
}

func actionOf(r decide.Reason) uint32 {
	if r.Drops() {
		return xdpDrop
	}
	return xdpPass
}

// checkFrame asserts kernel, Go twin and expectation agree.
func checkFrame(t *testing.T, p *Program, cfg *decide.Rule, name string, frame []byte, want decide.Reason) {
	t.Helper()
	action, got := kernelVerdict(t, p, frame)
	twin := decide.DecideFrame(cfg, frame)
	if got != want || action != actionOf(want) || twin.Reason != want {
		t.Errorf("%s: kernel %s (action %d), Go %s, want %s", name, got, action, twin.Reason, want)
	}
}

var (
	mine  = netip.MustParseAddr("198.18.0.1")
	other = netip.MustParseAddr("198.18.0.2")
	// 00:00:01:02:03:05 is bucket 45: the primary's under split 128.
	macP = net.HardwareAddr{0, 0, 1, 2, 3, 5}
)

func msg(t *testing.T, mac net.HardwareAddr, secs uint16, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.NewDiscovery(mac, mods...)
	if err != nil {
		t.Fatal(err)
	}
	m.NumSeconds = secs
	return m
}

func setCfg(t *testing.T, p *Program, c decide.Rule) *decide.Rule {
	t.Helper()
	if err := p.SetRule(c); err != nil {
		t.Fatal(err)
	}
	got, err := p.Rule()
	if err != nil {
		t.Fatal(err)
	}
	if got.HBA != c.HBA || got.Role != c.Role || got.Threshold != c.Threshold || got.Rule != c.Rule || len(got.ServerIDs) != len(c.ServerIDs) {
		t.Fatalf("config read back %+v, wrote %+v", got, c)
	}
	return &c
}

func TestMessageRulesInKernel(t *testing.T) {
	p := loadTest(t)
	typ := func(mt dhcpv4.MessageType) dhcpv4.Modifier { return dhcpv4.WithMessageType(mt) }
	sid := func(a netip.Addr) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(a.AsSlice())) }
	ciaddr := func(m *dhcpv4.DHCPv4) { m.ClientIPAddr = net.IPv4(198, 18, 0, 50) }
	bootp := func(m *dhcpv4.DHCPv4) { m.Options = dhcpv4.Options{} }
	overload := dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionOptionOverload, []byte{1}))
	cases := []struct {
		name    string
		mods    []dhcpv4.Modifier
		primary decide.Reason // this server is primary (owns bucket 45)
		second  decide.Reason // this server is secondary
	}{
		{"discover", nil, decide.ReasonOwned, decide.ReasonPartnerDropped},
		{"bootrequest without option 53", []dhcpv4.Modifier{bootp}, decide.ReasonOwned, decide.ReasonPartnerDropped},
		{"inform", []dhcpv4.Modifier{typ(dhcpv4.MessageTypeInform)}, decide.ReasonOwned, decide.ReasonPartnerDropped},
		{"init-reboot request", []dhcpv4.Modifier{typ(dhcpv4.MessageTypeRequest)}, decide.ReasonOwned, decide.ReasonPartnerDropped},
		{"selecting request naming me", []dhcpv4.Modifier{typ(dhcpv4.MessageTypeRequest), sid(mine)}, decide.ReasonServerIDMine, decide.ReasonServerIDMine},
		{"selecting request naming other", []dhcpv4.Modifier{typ(dhcpv4.MessageTypeRequest), sid(other)}, decide.ReasonOtherServerDropped, decide.ReasonOtherServerDropped},
		{"release naming me", []dhcpv4.Modifier{typ(dhcpv4.MessageTypeRelease), sid(mine)}, decide.ReasonServerIDMine, decide.ReasonServerIDMine},
		{"release naming other", []dhcpv4.Modifier{typ(dhcpv4.MessageTypeRelease), sid(other)}, decide.ReasonOtherServerDropped, decide.ReasonOtherServerDropped},
		{"decline naming other", []dhcpv4.Modifier{typ(dhcpv4.MessageTypeDecline), sid(other)}, decide.ReasonOtherServerDropped, decide.ReasonOtherServerDropped},
		{"renewing request", []dhcpv4.Modifier{typ(dhcpv4.MessageTypeRequest), ciaddr}, decide.ReasonRenewRebind, decide.ReasonRenewRebind},
		{"rebinding request naming other", []dhcpv4.Modifier{typ(dhcpv4.MessageTypeRequest), ciaddr, sid(other)}, decide.ReasonRenewRebind, decide.ReasonRenewRebind},
		{"lease query", []dhcpv4.Modifier{typ(dhcpv4.MessageType(10))}, decide.ReasonOtherMessage, decide.ReasonOtherMessage},
		{"option overload", []dhcpv4.Modifier{overload}, decide.ReasonOverload, decide.ReasonOverload},
	}
	for _, role := range []decide.Role{decide.Primary, decide.Secondary} {
		cfg := setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: role, Threshold: 6, Rule: decide.Normal, ServerIDs: []netip.Addr{mine}})
		for _, tc := range cases {
			want := tc.primary
			if role == decide.Secondary {
				want = tc.second
			}
			f := frames.Message(msg(t, macP, 0, tc.mods...))
			checkFrame(t, p, cfg, role.String()+" "+tc.name, f, want)
		}
	}
	// every state but NORMAL passes everything
	for _, st := range []decide.State{decide.Startup, decide.CommunicationsInterrupted, decide.PartnerDown, decide.Recover} {
		cfg := setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: st, ServerIDs: []netip.Addr{mine}})
		for _, tc := range cases {
			checkFrame(t, p, cfg, st.String()+" "+tc.name, frames.Message(msg(t, macP, 0, tc.mods...)), decide.ReasonStatePass)
		}
	}
}

func TestSecsBoundariesInKernel(t *testing.T) {
	p := loadTest(t)
	for _, tc := range []struct {
		threshold uint16
		swap      bool
		secs      uint16
		want      decide.Reason
	}{
		{6, false, 0, decide.ReasonPartnerDropped},
		{6, false, 5, decide.ReasonPartnerDropped},
		{6, false, 6, decide.ReasonSecsOverride},
		{6, false, 65535, decide.ReasonSecsOverride},
		{4, false, 3, decide.ReasonPartnerDropped}, // ISC max seconds 3
		{4, false, 4, decide.ReasonSecsOverride},
		{6, false, 0x0101, decide.ReasonSecsOverride},
		{6, true, 0x0100, decide.ReasonPartnerDropped}, // swapped: 1
		{6, true, 0x0600, decide.ReasonSecsOverride},   // swapped: 6
		{6, false, 0x0100, decide.ReasonSecsOverride},  // 256
		{6, true, 0x0101, decide.ReasonSecsOverride},   // low byte set: 257
		{0, false, 0, decide.ReasonLBOff},
		{1, false, 0, decide.ReasonPartnerDropped},
	} {
		cfg := setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: tc.threshold, Rule: decide.Normal, SwapSecs: tc.swap})
		f := frames.Discover(macP, tc.secs)
		checkFrame(t, p, cfg, "secs", f, tc.want)
	}
}

// Frames around the DHCP message: VLANs, IP options, relays, other protocols.
func TestFramingInKernel(t *testing.T) {
	p := loadTest(t)
	cfg := setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: decide.Normal})
	payload := msg(t, macP, 0).ToBytes()
	relayed := msg(t, macP, 0)
	relayed.GatewayIPAddr = net.IPv4(198, 18, 1, 1)
	relayed.HopCount = 1
	base := frames.Frame{Src: macP, Payload: payload}
	with := func(mod func(*frames.Frame)) []byte { f := base; mod(&f); return f.Bytes() }
	arp := append(make([]byte, 12), 0x08, 0x06)
	arp = append(arp, make([]byte, 28)...)
	ipv6 := append(make([]byte, 12), 0x86, 0xdd)
	ipv6 = append(ipv6, make([]byte, 60)...)
	good := base.Bytes()
	cases := []struct {
		name  string
		frame []byte
		want  decide.Reason
	}{
		{"plain", good, decide.ReasonPartnerDropped},
		{"802.1Q", with(func(f *frames.Frame) { f.VLANs = []uint16{10} }), decide.ReasonPartnerDropped},
		{"QinQ", with(func(f *frames.Frame) { f.VLANs = []uint16{100, 10} }), decide.ReasonPartnerDropped},
		{"three tags", with(func(f *frames.Frame) { f.VLANs = []uint16{100, 10, 5} }), decide.ReasonNotDHCP},
		{"IP options", with(func(f *frames.Frame) { f.IPOptions = []byte{0x94, 0x04, 0, 0, 1, 1, 1, 0} }), decide.ReasonPartnerDropped},
		{"max IP options", with(func(f *frames.Frame) { f.IPOptions = make([]byte, 40) }), decide.ReasonPartnerDropped},
		{"relayed", frames.Frame{Src: macP, SrcIP: net.IPv4(198, 18, 1, 1), DstIP: net.IPv4(198, 18, 0, 1), SrcPort: 67, Payload: relayed.ToBytes()}.Bytes(), decide.ReasonPartnerDropped},
		{"to port 68", with(func(f *frames.Frame) { f.DstPort = 68 }), decide.ReasonNotDHCP},
		{"first fragment", with(func(f *frames.Frame) { f.FragOff = 0x2000 }), decide.ReasonFragment},
		{"later fragment", with(func(f *frames.Frame) { f.FragOff = 0x0010 }), decide.ReasonFragment},
		{"ARP", arp, decide.ReasonNotDHCP},
		{"IPv6", ipv6, decide.ReasonNotDHCP},
		{"ethernet only", good[:14], decide.ReasonNotDHCP},
		{"truncated IP header", good[:30], decide.ReasonNotDHCP},
		{"truncated UDP header", good[:38], decide.ReasonNotDHCP},
		{"UDP length beyond frame", good[:200], decide.ReasonMalformed},
		{"BOOTREPLY", with(func(f *frames.Frame) {
			r := msg(t, macP, 0)
			r.OpCode = dhcpv4.OpcodeBootReply
			f.Payload = r.ToBytes()
		}), decide.ReasonNotRequest},
	}
	for _, tc := range cases {
		checkFrame(t, p, cfg, tc.name, tc.frame, tc.want)
	}
	// UDP length shorter than the header, IP total length too short.
	bad := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(bad[14+20+4:], 4)
	checkFrame(t, p, cfg, "udp length 4", bad, decide.ReasonMalformed)
	bad = append([]byte(nil), good...)
	binary.BigEndian.PutUint16(bad[14+2:], 100)
	checkFrame(t, p, cfg, "ip total length short", bad, decide.ReasonMalformed)
}

// BOOTP and option edge cases: client id, hlen, truncation, drop-malformed.
func TestBOOTPEdgesInKernel(t *testing.T) {
	p := loadTest(t)
	cfg := setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Primary, Threshold: 6, Rule: decide.Normal})
	cid := dhcpv4.WithOption(dhcpv4.OptClientIdentifier(append([]byte{1}, macP...))) // bucket 238: secondary's
	withHlen := func(n uint8) []byte {
		b := msg(t, macP, 0).ToBytes()
		b[2] = n
		return frames.Frame{Src: macP, Payload: b}.Bytes()
	}
	raw := func(opts ...byte) []byte {
		b := msg(t, macP, 0).ToBytes()[:240]
		return frames.Frame{Src: macP, Payload: append(append([]byte(nil), b...), opts...)}.Bytes()
	}
	longCID := make([]byte, 255)
	for i := range longCID {
		longCID[i] = byte(i)
	}
	pads := make([]byte, decide.MaxOptionIter)
	cases := []struct {
		name  string
		frame []byte
		want  decide.Reason
	}{
		{"option 61 present", frames.Message(msg(t, macP, 0, cid)), decide.ReasonPartnerDropped},
		{"option 61 absent", frames.Message(msg(t, macP, 0)), decide.ReasonOwned},
		{"option 61 empty", raw(53, 1, 1, 61, 0, 255), decide.ReasonOwned},
		{"option 61 truncated", raw(53, 1, 1, 61, 7, 1, 0, 0), decide.ReasonMalformed},
		{"option 61 of 255 bytes", raw(append(append([]byte{53, 1, 1, 61, 255}, longCID...), 255)...), decide.Reason(0)},
		{"hlen 0", withHlen(0), decide.ReasonOwned}, // empty key: bucket 0, the primary's
		{"hlen 16", withHlen(16), decide.Reason(0)}, // computed below
		{"hlen 17", withHlen(17), decide.ReasonMalformed},
		{"no END", raw(53, 1, 1), decide.ReasonOwned},
		{"option length past end", raw(53, 1, 1, 12, 40, 'a'), decide.ReasonMalformed},
		{"option 53 length 2", raw(53, 2, 1, 1, 255), decide.ReasonMalformed},
		{"option 54 length 3", raw(53, 1, 3, 54, 3, 1, 2, 3, 255), decide.ReasonMalformed},
		{"option 50 length 5", raw(53, 1, 1, 50, 5, 1, 2, 3, 4, 5, 255), decide.ReasonMalformed},
		{"lone option code", raw(53, 1, 1, 12), decide.ReasonMalformed},
		{"PAD as the frame's last byte", raw(53, 1, 1, 0), decide.ReasonOwned},
		{"END as the frame's last byte", raw(53, 1, 1, 255), decide.ReasonOwned},
		// Ethernet padding past the UDP length: an option cut at the
		// UDP length is cut, whatever bytes follow in the frame.
		{"option cut at the UDP length, frame padded", append(raw(53, 1, 1, 12), 3, 'a', 'b', 'c', 255), decide.ReasonMalformed},
		{"END past the UDP length", append(raw(53, 1, 1), 255, 0, 0), decide.ReasonOwned},
		{"too many pads", raw(append(pads, 53, 1, 1, 255)...), decide.ReasonMalformed},
		{"bad cookie (plain BOOTP)", func() []byte {
			b := msg(t, macP, 0).ToBytes()
			b[236] = 0
			return frames.Frame{Src: macP, Payload: b}.Bytes()
		}(), decide.ReasonOwned},
		{"BOOTP header only", frames.Frame{Src: macP, Payload: msg(t, macP, 0).ToBytes()[:236]}.Bytes(), decide.ReasonOwned},
		{"BOOTP header short", frames.Frame{Src: macP, Payload: msg(t, macP, 0).ToBytes()[:235]}.Bytes(), decide.ReasonMalformed},
	}
	for _, tc := range cases {
		want := tc.want
		if want == 0 { // the twin's hash decides; the kernel must agree
			want = decide.DecideFrame(cfg, tc.frame).Reason
		}
		checkFrame(t, p, cfg, tc.name, tc.frame, want)
	}
	cfg = setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Primary, Threshold: 6, Rule: decide.Normal, ChaddrOnly: true})
	checkFrame(t, p, cfg, "chaddr-only ignores option 61", frames.Message(msg(t, macP, 0, cid)), decide.ReasonOwned)
	cfg = setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Primary, Threshold: 6, Rule: decide.Normal, DropMalformed: true})
	checkFrame(t, p, cfg, "drop-malformed", withHlen(17), decide.ReasonMalformedDropped)
	checkFrame(t, p, cfg, "drop-malformed, UDP length", frames.Message(msg(t, macP, 0))[:200], decide.ReasonMalformedDropped)
}

// macForBucket finds, for every bucket, a MAC that hashes to it.
func macsByBucket() [256]net.HardwareAddr {
	var out [256]net.HardwareAddr
	found := 0
	for i := 0; found < 256; i++ {
		mac := net.HardwareAddr{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		b := decide.Bucket(mac)
		if out[b] == nil {
			out[b] = mac
			found++
		}
	}
	return out
}

func TestAllBucketsBothRoles(t *testing.T) {
	p := loadTest(t)
	macs := macsByBucket()
	for _, hba := range []decide.HBA{decide.MustSplit(128), decide.KeaHBA()} {
		for _, role := range []decide.Role{decide.Primary, decide.Secondary} {
			cfg := setCfg(t, p, decide.Rule{HBA: hba, Role: role, Threshold: 6, Rule: decide.Normal})
			if err := p.ResetCounters(); err != nil {
				t.Fatal(err)
			}
			owned := 0
			for b, mac := range macs {
				want := decide.ReasonPartnerDropped
				if hba.Owner(uint8(b)) == role {
					want = decide.ReasonOwned
					owned++
				}
				checkFrame(t, p, cfg, mac.String(), frames.Discover(mac, 0), want)
			}
			bs, err := p.Buckets()
			if err != nil {
				t.Fatal(err)
			}
			for b, s := range bs {
				wantDropped := uint64(0)
				if hba.Owner(uint8(b)) != role {
					wantDropped = 1
				}
				if s.Seen != 1 || s.Dropped != wantDropped || s.Overridden != 0 {
					t.Errorf("bucket %d counters %+v, want seen 1 dropped %d", b, s, wantDropped)
				}
			}
			if owned != 128 {
				t.Errorf("%s owns %d buckets, want 128", role, owned)
			}
		}
	}
}

func TestRelayCounters(t *testing.T) {
	p := loadTest(t)
	cfg := setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: decide.Normal, RelayStats: true})
	for secs := uint16(0); secs < 10; secs++ {
		m := msg(t, macP, secs)
		m.GatewayIPAddr = net.IPv4(198, 18, 7, 1)
		want := decide.ReasonPartnerDropped
		if secs >= 6 {
			want = decide.ReasonSecsOverride
		}
		checkFrame(t, p, cfg, "relay", frames.Message(m), want)
	}
	rs, err := p.Relays()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("relays %+v, want one", rs)
	}
	r := rs[0]
	if r.Relay != netip.MustParseAddr("198.18.7.1") || r.Requests != 10 || r.PartnerDropped != 6 || r.PartnerOverridden != 4 || r.MaxOverrideSecs != 9 {
		t.Errorf("relay counters %+v", r)
	}
}

// Changing the config takes effect on the next packet, no reload.
func TestConfigSwitchIsImmediate(t *testing.T) {
	p := loadTest(t)
	f := frames.Discover(macP, 0)
	c := decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: decide.Normal}
	for i := 0; i < 4; i++ {
		cfg := setCfg(t, p, c)
		want := decide.ReasonPartnerDropped
		if i%2 == 1 {
			want = decide.ReasonStatePass
		}
		checkFrame(t, p, cfg, "switch", f, want)
		if c.Rule == decide.Normal {
			c.Rule = decide.PartnerDown
		} else {
			c.Rule = decide.Normal
		}
	}
	// An unconfigured program (all zero: STARTUP) passes everything.
	q := loadTest(t)
	if action, r := kernelVerdict(t, q, f); action != xdpPass || r != decide.ReasonStatePass {
		t.Errorf("unconfigured: action %d reason %s", action, r)
	}
}

// Test runs arrive on the loopback device: its counters move with the global ones.
func TestInterfaceCounters(t *testing.T) {
	p := loadTest(t)
	setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: decide.Normal})
	for secs := uint16(0); secs < 8; secs++ {
		kernelVerdict(t, p, frames.Discover(macP, secs))
	}
	per, err := p.InterfaceVerdicts()
	if err != nil {
		t.Fatal(err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	v := per[lo.Index]
	if len(per) != 1 || v[decide.ReasonPartnerDropped] != 6 || v[decide.ReasonSecsOverride] != 2 {
		t.Errorf("per-interface verdicts %v, want lo with 6 dropped and 2 overridden", per)
	}
}

// TestKeyLengthsInKernel hashes every length of key the program has a path
// for: chaddr of 0-16 bytes and option 61 of 1-16 bytes (inline walk) and
// longer (the bounded loop), in the plain layout (BOOTP at a constant offset)
// and behind VLAN tags and IPv4 options: exactly the Go bucket must count.
func TestKeyLengthsInKernel(t *testing.T) {
	p := loadTest(t)
	cfg := setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Primary, Threshold: 6, Rule: decide.Normal})
	key := func(n int, salt byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37) ^ salt
		}
		return b
	}
	type tc struct {
		name string
		m    *dhcpv4.DHCPv4
		key  []byte
	}
	var cases []tc
	for n := 0; n <= 16; n++ {
		m := msg(t, nil, 0)
		m.ClientHWAddr = key(n, 0x5a)
		cases = append(cases, tc{fmt.Sprintf("chaddr/%d", n), m, m.ClientHWAddr})
	}
	for _, n := range []int{1, 2, 6, 7, 15, 16, 17, 20, 64} {
		cid := key(n, 0xa5)
		m := msg(t, macP, 0, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(cid)))
		cases = append(cases, tc{fmt.Sprintf("option61/%d", n), m, cid})
	}
	for _, c := range cases {
		plain := frames.Frame{Src: macP, Payload: c.m.ToBytes()}.Bytes()
		tagged := frames.Frame{Src: macP, VLANs: []uint16{7}, IPOptions: []byte{1, 1, 1, 1}, Payload: c.m.ToBytes()}.Bytes()
		for layout, frame := range map[string][]byte{"plain": plain, "tagged": tagged} {
			if err := p.ResetCounters(); err != nil {
				t.Fatal(err)
			}
			want := decide.Bucket(c.key)
			reason := decide.ReasonPartnerDropped
			if cfg.HBA.Owner(want) == cfg.Role {
				reason = decide.ReasonOwned
			}
			checkFrame(t, p, cfg, c.name+"/"+layout, frame, reason)
			bs, err := p.Buckets()
			if err != nil {
				t.Fatal(err)
			}
			for b, s := range bs {
				if wantSeen := uint64(b2u(b == int(want))); s.Seen != wantSeen {
					t.Errorf("%s/%s: bucket %d seen %d, want %d (key hashes to %d)", c.name, layout, b, s.Seen, wantSeen, want)
				}
			}
		}
	}
}

func b2u(b bool) int {
	if b {
		return 1
	}
	return 0
}
