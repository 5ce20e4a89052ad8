package config

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestGoodFile(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Subnets) != 2 || c.LeaseTime != 2*time.Hour || c.DeclineProbation != 30*time.Minute || !c.Authoritative {
		t.Fatalf("parsed %+v", c)
	}
	s := c.SubnetFor(netip.MustParseAddr("198.18.5.1"))
	if s == nil || len(s.Ranges) != 2 || s.LeaseTime != 600*time.Second || s.Routers[0] != netip.MustParseAddr("198.18.5.1") {
		t.Fatalf("second subnet: %+v", s)
	}
	lt, t1, t2 := c.Timers(s)
	if lt != 10*time.Minute || t1 != 5*time.Minute || t2 != 525*time.Second {
		t.Fatalf("timers %v %v %v", lt, t1, t2)
	}
	first := c.Subnets[0]
	if len(first.Options) != 2 || first.Options[1].Code != 26 || string(first.Options[1].Value) != "\x05\x78" {
		t.Fatalf("options %+v", first.Options)
	}
	if len(first.Reservations) != 2 || first.Reservations[0].Hostname != "printer" || first.Reservations[1].ClientID.String() != "01020000000008" {
		t.Fatalf("reservations %+v", first.Reservations[0])
	}
	pools := c.Pools()
	if !pools[0].Excluded[netip.MustParseAddr("198.18.0.150")] {
		t.Fatal("reserved address in the range is not excluded from the pool")
	}
}

func TestBadFileNamesEveryErrorWithItsLine(t *testing.T) {
	_, err := Load("testdata/bad.yaml")
	if err == nil {
		t.Fatal("bad.yaml accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		`bad.yaml:2:13: duration "forever"`,
		`bad.yaml:3:6: xdp "turbo"`,
		`bad.yaml:4:1: configuration: unknown key "colour"`,
		`bad.yaml:6:13: subnet "198.18.0.0/33": not an IPv4 prefix`,
		`bad.yaml:7:14: range "198.18.0.100-198.18.0.50": end before start`,
		`bad.yaml:10:27: "nonsense": not an IPv4 address`,
		`bad.yaml:12:16: option 54 (server id) is set by the server`,
		`bad.yaml:13:16: option code "300"`,
		`bad.yaml:14:9: option without a value`,
		`bad.yaml:16:15: mac "zz:00"`,
		`bad.yaml:17:9: reservation needs mac:, client-id:, circuit-id: or remote-id:`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

func TestValidateRelations(t *testing.T) {
	data, err := os.ReadFile("testdata/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Only the relational errors: fix the syntax ones first.
	fixed := strings.NewReplacer("forever", "1h", "turbo", "off", "colour: blue\n", "", "/33", "/24",
		"198.18.0.100-198.18.0.50", "198.18.0.50-198.18.0.100", ", nonsense", "", "      - {code: 54, ip: 198.18.1.1}\n", "",
		"      - {code: 300, text: x}\n", "", "      - {code: 15}\n", "", "    options:\n", "", `"zz:00"`, `"02:00:00:00:00:07"`,
		"      - {ip: 198.18.1.8}\n", "").Replace(string(data))
	_, err = Parse("fixed.yaml", []byte(fixed))
	if err == nil {
		t.Fatalf("accepted:\n%s", fixed)
	}
	for _, want := range []string{
		"range 198.18.2.10-198.18.2.20 is outside the subnet",
		"reservation 198.18.9.9 is outside subnet 198.18.1.0/24",
		"subnet 198.18.1.128/25 overlaps subnet 198.18.1.0/24",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "fixed.yaml:") {
			t.Errorf("error without a location: %q", line)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Parse("x.yaml", []byte("subnets:\n  - subnet: [\n"))
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Fatalf("got %v", err)
	}
}
