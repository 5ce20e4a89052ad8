package decide

import (
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Vectors from ../shared/reference/failover.md section 6.
var hashVectors = []struct {
	key        string
	bucket     uint8
	byteIdx    int
	mask       byte
	split128   Role
	keaOwner   Role
	skipOwners bool
}{
	{"00:00:01:02:03:05", 45, 5, 0x20, Primary, Secondary, false},
	{"00:0c:29:67:42:7a", 39, 4, 0x80, Primary, Secondary, false},
	{"11:22:33:44:55:66", 66, 8, 0x04, Primary, Primary, false},
	{"00:00:00:00:00:00", 254, 31, 0x40, Secondary, Primary, false},
	{"ff:ff:ff:ff:ff:ff", 79, 9, 0x80, Primary, Secondary, false},
	{"01:02:03:04:05:06", 179, 22, 0x08, Secondary, Secondary, false},
	{"00:11:22:33:44:55", 135, 16, 0x80, Secondary, Secondary, false},
	{"52:54:00:12:34:56", 156, 19, 0x10, Secondary, Primary, false},
	{"de:ad:be:ef:00:01", 118, 14, 0x40, Primary, Primary, false},
	{"aa:bb:cc:dd:ee:ff", 57, 7, 0x02, Primary, Secondary, false},
	{"0e", 232, 29, 0x01, Secondary, Primary, false},
	{"01:00:0c:29:67:42:7a", 14, 1, 0x40, Primary, Primary, false},
	{"01:00:00:01:02:03:05", 238, 29, 0x40, Secondary, Primary, false},
	{"", 0, 0, 0x01, Primary, 0, true},
}

func hexKey(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBucketVectors(t *testing.T) {
	split, kea := MustSplit(128), KeaHBA()
	for _, v := range hashVectors {
		b := Bucket(hexKey(t, v.key))
		if b != v.bucket {
			t.Errorf("Bucket(%s) = %d, want %d", v.key, b, v.bucket)
		}
		if int(b>>3) != v.byteIdx || byte(1<<(b&7)) != v.mask {
			t.Errorf("%s: HBA byte %d mask %#x, want %d %#x", v.key, b>>3, 1<<(b&7), v.byteIdx, v.mask)
		}
		if got := split.Owner(b); got != v.split128 {
			t.Errorf("%s: split 128 owner %s, want %s", v.key, got, v.split128)
		}
		if !v.skipOwners {
			if got := kea.Owner(b); got != v.keaOwner {
				t.Errorf("%s: Kea owner %s, want %s", v.key, got, v.keaOwner)
			}
		}
	}
	for s, want := range map[string]uint8{"abc": 170, "abcdef012345": 93} {
		if got := Bucket([]byte(s)); got != want {
			t.Errorf("Bucket(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestSplitAndHBA(t *testing.T) {
	h := MustSplit(128)
	if h.String() != strings.Repeat("ff", 16)+strings.Repeat("00", 16) {
		t.Errorf("split 128 = %s", h)
	}
	if h.Count(Primary) != 128 || h.Count(Secondary) != 128 {
		t.Errorf("split 128 counts %d/%d", h.Count(Primary), h.Count(Secondary))
	}
	if s0 := MustSplit(0); s0.Count(Secondary) != 256 {
		t.Error("split 0 gives the primary buckets")
	}
	if s256 := MustSplit(256); s256.Count(Primary) != 256 {
		t.Error("split 256 leaves the primary buckets out")
	}
	if _, err := Split(257); err == nil {
		t.Error("split 257 accepted")
	}
	k, err := ParseHBA(strings.Repeat("55", 32))
	if err != nil || k != KeaHBA() {
		t.Errorf("ParseHBA(55 x32) = %s, %v", k, err)
	}
	for _, bad := range []string{"zz", "ff", strings.Repeat("ff", 33)} {
		if _, err := ParseHBA(bad); err == nil {
			t.Errorf("ParseHBA(%q) accepted", bad)
		}
	}
}

func discover(t *testing.T, mac string, secs uint16, mods ...dhcpv4.Modifier) []byte {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dhcpv4.NewDiscovery(hw, mods...)
	if err != nil {
		t.Fatal(err)
	}
	m.NumSeconds = secs
	return m.ToBytes()
}

// The secs vectors of the reference: ISC max seconds 5 (T=6), every bucket the primary's.
func TestSecsVectors(t *testing.T) {
	c := Rule{HBA: MustSplit(256), Threshold: 6, Rule: Normal}
	for _, role := range []Role{Primary, Secondary} {
		c.Role = role
		for _, v := range []struct {
			wire   uint16
			swap   bool
			answer bool
		}{
			{0x0000, false, true}, {0x0002, false, true}, {0x0005, false, true},
			{0x0006, false, true}, {0x0101, false, true},
		} {
			c.SwapSecs = v.swap
			got := DecidePayload(&c, discover(t, "00:00:01:02:03:05", v.wire))
			// the primary owns everything; the secondary answers only from secs >= T
			want := role == Primary || v.wire >= 6
			if got.Drop == want {
				t.Errorf("%s secs %#04x: verdict %+v, want answer=%v", role, v.wire, got, want)
			}
		}
	}
	c.Role = Secondary
	for _, v := range []struct {
		wire   uint16
		swap   bool
		reason Reason
	}{
		{0x0100, true, ReasonPartnerDropped}, // read as 1
		{0x0600, true, ReasonSecsOverride},   // read as 6
		{0x0100, false, ReasonSecsOverride},  // 256 without the quirk
		{0x0101, true, ReasonSecsOverride},   // low byte set: not swapped
		{5, false, ReasonPartnerDropped},     // T-1
		{6, false, ReasonSecsOverride},       // T
		{0, false, ReasonPartnerDropped},
		{65535, false, ReasonSecsOverride},
	} {
		c.SwapSecs = v.swap
		if got := DecidePayload(&c, discover(t, "00:00:01:02:03:05", v.wire)); got.Reason != v.reason {
			t.Errorf("secs %#04x swap %v: %s, want %s", v.wire, v.swap, got.Reason, v.reason)
		}
	}
	c.Threshold = 0
	if got := DecidePayload(&c, discover(t, "00:00:01:02:03:05", 0)); got.Reason != ReasonLBOff {
		t.Errorf("threshold 0: %s, want lb-off", got.Reason)
	}
}

func TestMessageRules(t *testing.T) {
	mine, other := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	// 00:00:01:02:03:05 is bucket 45: the primary's under split 128.
	mac := "00:00:01:02:03:05"
	withType := func(mt dhcpv4.MessageType) dhcpv4.Modifier { return dhcpv4.WithMessageType(mt) }
	withSID := func(a netip.Addr) dhcpv4.Modifier {
		return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(a.AsSlice()))
	}
	withCiaddr := func(m *dhcpv4.DHCPv4) { m.ClientIPAddr = net.IPv4(198, 18, 0, 50) }
	cases := []struct {
		name   string
		role   Role
		mods   []dhcpv4.Modifier
		reason Reason
	}{
		{"discover owner", Primary, nil, ReasonOwned},
		{"discover partner", Secondary, nil, ReasonPartnerDropped},
		{"inform partner", Secondary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeInform)}, ReasonPartnerDropped},
		{"init-reboot partner", Secondary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeRequest)}, ReasonPartnerDropped},
		{"init-reboot owner", Primary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeRequest)}, ReasonOwned},
		{"selecting mine", Secondary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeRequest), withSID(mine)}, ReasonServerIDMine},
		{"selecting other", Primary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeRequest), withSID(other)}, ReasonOtherServerDropped},
		{"release other", Primary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeRelease), withSID(other)}, ReasonOtherServerDropped},
		{"decline mine", Secondary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeDecline), withSID(mine)}, ReasonServerIDMine},
		{"release without id", Secondary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeRelease)}, ReasonPartnerDropped},
		{"renewing", Secondary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeRequest), withCiaddr}, ReasonRenewRebind},
		{"rebinding with id", Secondary, []dhcpv4.Modifier{withType(dhcpv4.MessageTypeRequest), withCiaddr, withSID(other)}, ReasonRenewRebind},
		{"lease query", Secondary, []dhcpv4.Modifier{withType(dhcpv4.MessageType(10))}, ReasonOtherMessage},
		{"overload", Secondary, []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionOptionOverload, []byte{1}))}, ReasonOverload},
	}
	for _, tc := range cases {
		c := Rule{HBA: MustSplit(128), Role: tc.role, Threshold: 6, Rule: Normal, ServerIDs: []netip.Addr{mine}}
		got := DecidePayload(&c, discover(t, mac, 0, tc.mods...))
		if got.Reason != tc.reason || got.Drop != tc.reason.Drops() {
			t.Errorf("%s: %+v, want %s", tc.name, got, tc.reason)
		}
		c.Rule = PartnerDown
		if got := DecidePayload(&c, discover(t, mac, 0, tc.mods...)); got.Reason != ReasonStatePass {
			t.Errorf("%s in partner-down: %s, want state-pass", tc.name, got.Reason)
		}
	}
	// No server identifiers configured: a SELECTING REQUEST is hash-gated.
	c := Rule{HBA: MustSplit(128), Role: Secondary, Threshold: 6, Rule: Normal}
	got := DecidePayload(&c, discover(t, mac, 0, withType(dhcpv4.MessageTypeRequest), withSID(other)))
	if got.Reason != ReasonPartnerDropped {
		t.Errorf("selecting without own ids: %s, want partner-dropped", got.Reason)
	}
}

