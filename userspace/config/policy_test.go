package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

func TestPolicyFile(t *testing.T) {
	c, err := Load("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.BOOTP || c.BOOTPLeaseTime != 0 || !c.PingCheck.Enabled || c.PingCheck.Wait() != 300*time.Millisecond {
		t.Fatalf("bootp %v %v, ping-check %+v", c.BOOTP, c.BOOTPLeaseTime, c.PingCheck)
	}
	d := c.DDNS
	if d == nil || d.Server != netip.MustParseAddrPort("198.18.0.53:53") || d.Zone != "lab.example." ||
		d.ReverseZone != "19.198.in-addr.arpa." || d.TSIGName != "xdhcp-key." || d.TSIGAlgorithmName() != "hmac-sha256." ||
		d.TSIGSecret != "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==" || d.TTL != DefaultDDNSTTL || d.Queue != DefaultDDNSQueue {
		t.Fatalf("ddns %+v", d)
	}
	s0, s1, s2 := c.Subnets[0], c.Subnets[1], c.Subnets[2]
	if s0.NextServer != netip.MustParseAddr("198.19.0.5") || s0.BootFile != "pxelinux.0" || s0.SharedNetwork != "floor1" {
		t.Fatalf("subnet boot fields %+v", s0.Boot)
	}
	if got := c.SharedWith(s1); len(got) != 2 || got[0] != s1 || got[1] != s0 {
		t.Fatalf("shared with the second subnet: %v", got)
	}
	if got := c.SharedWith(s2); len(got) != 1 {
		t.Fatalf("a subnet of no shared network shares with %v", got)
	}
	r := s0.Reservations
	if string(r[0].CircuitID) != "e-rc" || !reflect.DeepEqual(r[1].RemoteID, []byte{0x0a, 0x0b, 0x0c}) || r[1].BootFile != "special.0" {
		t.Fatalf("relay reservations %+v %+v", r[0], r[1])
	}
	uefi, port, ipxe := c.Classes[0], c.Classes[1], c.Classes[2]
	want := []Match{{Option: 93, Kind: MatchExact, Value: []byte{0, 7}}, {Option: 60, Kind: MatchPrefix, Value: []byte("PXEClient")}}
	if !reflect.DeepEqual(uefi.Match, want) || uefi.BootFile != "ipxe.efi" || uefi.LeaseTime != 10*time.Minute || len(uefi.Options) != 1 {
		t.Fatalf("uefi class %+v", uefi)
	}
	if m := port.Match[0]; m.Relay != RelayCircuitID || m.Kind != MatchPrefix || !reflect.DeepEqual(m.Value, []byte{0, 7}) {
		t.Fatalf("relay match %+v", m)
	}
	if m := ipxe.Match[0]; m.Option != 77 || m.Kind != MatchExact || string(m.Value) != "iPXE" {
		t.Fatalf("user class match %+v", m)
	}
	// The class's range is a pool of its own in the subnet holding it.
	var classPools []lease.Pool
	for _, p := range c.Pools() {
		if p.Class != "" {
			classPools = append(classPools, p)
		}
	}
	if len(classPools) != 1 || classPools[0].Class != "uefi-x64" || classPools[0].Subnet != s0.Prefix {
		t.Fatalf("class pools %+v", classPools)
	}
}

func TestPolicyErrorsNamePlaces(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"subnets:\n  - subnet: 198.19.0.0/24\n    ranges: [198.19.0.10-198.19.0.20]\n    reservations:\n      - {circuit-id: \"0xzz\", ip: 198.19.0.5}\n",
			`p.yaml:5:22: circuit-id "0xzz": bad hex after 0x`},
		{"subnets:\n  - subnet: 198.19.0.0/24\n    ranges: [198.19.0.10-198.19.0.20]\n    reservations:\n      - {circuit-id: a, ip: 198.19.0.5}\n      - {circuit-id: a, ip: 198.19.0.6}\n",
			`p.yaml:6:1: circuit-id "a" already has a reservation on line 5`},
		{"classes:\n  - name: x\n    match: {option: 82, exact: a}\n", `p.yaml:3:21: match option 82: match its sub-options with relay:`},
		{"classes:\n  - name: x\n    match: {option: 60}\n", `p.yaml:3:12: match: give one of exact, prefix, hex`},
		{"classes:\n  - name: x\n    match: {option: 60, exact: a, prefix: b}\n", `p.yaml:3:43: match: give one of exact, prefix, hex`},
		{"classes:\n  - name: x\n    match: {relay: {port: a}}\n", `p.yaml:3:21: relay match: unknown key "port"`},
		{"classes:\n  - name: x\n    match: {option: 60, exact: a}\n  - name: x\n    match: {option: 60, exact: b}\n", `p.yaml:4:1: class "x": name already used on line 2`},
		{"subnets:\n  - subnet: 198.19.0.0/24\n    ranges: [198.19.0.10-198.19.0.20]\nclasses:\n  - name: x\n    match: {option: 60, exact: a}\n    ranges: [198.19.0.15-198.19.0.30]\n",
			`p.yaml:5:1: class "x": range 198.19.0.15-198.19.0.30 overlaps range 198.19.0.10-198.19.0.20`},
		{"classes:\n  - name: x\n    match: {option: 60, exact: a}\n    ranges: [198.20.0.1-198.20.0.9]\n", `class "x": range 198.20.0.1-198.20.0.9 is not inside one configured subnet`},
		{"ping-check: {timeout: 20s}\n", `p.yaml:1:1: ping-check: timeout 20s: want 0 < timeout <= 10s`},
		{"ping-check: {timeut: 2s}\n", `p.yaml:1:14: ping-check: unknown key "timeut"`},
		{"ddns: {server: 198.18.0.53}\n", `p.yaml:1:7: ddns needs server: and zone:`},
		{"ddns: {server: dns.lab, zone: a.b}\n", `p.yaml:1:16: ddns server "dns.lab": want an IPv4 address`},
		{"ddns: {server: 198.18.0.53, zone: a.b, tsig-name: k, tsig-secret-file: /nonexistent/key}\n", `p.yaml:1:72: tsig-secret-file: open /nonexistent/key`},
		{"ddns: {server: 198.18.0.53, zone: a.b, tsig-secret-file: /dev/zero}\n", `/dev/zero: not a regular file`},
		{"ddns: {server: 198.18.0.53, zone: a.b, tsig-algorithm: md4}\n", `p.yaml:1:1: ddns: tsig-algorithm "md4"`},
		{"ddns: {server: 198.18.0.53, zone: a.b, reverse-zone: c.d}\n", `p.yaml:1:1: ddns: reverse-zone "c.d."`},
		{"subnets:\n  - subnet: 198.19.0.0/24\n    ranges: [198.19.0.10-198.19.0.20]\n    boot-file: " + strings.Repeat("f", 256) + "\n",
			`p.yaml:2:1: subnet 198.19.0.0/24: boot-file of 256 bytes, at most 255`},
		{"bootp: maybe\n", `p.yaml:1:8: "maybe": want true or false`},
	} {
		_, err := Parse("p.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.yaml, err, tc.want)
		}
	}
}
