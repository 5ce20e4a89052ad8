package lease

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// walkFree is the reference the free index must agree with: a walk over r
// counting the addresses a new client could get (what reserveHit did
// before the index, under the store lock, for every new client).
func walkFree(s *Store, r Range, now time.Time) int {
	n := 0
	for v := u32(r.Start); ; v++ {
		a := addr(v)
		p := s.poolOf(a)
		if p != nil && !p.Excluded[a] && s.freeFor(a, "", now) {
			n++
		}
		if v == u32(r.End) {
			return n
		}
	}
}

// TestFreeIndexMatchesWalk drives random offers, binds, renewals,
// releases, declines, peer updates, share changes and clock jumps into a
// small pool with exclusions and, after every step, compares the index's
// counts (both sides' shares, the own ranges) with the walk, checks each
// address is filed once, and checks every address the pool hands out is
// really free.
func TestFreeIndexMatchesWalk(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	pl := pools("198.18.1.10-198.18.1.49", "198.18.1.100-198.18.1.119")
	pl[0].Excluded = map[netip.Addr]bool{ip("198.18.1.12"): true, ip("198.18.1.110"): true}
	s, _ := open(t, "", c, Options{Pools: pl, HBA: decide.MustSplit(128), CommitInterval: -1})
	rnd := rand.New(rand.NewPCG(1, 2))
	clients := 30
	check := func(step int, what string) {
		t.Helper()
		s.mu.Lock()
		now := s.now()
		for _, r := range pl[0].Ranges {
			for _, role := range []decide.Role{decide.Primary, decide.Secondary} {
				part, ok := Share(r, s.hba, role)
				if !ok {
					continue
				}
				s.mu.Unlock()
				got := s.FreeIn(part)
				s.mu.Lock()
				if want := walkFree(s, part, now); got != want {
					s.mu.Unlock()
					t.Fatalf("step %d (%s): FreeIn(%v) = %d, walk %d", step, what, part, got, want)
				}
			}
		}
		for _, p := range s.pools {
			for k := range p.free.pos {
				if _, busy := s.busy.pos[k]; busy {
					s.mu.Unlock()
					t.Fatalf("step %d (%s): %v both busy and free", step, what, addr(k))
				}
			}
		}
		s.mu.Unlock()
	}
	for step := range 3000 {
		cl := cid(fmt.Sprint("c", rnd.IntN(clients)))
		what := ""
		switch op := rnd.IntN(10); {
		case op < 4:
			what = "offer"
			a, err := s.Offer(OfferRequest{Subnet: subnet, Client: cl, Hold: time.Duration(1+rnd.IntN(20)) * time.Second})
			if err == nil {
				s.mu.Lock()
				if l, ok := s.byIP[a]; ok && l.Active(s.now()) && string(l.Client) != string(cl) {
					s.mu.Unlock()
					t.Fatalf("step %d: offered %v, active for %s", step, a, l.Client)
				}
				s.mu.Unlock()
				if rnd.IntN(3) > 0 {
					what = "offer+bind"
					s.Bind(BindRequest{Subnet: subnet, Client: cl, IP: a, LeaseTime: time.Duration(1+rnd.IntN(120)) * time.Second})
				}
			}
		case op < 5:
			what = "release"
			if l, ok := s.ByClient(cl); ok {
				s.Release(l.IP, cl)
			}
		case op < 6:
			what = "decline"
			if l, ok := s.ByClient(cl); ok {
				s.Decline(l.IP, cl, time.Duration(1+rnd.IntN(60))*time.Second)
			}
		case op < 7:
			what = "peer"
			a := addr(u32(ip("198.18.1.10")) + uint32(rnd.IntN(40)))
			s.ApplyPeer(context.Background(), Lease{IP: a, Client: cid(fmt.Sprint("p", rnd.IntN(5))), State: State(1 + rnd.IntN(3)),
				Start: s.now(), Expiry: s.now().Add(time.Duration(rnd.IntN(90)) * time.Second)})
		case op < 8:
			what = "share"
			s.SetShare(decide.MustSplit(64+rnd.IntN(128)), decide.Role(rnd.IntN(2)))
		default:
			what = "clock"
			c.add(time.Duration(rnd.IntN(15)) * time.Second)
		}
		check(step, what)
	}
}

