package config

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// roundTrip encodes c, parses the result and checks nothing changed.
func roundTrip(t *testing.T, c *Config, o EncodeOptions) string {
	t.Helper()
	out, err := Encode(c, o)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("encoded.yaml", out)
	if err != nil {
		t.Fatalf("encoded configuration does not parse: %v\n%s", err, out)
	}
	if !Same(c, back) {
		t.Fatalf("round trip changed the configuration\nwant %+v\ngot  %+v\nyaml:\n%s", *c, *back, out)
	}
	return string(out)
}

func TestEncodeRoundTripGoodFile(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, EncodeOptions{})
	// The forms a migration asks for read back to the same bytes.
	forms := map[uint8]string{42: "ip", 26: "u16"}
	out := roundTrip(t, c, EncodeOptions{OptionForm: func(o Option) string { return forms[o.Code] }})
	for _, want := range []string{"{code: 42, ip: 198.18.0.123}", "{code: 26, u16: 1400}", "lease-time: 10m", "pool-reserve: 5%"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestEncodeRoundTripEveryForm(t *testing.T) {
	c := Default()
	c.DB = "/tmp/x.db"
	c.Interfaces = []string{"eth0", "eth1"}
	c.ServerID = netip.MustParseAddr("198.18.0.1")
	c.Authoritative = false
	c.LeaseTime = 12 * time.Hour
	c.OfferHold = 1500 * time.Millisecond
	c.XDP = "off"
	c.Limits.ClientRate = 0.25
	c.Limits.PoolReserve = lease.Reserve{Addresses: 7}
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	s := &Subnet{
		Prefix: netip.MustParsePrefix("198.18.0.0/24"), Interface: "eth0",
		Ranges:  []lease.Range{{Start: netip.MustParseAddr("198.18.0.10"), End: netip.MustParseAddr("198.18.0.20")}},
		Routers: []netip.Addr{netip.MustParseAddr("198.18.0.1")}, DNS: []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")},
		Domain: "a b: c", LeaseTime: 90 * time.Second, T1: 30 * time.Second, T2: time.Minute,
		Options: []Option{
			{Code: 28, Value: []byte{198, 18, 0, 255}},
			{Code: 44, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			{Code: 66, Value: []byte("tftp: server #1")},
			{Code: 67, Value: []byte{0, 'x'}}, // not text: hex
			{Code: 23, Value: []byte{64}},
			{Code: 2, Value: []byte{0xff, 0xff, 0xf1, 0xf0}},
			{Code: 119, Value: []byte{3, 'l', 'a', 'b', 0}},
		},
		Reservations: []*Reservation{
			{HWAddr: mac, IP: netip.MustParseAddr("198.18.0.5"), Hostname: "true"},
			{ClientID: lease.ClientID{1, 2, 3}, IP: netip.MustParseAddr("198.18.0.6")},
		},
	}
	c.Subnets = []*Subnet{s}
	forms := map[uint8]string{28: "ip", 44: "ip", 66: "text", 67: "text", 23: "u8", 2: "u32"}
	out := roundTrip(t, c, EncodeOptions{
		Header:     "imported\nfrom somewhere",
		Comments:   map[any]string{s: "dhcpd.conf:3", s.Reservations[0]: "host a, dhcpd.conf:9"},
		OptionForm: func(o Option) string { return forms[o.Code] },
	})
	for _, want := range []string{"# imported\n# from somewhere\n", "# dhcpd.conf:3", "# host a, dhcpd.conf:9", "ip: [1.2.3.4, 5.6.7.8]", `hex: "0078"`, "offer-hold: 1.5s"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestEncodeRefusesWhatTheFileCannotSay(t *testing.T) {
	c := Default()
	c.Limits.PoolReserve = lease.Reserve{Addresses: 3, Percent: 5}
	c.Subnets = []*Subnet{{Prefix: netip.MustParsePrefix("198.18.0.0/24")}}
	if _, err := Encode(c, EncodeOptions{}); err == nil || !strings.Contains(err.Error(), "pool-reserve") {
		t.Fatalf("err %v", err)
	}
}

// Same sees every field but the positions: a changed option byte, a
// reservation's hostname or a limit is a difference, a line is not.
func TestSame(t *testing.T) {
	load := func() *Config {
		c, err := Load("testdata/good.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := load(), load()
	b.Subnets[0].Line, b.Subnets[0].Reservations[0].Line, b.Limits.Line = 99, 98, 97
	if !Same(a, b) {
		t.Fatal("lines alone made a difference")
	}
	for _, change := range []func(*Config){
		func(c *Config) { c.Subnets[0].Options[0].Value[0]++ },
		func(c *Config) { c.Subnets[0].Reservations[0].Hostname = "x" },
		func(c *Config) { c.Limits.ClientRate = 1 },
		func(c *Config) { c.Subnets[1].Ranges = c.Subnets[1].Ranges[:1] },
		func(c *Config) { c.ServerID = netip.Addr{} },
	} {
		b := load()
		change(b)
		if Same(a, b) {
			t.Fatalf("a change went unseen: %+v", b)
		}
	}
}

// The policy settings (shared networks, boot fields, relay reservations,
// classes, BOOTP, ping check, DDNS) survive the round trip too.
func TestEncodeRoundTripPolicy(t *testing.T) {
	c, err := Load("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Classes[0].Match = append(c.Classes[0].Match, Match{Relay: RelayRemoteID, Kind: MatchExact, Value: []byte("0x not hex")})
	c.Subnets[0].Reservations[0].CircuitID = []byte{0, 7}
	c.PingCheck.Timeout = 0
	out := roundTrip(t, c, EncodeOptions{})
	for _, want := range []string{"shared-network: floor1", "next-server: 198.19.0.5", "circuit-id: \"0x0007\"", "remote-id: \"0x0a0b0c\"",
		"{option: 60, prefix: PXEClient}", "{relay: {remote-id: {exact: 0x3078206e6f7420686578}}}", "bootp: true", "ping-check: {enabled: true}", "tsig-secret-file: testdata/tsig.key"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

// A name from a source file may hold control characters (found by the
// ISC importer's fuzz target): the value is escaped in a double-quoted
// scalar, the comment in Go escapes, and the file reads back the same.
func TestEncodeControlCharacters(t *testing.T) {
	c := Default()
	s := &Subnet{Prefix: netip.MustParsePrefix("198.18.0.0/24"), SharedNetwork: "a\x05b", Domain: "x\ty",
		Ranges: []lease.Range{{Start: netip.MustParseAddr("198.18.0.10"), End: netip.MustParseAddr("198.18.0.20")}}}
	c.Subnets = []*Subnet{s}
	out := roundTrip(t, c, EncodeOptions{Header: "from \x1b[2J", Comments: map[any]string{s: "shared-network a\x05b\xdf"}})
	for _, want := range []string{`"a\x05b"`, `# shared-network a\x05b\xdf`, `# from \x1b[2J`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