func TestClientIDKey(t *testing.T) {
	// 00:0c:29:67:42:7a alone is bucket 39 (primary); with option 61 01+mac it is 14 (primary);
	// 00:00:01:02:03:05 with option 61 is 238 (secondary).
	mac, _ := net.ParseMAC("00:00:01:02:03:05")
	cid := dhcpv4.WithOption(dhcpv4.OptClientIdentifier(append([]byte{1}, mac...)))
	c := Rule{HBA: MustSplit(128), Role: Primary, Threshold: 6, Rule: Normal}
	if v := DecidePayload(&c, discover(t, mac.String(), 0, cid)); v.Bucket != 238 || v.Reason != ReasonPartnerDropped {
		t.Errorf("option 61: %+v, want bucket 238 dropped", v)
	}
	c.ChaddrOnly = true
	if v := DecidePayload(&c, discover(t, mac.String(), 0, cid)); v.Bucket != 45 || v.Reason != ReasonOwned {
		t.Errorf("chaddr-only: %+v, want bucket 45 owned", v)
	}
	c.ChaddrOnly = false
	empty := dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientIdentifier, nil))
	if v := DecidePayload(&c, discover(t, mac.String(), 0, empty)); v.Bucket != 45 {
		t.Errorf("empty option 61: bucket %d, want chaddr's 45", v.Bucket)
	}
}

