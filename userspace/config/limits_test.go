package config

import (
	"strings"
	"testing"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

func TestLimitsParsed(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.RelayRate != 50 || l.RelayBurst != 100 || l.ClientRate != 0.5 || l.ClientBurst != 3 || l.Tracked != 10000 ||
		l.PoolReserve != (lease.Reserve{Percent: 5}) {
		t.Fatalf("limits %+v", l)
	}
	// Left out: every limit off, the default table size.
	d, err := Parse("d.yaml", []byte("subnets: [{subnet: 198.18.1.0/24, ranges: 198.18.1.10-198.18.1.20}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Limits.RelayRate != 0 || d.Limits.ClientRate != 0 || !d.Limits.PoolReserve.IsZero() || d.Limits.Tracked != DefaultTracked {
		t.Fatalf("default limits %+v", d.Limits)
	}
}

func TestLimitsErrorsNameKeyAndPlace(t *testing.T) {
	const file = `subnets: [{subnet: 198.18.1.0/24, ranges: 198.18.1.10-198.18.1.20}]
limits:
  relay-rate: fast
  client-rate: -1
  relay-burst: 1.5
  clients-tracked: 0
  pool-reserve: 100%
  reserve: 5
`
	_, err := Parse("l.yaml", []byte(file))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`l.yaml:3:15: "fast": want a rate per second`,
		`l.yaml:4:16: "-1": want a rate per second`,
		`l.yaml:5:16: "1.5": want a whole number >= 0`,
		`l.yaml:6:20: "0": want a whole number >= 1`,
		`l.yaml:7:17: pool-reserve: "100%": want a percentage`,
		`l.yaml:8:3: limits: unknown key "reserve"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestParseReserve(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want lease.Reserve
		of   int // of a share of 200 addresses
		bad  bool
	}{
		{in: "0", of: 0},
		{in: "10", want: lease.Reserve{Addresses: 10}, of: 10},
		{in: "5%", want: lease.Reserve{Percent: 5}, of: 10},
		{in: "2.5 %", want: lease.Reserve{Percent: 2.5}, of: 5},
		{in: "0.1%", want: lease.Reserve{Percent: 0.1}, of: 1}, // rounded up
		{in: "500", want: lease.Reserve{Addresses: 500}, of: 200},
		{in: "-3", bad: true},
		{in: "100%", bad: true},
		{in: "ten", bad: true},
	} {
		r, err := ParseReserve(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if !tc.bad && (r != tc.want || r.Of(200) != tc.of) {
			t.Errorf("%q: %+v of 200 = %d, want %+v and %d", tc.in, r, r.Of(200), tc.want, tc.of)
		}
	}
}
