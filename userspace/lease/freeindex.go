package lease

import (
	"container/heap"
	"net/netip"
	"time"
)

// The store's view of which pool addresses are free, kept as leases and
// offers change so that no question costs a walk over the pool:
//
//   - taken: per configured range, a Fenwick tree over its addresses whose
//     bit is 1 when the address cannot be given dynamically now (an
//     active lease or offer, or excluded): any sub-range's count (this
//     server's share, the partner's, a pool gauge) is O(log n).
//   - busy: the taken addresses with their free-again time (freeAt), one
//     entry per address; advance clears the bits of those whose time has
//     come, since expiry is an event nobody calls in.
//   - pool.free: per pool, the free addresses of this server's share that
//     were used before, oldest first (fresh ones come from the cursor).
//
// Every address has at most one entry in busy or in one pool's free, so
// memory follows the pool, never the traffic.

// fenwick counts taken addresses of one range.
type fenwick struct {
	r    Range
	tree []int32 // 1-based
	bits []bool
}

func newFenwick(r Range) *fenwick {
	n := int(r.Size())
	return &fenwick{r: r, tree: make([]int32, n+1), bits: make([]bool, n)}
}

func (f *fenwick) set(a netip.Addr, on bool) {
	i := int(u32(a) - u32(f.r.Start))
	if f.bits[i] == on {
		return
	}
	f.bits[i] = on
	d := int32(-1)
	if on {
		d = 1
	}
	for j := i + 1; j < len(f.tree); j += j & -j {
		f.tree[j] += d
	}
}

// prefix counts the taken addresses among the first n.
func (f *fenwick) prefix(n int) int {
	s := int32(0)
	for j := n; j > 0; j -= j & -j {
		s += f.tree[j]
	}
	return int(s)
}

// count counts the taken addresses of f's range that lie in r.
func (f *fenwick) count(r Range) int {
	lo, hi := max(u32(r.Start), u32(f.r.Start)), min(u32(r.End), u32(f.r.End))
	if lo > hi {
		return 0
	}
	base := u32(f.r.Start)
	return f.prefix(int(hi-base+1)) - f.prefix(int(lo-base))
}

// slot is one address's entry in busy or in a pool's free heap.
type slot struct {
	at time.Time
	ip netip.Addr
	i  int // index in its heap
}

// slotHeap is a min-heap by at (oldest first) that keeps each slot's index.
type slotHeap []*slot

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].i = i; h[j].i = j }
func (h *slotHeap) Push(x any)        { s := x.(*slot); s.i = len(*h); *h = append(*h, s) }
func (h *slotHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return s
}

// indexedHeap is a slotHeap with a lookup by address.
type indexedHeap struct {
	h   slotHeap
	pos map[uint32]*slot // by address (an integer key hashes faster than netip.Addr)
}

func (x *indexedHeap) put(ip netip.Addr, at time.Time) {
	if x.pos == nil {
		x.pos = map[uint32]*slot{}
	}
	k := u32(ip)
	if s, ok := x.pos[k]; ok {
		if !s.at.Equal(at) {
			s.at = at
			heap.Fix(&x.h, s.i)
		}
		return
	}
	s := &slot{at: at, ip: ip}
	x.pos[k] = s
	heap.Push(&x.h, s)
}

func (x *indexedHeap) remove(ip netip.Addr) {
	if s, ok := x.pos[u32(ip)]; ok {
		heap.Remove(&x.h, s.i)
		delete(x.pos, u32(ip))
	}
}

func (x *indexedHeap) top() *slot {
	if len(x.h) == 0 {
		return nil
	}
	return x.h[0]
}

func (x *indexedHeap) len() int { return len(x.h) }

// rangeOf is the Fenwick tree holding ip, if any.
func (s *Store) rangeOf(ip netip.Addr) *fenwick {
	for _, f := range s.taken {
		if f.r.Contains(ip) {
			return f
		}
	}
	return nil
}

// track files ip where it belongs now: taken (busy until freeAt) or free
// (in its pool's free heap when this server may give it). Every change to
// a lease or an offer calls it. Caller holds mu.
func (s *Store) track(ip netip.Addr, now time.Time) {
	f := s.rangeOf(ip)
	if f == nil {
		return // not a pool address (a reservation outside the ranges)
	}
	p := s.poolOf(ip)
	if p != nil && p.Excluded[ip] {
		return // always taken (set when the pools were built)
	}
	at := s.freeAt(ip)
	if at.After(now) {
		f.set(ip, true)
		s.busy.put(ip, at)
		if p != nil {
			p.free.remove(ip)
		}
		return
	}
	f.set(ip, false)
	s.busy.remove(ip)
	if p == nil || !p.owns(ip) {
		return
	}
	_, leased := s.byIP[ip]
	_, offered := s.offers[ip]
	if leased || offered || p.usedFresh(ip) {
		p.free.put(ip, at)
	}
}

// advance frees the addresses whose lease or offer ended by now.
func (s *Store) advance(now time.Time) {
	for t := s.busy.top(); t != nil && !t.at.After(now); t = s.busy.top() {
		ip := t.ip
		s.busy.remove(ip)
		s.track(ip, now)
	}
}

// takenIn counts the addresses of r that cannot be given dynamically now
// (active lease or offer, or excluded). Caller holds mu.
func (s *Store) takenIn(r Range, now time.Time) int {
	s.advance(now)
	n := 0
	for _, f := range s.taken {
		n += f.count(r)
	}
	return n
}

// FreeIn counts the addresses of r (a share of a configured range) that
// could be given to a new client now: in a range, not excluded, with no
// active lease or offer. It costs O(log n) (the failover status and the
// pool gauges ask it on every scrape).
func (s *Store) FreeIn(r Range) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	inRanges := 0
	for _, f := range s.taken {
		lo, hi := max(u32(r.Start), u32(f.r.Start)), min(u32(r.End), u32(f.r.End))
		if lo <= hi {
			inRanges += int(hi - lo + 1)
		}
	}
	return inRanges - s.takenIn(r, s.now())
}

// rebuildFree rebuilds the free index from the leases and offers (new
// pools or share). Caller holds mu.
func (s *Store) rebuildFree(now time.Time) {
	s.taken = s.taken[:0]
	s.busy = indexedHeap{}
	for _, p := range s.pools {
		for _, r := range p.Ranges {
			if s.rangeOf(r.Start) != nil || s.rangeOf(r.End) != nil {
				continue // overlapping ranges: the first one counts
			}
			f := newFenwick(r)
			for ip := range p.Excluded {
				if r.Contains(ip) {
					f.set(ip, true)
				}
			}
			s.taken = append(s.taken, f)
		}
	}
	for ip := range s.byIP {
		s.track(ip, now)
	}
	for ip := range s.offers {
		if _, ok := s.byIP[ip]; !ok {
			s.track(ip, now)
		}
	}
}
