package dhcpserver

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
)

// Drops counts requests the server left unanswered to protect service or
// the lease store, by reason.
type Drops struct {
	// ClientRate and RelayRate: allocating requests over a client's or a
	// relay's rate (limits: client-rate, relay-rate).
	ClientRate uint64 `json:"client_rate"`
	RelayRate  uint64 `json:"relay_rate"`
	// PoolReserve: new clients refused the pool's last addresses.
	PoolReserve uint64 `json:"pool_reserve"`
	// NoAddress: DISCOVERs with no address left to offer.
	NoAddress uint64 `json:"no_address"`
	// StoreFault: OFFERs withheld while the lease store cannot write.
	StoreFault uint64 `json:"store_fault"`
	// NotStored: replies (ACKs) withheld because their lease change failed
	// to commit.
	NotStored uint64 `json:"not_stored"`
}

// Reasons lists the counters with their metric label.
func (d Drops) Reasons() map[string]uint64 {
	return map[string]uint64{
		"client_rate": d.ClientRate, "relay_rate": d.RelayRate, "pool_reserve": d.PoolReserve,
		"no_address": d.NoAddress, "store_fault": d.StoreFault, "not_stored": d.NotStored,
	}
}

type dropCounters struct {
	clientRate, relayRate, poolReserve, noAddress, storeFault, notStored atomic.Uint64
}

// Drops reports the drop counters since New.
func (s *Server) Drops() Drops {
	c := &s.drops
	return Drops{c.clientRate.Load(), c.relayRate.Load(), c.poolReserve.Load(), c.noAddress.Load(), c.storeFault.Load(), c.notStored.Load()}
}

// limitAllocations applies the per-relay and per-client rate limits to
// requests that would allocate an address. Requests that keep an address
// the client has (renewing, rebinding, INIT-REBOOT or SELECTING for its
// own or offered address), DISCOVERs of clients with an active binding and
// reserved clients are never limited: they take nothing from the pool.
func limitAllocations(s *Server, x *Exchange) bool {
	lim := s.Config().Limits
	if lim.RelayRate <= 0 && lim.ClientRate <= 0 {
		return true
	}
	if x.Reservation != nil || !s.allocates(x) {
		return true
	}
	relay := "iface:" + x.Meta.Iface
	if gi := addrOf(x.Req.GatewayIPAddr); gi.IsValid() {
		relay = gi.String()
	}
	switch s.limiter.allow(s.now(), lim, relay, string(x.Client)) {
	case overClient:
		s.drops.clientRate.Add(1)
		return x.silent("client over its rate limit (%g/s)", lim.ClientRate)
	case overRelay:
		s.drops.relayRate.Add(1)
		return x.silent("relay %s over its rate limit (%g/s)", relay, lim.RelayRate)
	}
	return true
}

// allocates says whether the request may take a new address.
func (s *Server) allocates(x *Exchange) bool {
	switch x.Req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		return !s.store.ActiveBinding(x.Client)
	case dhcpv4.MessageTypeRequest:
		if addrOf(x.Req.ClientIPAddr).IsValid() {
			return false // renewing or rebinding
		}
		want := addrOf(x.Req.RequestedIPAddress())
		return want.IsValid() && !s.store.Holds(want, x.Client)
	}
	return false
}

type verdict int

const (
	allowed verdict = iota
	overClient
	overRelay
)

// limiter holds a token bucket per relay and per client in bounded LRU
// tables. Rates and bursts come from the configuration at each call, so a
// reload applies at once and keeps every bucket's level.
type limiter struct {
	mu      sync.Mutex
	relays  lru
	clients lru
}

type bucket struct {
	tokens float64
	last   time.Time
}

// refill adds rate tokens per second since b's last use, up to burst.
func (b *bucket) refill(now time.Time, rate, burst float64) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*rate)
	}
	b.tokens = min(b.tokens, burst) // a reload may have lowered the burst
	b.last = now
}

// allow takes a token from the client's bucket and the relay's (each when
// its rate is set), or neither: a request refused by one limit does not
// use up the other's.
func (l *limiter) allow(now time.Time, lim config.Limits, relay, client string) verdict {
	tracked := lim.Tracked
	if tracked <= 0 {
		tracked = config.DefaultTracked
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var cb, rb *bucket
	if lim.ClientRate > 0 {
		burst := config.Burst(lim.ClientRate, lim.ClientBurst)
		cb = l.clients.get(client, tracked, now, burst)
		if cb.refill(now, lim.ClientRate, burst); cb.tokens < 1 {
			return overClient
		}
	}
	if lim.RelayRate > 0 {
		burst := config.Burst(lim.RelayRate, lim.RelayBurst)
		rb = l.relays.get(relay, tracked, now, burst)
		if rb.refill(now, lim.RelayRate, burst); rb.tokens < 1 {
			return overRelay
		}
	}
	if cb != nil {
		cb.tokens--
	}
	if rb != nil {
		rb.tokens--
	}
	return allowed
}

// lru is a map bounded by evicting the least recently used entry: a flood
// of random client ids costs at most the cap, and the clients seen often
// (the ones worth limiting) stay.
type lru struct {
	order *list.List // front: most recent; values are *lruEntry
	byKey map[string]*list.Element
}

type lruEntry struct {
	key string
	b   bucket
}

// get returns key's bucket, making a full one for a new key.
func (c *lru) get(key string, capacity int, now time.Time, burst float64) *bucket {
	if c.byKey == nil {
		c.order, c.byKey = list.New(), map[string]*list.Element{}
	}
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		return &e.Value.(*lruEntry).b
	}
	for c.order.Len() >= capacity {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.byKey, old.Value.(*lruEntry).key)
	}
	e := c.order.PushFront(&lruEntry{key: key, b: bucket{tokens: burst, last: now}})
	c.byKey[key] = e
	return &e.Value.(*lruEntry).b
}

// len is the number of keys held.
func (c *lru) len() int { return len(c.byKey) }
