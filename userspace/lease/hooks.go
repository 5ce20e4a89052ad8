package lease

// Hooks for the responder's policy handlers (ping check, DDNS).

// NewPending is a Pending that completes when complete is called, for a
// reply that waits on something other than the disk (the responder's ping
// check before an offer). complete must be called exactly once.
func NewPending() (p *Pending, complete func(error)) {
	p = &Pending{}
	return p, p.complete
}

// Issuer is what this server records in the leases it makes.
func (s *Store) Issuer() Issuer { return s.issuer }