// TestMemoryBoundedByPool: a few clients coming back again and again (the
// daemon's 600 bytes per exchange of issue 15) must not grow the heap:
// after warm-up, 100,000 offer/bind exchanges from 20 clients grow it by
// less than 1 MB (the goal: under 16 MB for a million).
func TestMemoryBoundedByPool(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	s, _ := open(t, t.TempDir(), c, Options{Pools: pools("198.18.1.10-198.18.1.250"), CommitInterval: -1})
	const clients = 20
	round := func(n int) {
		ps := make([]*Pending, 0, clients)
		for i := 0; i < n; i += clients {
			ps = ps[:0]
			for k := range clients {
				cl := cid(fmt.Sprint("c", k))
				a, err := s.Offer(OfferRequest{Subnet: subnet, Client: cl, Hold: 10 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				_, p, err := s.BindAsync(BindRequest{Subnet: subnet, Client: cl, IP: a, LeaseTime: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, p)
			}
			for _, p := range ps {
				if err := p.Wait(); err != nil {
					t.Fatal(err)
				}
			}
			c.add(time.Second)
		}
	}
	heapInUse := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	round(20000) // warm-up
	before := heapInUse()
	const n = 100000
	round(n)
	after := heapInUse()
	growth := int64(after) - int64(before)
	t.Logf("MEASURED heap in use %d -> %d bytes after %d exchanges from %d clients: %+d bytes (%.2f per exchange)",
		before, after, n, clients, growth, float64(growth)/n)
	if growth > 1<<20 {
		t.Fatalf("heap grew by %d bytes over %d exchanges from %d clients: memory follows traffic", growth, n, clients)
	}
}

// BenchmarkNewClientNearReserve is a random-MAC storm near the reserve:
// each iteration is one new client's DISCOVER when the share is full but
// for the reserve (every one is refused: the reserve check decides). The
// walk variant is the check before the free index, for the table in
// docs/lease-store.md.
func BenchmarkNewClientNearReserve(b *testing.B) {
	for _, bits := range []int{24, 20, 16} {
		size := 1<<(32-bits) - 2
		for _, variant := range []string{"index", "walk"} {
			b.Run(fmt.Sprintf("share=%d/%s", size, variant), func(b *testing.B) {
				c := &clock{t: time.Unix(1e9, 0)}
				start := ip("198.18.0.1")
				r := Range{start, addr(u32(start) + uint32(size) - 1)}
				sn := netip.PrefixFrom(start, bits).Masked()
				s, _ := open(b, b.TempDir(), c, Options{Pools: []Pool{{Subnet: sn, Ranges: []Range{r}}}})
				res := Reserve{Addresses: 10}
				// Fill the share to the reserve with held offers (no disk).
				for i := range size - 10 {
					if _, err := s.Offer(OfferRequest{Subnet: sn, Client: cid(fmt.Sprint("f", i)), Hold: time.Hour, Reserve: res}); err != nil {
						b.Fatal(i, err)
					}
				}
				b.ResetTimer()
				for i := range b.N {
					if variant == "walk" {
						s.mu.Lock()
						if walkFree(s, r, c.t) > 10 {
							b.Fatal("not at the reserve")
						}
						s.mu.Unlock()
						continue
					}
					if _, err := s.Offer(OfferRequest{Subnet: sn, Client: cid(fmt.Sprint("n", i)), Hold: time.Minute, Reserve: res}); err == nil {
						b.Fatal("offer past the reserve")
					}
				}
			})
		}
	}
}
