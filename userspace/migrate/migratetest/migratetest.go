// Package migratetest holds what the importers' tests share: finding a
// line in a test file, describing a lease in one line, and the invariants
// every import result keeps (checked by the fuzz targets).
package migratetest

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// LineOf is the number of the first line of file that contains s.
func LineOf(t testing.TB, file, s string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in %s", s, file)
	return 0
}

// Subnet is c's subnet of prefix p.
func Subnet(t testing.TB, c *config.Config, p string) *config.Subnet {
	t.Helper()
	for _, s := range c.Subnets {
		if s.Prefix.String() == p {
			return s
		}
	}
	t.Fatalf("no subnet %s in %v", p, c.Subnets)
	return nil
}

// Describe is a lease in one line: state, client, MAC, hostname, start
// (15:04) and expiry (01-02 15:04), in UTC.
func Describe(l lease.Lease) string {
	return fmt.Sprintf("%v %s %s %s %s %s", l.State, l.Client, l.HWAddr, l.Hostname,
		l.Start.UTC().Format("15:04"), l.Expiry.UTC().Format("01-02 15:04"))
}

// Leases describes every lease of r by address.
func Leases(r *migrate.Result) map[string]string {
	out := map[string]string{}
	for _, l := range r.Leases {
		out[l.IP.String()] = Describe(l)
	}
	return out
}

// SameLeases fails t where r's leases differ from want (address ->
// Describe), naming each missing, different or unexpected one.
func SameLeases(t testing.TB, r *migrate.Result, want map[string]string) {
	t.Helper()
	got := Leases(r)
	for ip, w := range want {
		if got[ip] != w {
			t.Errorf("%s: got %q, want %q", ip, got[ip], w)
		}
		delete(got, ip)
	}
	for ip, g := range got {
		t.Errorf("unexpected lease %s: %s", ip, g)
	}
}

// Placed matches an error that starts with FILE:LINE (and maybe :COLUMN).
var Placed = regexp.MustCompile(`^(lease file: )?.+:\d+(:\d+)?: `) // a file name may hold colons

// CheckResult fails t unless r keeps the import's promises: every lease
// one the store takes (IPv4, one per address, a known state, an address
// xdhcp serves), every skip placed, and a configuration with subnets that
// reads back unchanged.
func CheckResult(t testing.TB, r *migrate.Result) {
	t.Helper()
	seen := map[string]bool{}
	for _, l := range r.Leases {
		if !l.IP.Is4() || seen[l.IP.String()] || !r.Servable(l.IP) || l.State < lease.Bound || l.State > lease.Declined {
			t.Fatalf("lease the store would refuse: %+v", l)
		}
		seen[l.IP.String()] = true
	}
	for _, s := range r.Skipped {
		if s.Pos.Line == 0 || s.Pos.File == "" {
			t.Fatalf("skip without a place: %v", s)
		}
	}
	if len(r.Config.Subnets) == 0 {
		return // nothing to serve: not a configuration xdhcp takes
	}
	if _, err := r.EncodeConfig("check"); err != nil {
		t.Fatalf("imported configuration does not read back: %v", err)
	}
}
