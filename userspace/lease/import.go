package lease

import "fmt"

// Import writes leases taken from another server (a migration) in one
// durable commit: all of them or, on error, none. It checks each record
// first (IPv4, a known state, one record per address) and refuses the
// whole batch naming the first bad one. Subscribers are not told: these
// bindings are not this server's news to replicate.
func (s *Store) Import(ls []Lease) error {
	seen := make(map[[4]byte]bool, len(ls))
	for i, l := range ls {
		if !l.IP.Is4() {
			return fmt.Errorf("import lease %d: address %v is not IPv4", i+1, l.IP)
		}
		if l.State < Bound || l.State > Declined {
			return fmt.Errorf("import lease %v: unknown state %d", l.IP, l.State)
		}
		if seen[l.IP.As4()] {
			return fmt.Errorf("import lease %v: address given twice", l.IP)
		}
		seen[l.IP.As4()] = true
		if _, err := l.encode(); err != nil {
			return fmt.Errorf("import lease %v: %w", l.IP, err)
		}
	}
	if len(ls) == 0 {
		return nil
	}
	type prev struct {
		l   Lease
		had bool
	}
	olds := make([]prev, len(ls))
	batch := make([]Lease, len(ls))
	s.mu.Lock()
	for i, l := range ls {
		l.Start, l.Expiry = l.Start.Round(0), l.Expiry.Round(0) // no monotonic reading in a stored time
		old, had := s.byIP[l.IP]
		olds[i] = prev{old, had}
		batch[i] = l
		s.index(l)
	}
	s.mu.Unlock()
	return s.enqueue(batch, func(err error) {
		if err == nil {
			return
		}
		for i := len(batch) - 1; i >= 0; i-- {
			s.revert(batch[i], olds[i].l, olds[i].had)
		}
	}).Wait()
}
