package lease

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// ErrReserve refuses a new client the last free addresses of a pool: they
// are kept for clients the store already knows (renewals after an expiry,
// INIT-REBOOT) and for reserved clients, so a storm of new clients cannot
// lock them out.
var ErrReserve = errors.New("pool reserve reached: the last free addresses are kept for known clients")

// Reserve is how much of each pool's share new clients may not take: the
// larger of Addresses and Percent of the share's size (rounded up).
type Reserve struct {
	Addresses int     `json:"addresses,omitempty"`
	Percent   float64 `json:"percent,omitempty"`
}

// IsZero says whether no reserve is kept.
func (r Reserve) IsZero() bool { return r.Addresses <= 0 && r.Percent <= 0 }

// Of is the number of addresses kept back in a share of size addresses.
func (r Reserve) Of(size int) int {
	n := int(math.Ceil(float64(size) * r.Percent / 100))
	return min(max(n, r.Addresses, 0), size)
}

func (r Reserve) String() string {
	switch {
	case r.IsZero():
		return "0"
	case r.Percent > 0 && r.Addresses > 0:
		return fmt.Sprintf("max(%d, %g%%)", r.Addresses, r.Percent)
	case r.Percent > 0:
		return fmt.Sprintf("%g%%", r.Percent)
	}
	return fmt.Sprint(r.Addresses)
}

// size is the number of addresses in this server's share of the pool.
func (p *pool) size() int {
	n := 0
	for _, r := range p.own {
		n += int(r.Size())
	}
	return n
}

// reserveHit says whether a new client must be refused under r: the
// share has no more than r's count free. The free index keeps the count
// as leases and offers change, so the check is O(log n) however large the
// share (docs/lease-store.md has the figures). Caller holds mu.
func (s *Store) reserveHit(p *pool, r Reserve, now time.Time) bool {
	if p == nil || r.IsZero() {
		return false
	}
	keep := r.Of(p.size())
	if keep == 0 {
		return false
	}
	free := 0
	for _, rg := range p.own {
		free += int(rg.Size()) - s.takenIn(rg, now)
	}
	return free <= keep
}

// known says whether the store has a lease record for client: such a
// client is not new and may use the reserve. Caller holds mu.
func (s *Store) known(client string) bool {
	_, ok := s.byClient[client]
	return ok
}

// Holds says whether ip is bound to client (whatever the lease's state or
// expiry: it is that client's last address) or offered to it now. The
// server asks it to tell a REQUEST for a new address from one for an
// address the client already has.
func (s *Store) Holds(ip netip.Addr, client ClientID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.byIP[ip]; ok && len(l.Client) > 0 && string(l.Client) == string(client) {
		return true
	}
	o, ok := s.offers[ip]
	return ok && o.client == string(client) && o.until.After(s.now())
}

// ActiveBinding says whether client holds a bound, unexpired lease.
func (s *Store) ActiveBinding(client ClientID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ip, ok := s.byClient[string(client)]
	if !ok {
		return false
	}
	l := s.byIP[ip]
	return l.State == Bound && l.Active(s.now())
}