func TestMalformed(t *testing.T) {
	c := Rule{HBA: MustSplit(128), Role: Secondary, Threshold: 6, Rule: Normal}
	good := discover(t, "00:00:01:02:03:05", 0)
	hlen17 := append([]byte(nil), good...)
	hlen17[2] = 17
	trunc := append([]byte(nil), good[:245]...) // cuts option 53 short
	badLen := append(append([]byte(nil), good[:240]...), 53, 2, 1, 255)
	for name, p := range map[string][]byte{"short": good[:100], "hlen 17": hlen17, "truncated option": trunc, "option 53 length": badLen} {
		if v := DecidePayload(&c, p); v.Reason != ReasonMalformed || v.Drop {
			t.Errorf("%s: %+v, want malformed pass", name, v)
		}
	}
	c.DropMalformed = true
	if v := DecidePayload(&c, hlen17); v.Reason != ReasonMalformedDropped || !v.Drop {
		t.Errorf("drop-malformed: %+v", v)
	}
	// hlen 0: empty key, bucket 0 (primary's).
	hlen0 := append([]byte(nil), good...)
	hlen0[2] = 0
	if v := DecidePayload(&c, hlen0); v.Bucket != 0 || v.Reason != ReasonPartnerDropped {
		t.Errorf("hlen 0: %+v, want bucket 0", v)
	}
}
