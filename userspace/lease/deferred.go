package lease

// NewPending is a Pending that completes when complete is called, for a
// reply that waits on something other than the disk (the responder's ping
// check before an offer). complete must be called exactly once.
func NewPending() (p *Pending, complete func(error)) {
	p = &Pending{}
	return p, p.complete
}
