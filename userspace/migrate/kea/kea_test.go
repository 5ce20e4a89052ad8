package kea

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
	"github.com/xdhcp/xdhcp/userspace/migrate/migratetest"
)

func importConf(t *testing.T) (*migrate.Result, string) {
	t.Helper()
	file := filepath.Join("testdata", "kea-dhcp4.conf")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := migrate.NewResult()
	if err := ImportConf(file, src, r); err != nil {
		t.Fatal(err)
	}
	return r, file
}

func TestConfCarriedOver(t *testing.T) {
	r, _ := importConf(t)
	c := r.Config
	if c.LeaseTime != time.Hour || !c.Authoritative || c.DeclineProbation != 10*time.Minute || fmt.Sprint(c.Interfaces) != "[eth0 eth1]" || len(c.Subnets) != 3 {
		t.Fatalf("global: %+v", c)
	}
	s0 := migratetest.Subnet(t, c, "198.18.0.0/24")
	opts := map[uint8]string{}
	for _, o := range s0.Options {
		opts[o.Code] = fmt.Sprintf("%x", o.Value)
	}
	if s0.Interface != "eth0" || fmt.Sprint(s0.Ranges) != "[198.18.0.100-198.18.0.149]" || s0.BootFile != "pxelinux.0" || s0.NextServer != netip.MustParseAddr("198.18.0.4") ||
		fmt.Sprint(s0.Routers) != "[198.18.0.1]" || fmt.Sprint(s0.DNS) != "[198.18.0.53 198.18.0.54]" || s0.Domain != "lab.example" ||
		s0.T1 != 15*time.Minute || s0.T2 != 30*time.Minute || s0.LeaseTime != 0 {
		t.Fatalf("198.18.0.0/24: %+v", s0)
	}
	want := fmt.Sprint(map[uint8]string{26: "0578", 42: "c612007b", 43: "0104c6120005", 224: fmt.Sprintf("%x", "hello, world")})
	if fmt.Sprint(opts) != want {
		t.Fatalf("options %v, want %v", opts, want)
	}
	if len(s0.Reservations) != 3 || s0.Reservations[0].HWAddr.String() != "02:00:00:00:aa:01" || s0.Reservations[0].Hostname != "printer" ||
		s0.Reservations[1].ClientID.String() != "0102000000aa02" || string(s0.Reservations[2].CircuitID) != "eth0-7" || s0.Reservations[2].BootFile != "special.0" {
		t.Fatalf("reservations %+v", s0.Reservations)
	}
	if len(c.Classes) != 2 {
		t.Fatalf("classes %+v", c.Classes)
	}
	phones, uefi := c.Classes[0], c.Classes[1]
	if fmt.Sprint(phones.Match) != `[option 60 prefix "Aastra"]` || fmt.Sprint(phones.Ranges) != "[198.18.0.150-198.18.0.199]" {
		t.Fatalf("phones %+v", phones)
	}
	if fmt.Sprint(uefi.Match) != `[option 93 exact "\x00\a" option 60 exact "PXEClient"]` || uefi.BootFile != "ipxe.efi" ||
		uefi.NextServer != netip.MustParseAddr("198.18.0.69") || len(uefi.Options) != 1 || uefi.Options[0].Code != 66 {
		t.Fatalf("uefi %+v", uefi)
	}
	s1 := migratetest.Subnet(t, c, "198.18.1.0/24")
	if fmt.Sprint(s1.Ranges) != "[198.18.1.0-198.18.1.63]" || s1.LeaseTime != 30*time.Minute || s1.T1 != 10*time.Minute ||
		s1.Domain != "floor1.lab.example" || len(s1.Reservations) != 1 || s1.Reservations[0].Hostname != "laptop" || s1.SharedNetwork != "floor1" {
		t.Fatalf("198.18.1.0/24: %+v", s1)
	}
	s2 := migratetest.Subnet(t, c, "198.18.2.0/24")
	if fmt.Sprint(s2.Routers) != "[]" || s2.T1 != 15*time.Minute || s2.Domain != "floor1.lab.example" {
		t.Fatalf("198.18.2.0/24: %+v", s2)
	}
	flags := strings.Join(r.Pair.Flags(), " ")
	if flags != "--role secondary --hba "+strings.Repeat("55", 32)+" --threshold 65535 --peer 198.18.0.2:647 --listen-peer 198.18.0.3:647 --receive-timeout 30s --secret-file FILE" {
		t.Fatalf("pair flags %s", flags)
	}
	out, err := config.Encode(c, config.EncodeOptions{Comments: r.Comments, OptionForm: func(o config.Option) string { return migrate.Form(o.Code) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse("imported.yaml", out); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestConfSkippedWithTheirLines(t *testing.T) {
	r, file := importConf(t)
	got := map[int][]string{}
	for _, s := range r.Skipped {
		got[s.Pos.Line] = append(got[s.Pos.Line], s.String())
	}
	for _, w := range []struct{ marker, why string }{
		{`"pxe-thing"`, "pxe space"},
		{`"name": "laptops"`, "the class is not carried over"},
		{"libdhcp_lease_cmds", "control API"},
		{`"max-ack-delay"`, "--receive-timeout"},
		{`"max-unacked-clients"`, "--receive-timeout"},
		{`"server3"`, "backup servers"},
		{`"always-send"`, "always-send"},
		{`"subnet": "198.18.9.0/24"`, "nothing to hand out"},
		{`"relay": { "ip-addresses"`, "relay 198.51.100.1"},
		{"198.18.2.254", "pool's addresses only"},
		{`"loggers"`, "stderr"},
	} {
		l := migratetest.LineOf(t, file, w.marker)
		found := -1
		for i, s := range got[l] {
			if strings.Contains(s, w.why) {
				found = i
			}
		}
		if found < 0 {
			t.Errorf("line %d (%s): got %q, want %q", l, w.marker, got[l], w.why)
			continue
		}
		got[l] = append(got[l][:found], got[l][found+1:]...)
	}
	for l, ss := range got {
		for _, s := range ss {
			t.Errorf("unexpected skip at line %d: %s", l, s)
		}
	}
}

func TestLeasesCSV(t *testing.T) {
	r, _ := importConf(t)
	file := filepath.Join("testdata", "kea-leases4.csv")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 10, 8, 0, 0, time.UTC)
	if err := ImportLeases(file, src, now, r); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"198.18.0.100": "bound 01020000000064 02:00:00:00:00:64 renewed 10:10 01-02 11:10", // the later row
		"198.18.0.101": "bound 01020000000065 02:00:00:00:00:65  10:00 01-02 11:00",        // no client id: htype 1 + hwaddr
		"198.18.0.103": "declined    10:00 01-02 10:10",
		"198.18.0.104": "released 01020000000068 02:00:00:00:00:68  09:03 01-02 09:03", // expired-reclaimed
		"198.18.0.105": "bound 01020000000069 02:00:00:00:00:69 a,b 10:00 01-02 11:00",
		"198.18.0.107": "bound 0102000000006b 02:00:00:00:00:6b  10:00 02-07 06:28", // infinite (198.18.0.102 was deleted by a valid_lifetime 0 row)
	}
	migratetest.SameLeases(t, r, want)
	for _, l := range r.Leases {
		switch l.IP.String() {
		case "198.18.0.100":
			if l.DNSName != "renewed" {
				t.Errorf("198.18.0.100: DNS name %q (fqdn_fwd set)", l.DNSName)
			}
		case "198.18.0.105":
			if fmt.Sprintf("%x", l.RelayInfo) != "0104" || l.DNSName != "" {
				t.Errorf("198.18.0.105: relay info %x, DNS name %q", l.RelayInfo, l.DNSName)
			}
		}
	}
	skips := map[int]string{}
	for _, s := range r.Skipped {
		if s.Pos.File == file {
			skips[s.Pos.Line] += s.String()
		}
	}
	for _, w := range []struct{ marker, why string }{
		{"198.18.0.106,", "neither hwaddr nor client_id"},
		{"10.9.9.9", "in no imported subnet"},
		{"address,hwaddr", "user context stored with leases (other than the relay agent information) is not carried over (1 rows)"},
	} {
		if l := migratetest.LineOf(t, file, w.marker); !strings.Contains(skips[l], w.why) {
			t.Errorf("line %d: got %q, want %q", l, skips[l], w.why)
		}
	}

	// Exported in Kea's columns and read back: the same leases.
	var b bytes.Buffer
	n, err := WriteCSV(&b, r.Leases, func(netip.Addr) uint32 { return 1 })
	if err != nil || n != len(r.Leases) {
		t.Fatalf("wrote %d of %d: %v", n, len(r.Leases), err)
	}
	if !strings.HasPrefix(b.String(), strings.Join(Columns, ",")+"\n") || !strings.Contains(b.String(), "a&#x2cb") {
		t.Fatalf("csv:\n%s", b.String())
	}
	back := migrate.NewResult()
	back.Config = r.Config
	if err := ImportLeases("export.csv", b.Bytes(), now, back); err != nil {
		t.Fatal(err)
	}
	if len(back.Leases) != len(r.Leases) {
		t.Fatalf("read back %d leases of %d:\n%s", len(back.Leases), len(r.Leases), b.String())
	}
	for i, l := range back.Leases {
		o := r.Leases[i]
		if l.IP != o.IP || l.State != o.State || l.Client.String() != o.Client.String() || l.Hostname != o.Hostname || !l.Expiry.Equal(o.Expiry) ||
			(o.State == lease.Bound && !l.Start.Equal(o.Start)) || string(l.RelayInfo) != string(o.RelayInfo) || l.DNSName != o.DNSName {
			t.Errorf("round trip changed %v:\n%+v\n%+v", o.IP, o, l)
		}
	}
}

func TestBadInputNamesTheLine(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{\n \"Dhcp4\": {\n  \"subnet4\": [ }\n}", "x.conf:3:"},
		{"{ \"Dhcp4\": { /* open\n", "x.conf:1: a /* comment is never closed"},
		{"{\n<?include \"other.json\"?>\n}", "x.conf:2: <?include?>"},
		{"{ \"Dhcp4\": {}, \"Dhcp4\": {} }", "given twice"},
		{"[1, 2]", "want an object"},
	} {
		err := ImportConf("x.conf", []byte(tc.src), migrate.NewResult())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.src, err, tc.want)
		}
	}
	if err := ImportLeases("x.csv", []byte("ip,mac\n"), time.Now(), migrate.NewResult()); err == nil || !strings.Contains(err.Error(), "x.csv:1: header without column") {
		t.Errorf("bad header: %v", err)
	}
}

// Kea's own JSON reader takes numbers like .5 (its examples use them).
func TestLeadingDotNumbers(t *testing.T) {
	n, err := ParseJSON("x.conf", []byte("{\"a\": .5, \"b\": [-.25],\n \"c\":.75, \"d\": \"x .5\"}"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Get("a").Num != "0.5" || n.Get("b").Items[0].Num != "-0.25" || n.Get("c").Num != "0.75" || n.Get("d").Str != "x .5" || n.Get("c").Pos.Line != 2 {
		t.Fatalf("%+v", n)
	}
}
