package failover

// The MCLT rule on lease times.

import (
	"net/netip"
	"time"
)

// LeaseTime applies the MCLT rule to a lease about to be given for ip: it
// may end at most MCLT after what the partner has acknowledged (or after
// now, when the partner knows nothing newer).
func (e *Engine) LeaseTime(ip netip.Addr, want time.Duration) time.Duration {
	e.mu.Lock()
	known := e.q.acked[ip]
	e.mu.Unlock()
	now := e.o.Now()
	base := now
	if known.After(now) {
		base = known
	}
	return min(want, base.Add(e.o.MCLT).Sub(now))
}
