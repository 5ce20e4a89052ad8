package isc

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/migrate"
	"github.com/xdhcp/xdhcp/userspace/migrate/migratetest"
)

func importCorpus(t *testing.T) (*migrate.Result, string) {
	t.Helper()
	file := filepath.Join("testdata", "corpus", "dhcpd.conf")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := migrate.NewResult()
	if err := ImportConf(file, src, os.ReadFile, r); err != nil {
		t.Fatal(err)
	}
	return r, file
}

// The corpus: every construct is either carried over (checked in the
// configuration) or listed with its file and line.
func TestCorpusCarriedOver(t *testing.T) {
	r, _ := importCorpus(t)
	c := r.Config
	if c.LeaseTime != 600*time.Second || !c.Authoritative || len(c.Subnets) != 3 {
		t.Fatalf("global: lease %v authoritative %v subnets %d", c.LeaseTime, c.Authoritative, len(c.Subnets))
	}
	s0 := migratetest.Subnet(t, c, "198.18.0.0/24")
	if fmt.Sprint(s0.Ranges) != "[198.18.0.100-198.18.0.199]" || fmt.Sprint(s0.Routers) != "[198.18.0.1]" ||
		fmt.Sprint(s0.DNS) != "[198.18.0.53 198.18.0.54]" || s0.Domain != "lab.example" || s0.LeaseTime != 0 ||
		s0.Boot.BootFile != "pxelinux.0" || s0.Boot.NextServer != netip.MustParseAddr("198.18.0.4") || s0.SharedNetwork != "" {
		t.Fatalf("198.18.0.0/24: %+v", s0)
	}
	// Classes with an expressible match come along, with their pools.
	if len(c.Classes) != 2 {
		t.Fatalf("classes %+v", c.Classes)
	}
	voip, pxe := c.Classes[0], c.Classes[1]
	if voip.Name != "voip" || fmt.Sprint(voip.Match) != `[option 60 prefix "Aast"]` || fmt.Sprint(voip.Ranges) != "[198.18.0.200-198.18.0.220]" {
		t.Fatalf("voip %+v", voip)
	}
	if fmt.Sprint(pxe.Match) != `[option 60 prefix "PXEClient" option 93 exact "\x00\a"]` || pxe.BootFile != "ipxe.efi" ||
		pxe.NextServer != netip.MustParseAddr("198.18.0.5") || pxe.LeaseTime != 5*time.Minute || len(pxe.Options) != 1 || string(pxe.Options[0].Value) != "tftp.lab" {
		t.Fatalf("pxe %+v", pxe)
	}
	if !c.PingCheck.Enabled || c.PingCheck.Timeout != 2*time.Second || !c.BOOTP {
		t.Fatalf("ping check %+v, bootp %v", c.PingCheck, c.BOOTP)
	}
	opts := map[uint8]string{}
	for _, o := range s0.Options {
		opts[o.Code] = fmt.Sprintf("%x", o.Value)
	}
	want := map[uint8]string{26: "0578", 28: "c61200ff", 42: "c612007b", 121: "18c61207c6120001"}
	if fmt.Sprint(opts) != fmt.Sprint(want) {
		t.Fatalf("options %v, want %v", opts, want)
	}
	if len(s0.Reservations) != 2 {
		t.Fatalf("reservations %+v", s0.Reservations)
	}
	ph, pr := s0.Reservations[0], s0.Reservations[1] // hosts.conf is included first
	if pr.HWAddr.String() != "02:00:00:00:aa:01" || pr.IP != netip.MustParseAddr("198.18.0.10") || pr.Hostname != "printer" {
		t.Fatalf("printer %+v", pr)
	}
	if ph.ClientID.String() != "0102000000aa03" || ph.IP != netip.MustParseAddr("198.18.0.11") || ph.Hostname != "phone" || ph.HWAddr != nil {
		t.Fatalf("phone %+v", ph)
	}
	s1 := migratetest.Subnet(t, c, "198.18.1.0/24")
	if s1.LeaseTime != 30*time.Minute || s1.Domain != "floor1.lab.example" || len(s1.Reservations) != 1 || s1.Reservations[0].Hostname != "laptop" || s1.SharedNetwork != "floor1" ||
		s1.Reservations[0].HWAddr.String() != "02:00:00:00:aa:02" { // written 2:0:0:0:aa:2, as dhcpd allows
		t.Fatalf("198.18.1.0/24: %+v", s1)
	}
	s2 := migratetest.Subnet(t, c, "198.18.2.0/24")
	if fmt.Sprint(s2.Ranges) != "[198.18.2.10-198.18.2.50 198.18.2.60-198.18.2.70]" || fmt.Sprint(s2.Routers) != "[198.18.2.1]" || s2.SharedNetwork != "floor1" {
		t.Fatalf("198.18.2.0/24 (a shared-network pool's range joins the subnet holding it): %+v", s2)
	}
	if len(s2.Reservations) != 1 || string(s2.Reservations[0].CircuitID) != "port-7" || s2.Reservations[0].IP != netip.MustParseAddr("198.18.2.7") {
		t.Fatalf("198.18.2.0/24 reservation by circuit id: %+v", s2.Reservations)
	}
	p := r.Pair
	if p == nil {
		t.Fatal("no pair")
	}
	flags := strings.Join(p.Flags(), " ")
	if flags != "--role primary --split 128 --threshold 4 --mclt 1h --peer 198.18.0.3:847 --listen-peer 198.18.0.2:647 --receive-timeout 1m --secret-file FILE" {
		t.Fatalf("pair flags %s", flags)
	}
	// What is written reads back as the same configuration.
	out, err := config.Encode(c, config.EncodeOptions{Comments: r.Comments, OptionForm: func(o config.Option) string { return migrate.Form(o.Code) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse("imported.yaml", out); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# testdata/corpus/dhcpd.conf:") || !strings.Contains(string(out), "host printer") {
		t.Fatalf("no provenance comments:\n%s", out)
	}
}

func TestCorpusSkippedWithTheirLines(t *testing.T) {
	r, file := importCorpus(t)
	hosts := filepath.Join("testdata", "corpus", "hosts.conf")
	got := map[string]string{}
	for _, s := range r.Skipped {
		got[fmt.Sprintf("%s:%d", s.Pos.File, s.Pos.Line)] = s.String()
	}
	for _, w := range []struct{ file, marker, why string }{
		{file, "log-facility", "housekeeping"},
		{file, "max-lease-time", "whatever lease time"},
		{file, "option space PXE", "option spaces"},
		{file, "PXE.mtftp-ip", "PXE option space"},
		{file, "max-unacked-updates", "no xdhcp setting"},
		{file, "subclass", "subclasses"},
		{file, `class "odd"`, "is not an equality: the class is not carried over"},
		{file, "subnet 198.18.9.0", "nothing to hand out"},

		{file, "198.18.0.99", "pool's addresses only"},
		{file, "range dynamic-bootp", "xdhcp answers BOOTP from every range"},
		{file, "198.18.0.55", "host printer only"},
		{file, "if option vendor-class-identifier", "conditional statements are not evaluated (3 statements inside"},
		{file, "on commit", "event hooks"},
		{hosts, "host known-only", "without fixed-address"},
		{hosts, "10.9.9.9", "in no subnet"},
		{hosts, "pxe-menu", "host phone only"},
	} {
		key := fmt.Sprintf("%s:%d", w.file, migratetest.LineOf(t, w.file, w.marker))
		if s, ok := got[key]; !ok || !strings.Contains(s, w.why) {
			t.Errorf("%s (%s): got %q, want a skip saying %q", key, w.marker, s, w.why)
		}
		delete(got, key)
	}
	for k, s := range got {
		t.Errorf("unexpected skip at %s: %s", k, s)
	}
}
