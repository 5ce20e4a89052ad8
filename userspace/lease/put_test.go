package lease

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Bindings put (an import) survive a reopen and behave as the server's own: the
// bound client keeps its address, the released one gets its old one back
// first, a declined address is not offered while on probation.
func TestPutIsDurableAndServed(t *testing.T) {
	c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, dir := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.13")})
	in := []Lease{
		{IP: ip("198.18.1.10"), Client: cid("bound"), HWAddr: "02:00:00:00:00:01", Hostname: "a", State: Bound, Start: c.t.Add(-time.Hour), Expiry: c.t.Add(time.Hour)},
		{IP: ip("198.18.1.11"), Client: cid("released"), State: Released, Start: c.t.Add(-time.Hour), Expiry: c.t.Add(-time.Minute)},
		{IP: ip("198.18.1.12"), State: Declined, Start: c.t.Add(-time.Hour), Expiry: c.t.Add(time.Hour)},
	}
	if err := s.Put(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = open(t, dir, c, Options{Pools: pools("198.18.1.10-198.18.1.13")})
	all := s.All()
	if len(all) != 3 || all[0].Hostname != "a" || !all[0].Expiry.Equal(in[0].Expiry) || all[2].State != Declined {
		t.Fatalf("after reopen: %+v", all)
	}
	if got := offerTo(t, s, "bound"); got != ip("198.18.1.10") {
		t.Fatalf("bound client offered %v", got)
	}
	if got := offerTo(t, s, "released"); got != ip("198.18.1.11") {
		t.Fatalf("released client offered %v, want its old address", got)
	}
	if got := offerTo(t, s, "new"); got != ip("198.18.1.13") {
		t.Fatalf("new client offered %v, want the only fresh address (.12 is on probation)", got)
	}
}

// A bad record refuses the whole batch: nothing reaches the store.
func TestPutRefusesBadBatchWhole(t *testing.T) {
	c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, _ := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.13")})
	ok := Lease{IP: ip("198.18.1.10"), Client: cid("a"), State: Bound, Start: c.t, Expiry: c.t.Add(time.Hour)}
	for _, tc := range []struct {
		bad  Lease
		want string
	}{
		{Lease{IP: ip("::1"), State: Bound}, "not IPv4"},
		{Lease{IP: ip("198.18.1.11"), State: 9}, "unknown state"},
	} {
		err := s.Put(context.Background(), []Lease{ok, tc.bad})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("import with %+v: %v, want %q", tc.bad, err, tc.want)
		}
		if n := len(s.All()); n != 0 {
			t.Fatalf("a refused batch left %d leases", n)
		}
	}
}
