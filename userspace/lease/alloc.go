package lease

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Errors the server maps to its answers.
var (
	ErrNoAddress      = errors.New("no free address in this server's share of the pool")
	ErrNoPool         = errors.New("no pool for this subnet")
	ErrInUse          = errors.New("address is bound to another client or on probation")
	ErrNotInSubnet    = errors.New("address is not in the client's subnet")
	ErrUnknownAddress = errors.New("address is neither in a range nor reserved for the client")
	ErrNotYours       = errors.New("address is not bound to this client")
)

// offer holds an offered address for its client until until.
type offer struct {
	client string
	until  time.Time
}

// pool is a Pool with this server's share and its free lists.
type pool struct {
	Pool
	own []Range
	// Fresh addresses (never seen in a lease or offer) come from a cursor
	// over the own ranges; once it has walked them all, reuse comes from
	// free, ordered by when each address became free (oldest first).
	cur       int
	next      uint32
	exhausted bool
	free      indexedHeap
}

// usedFresh says whether the fresh cursor has passed ip (an own address):
// from then on only the free heap can give it again.
func (p *pool) usedFresh(ip netip.Addr) bool {
	if p.exhausted {
		return true
	}
	for k, r := range p.own {
		if r.Contains(ip) {
			return k < p.cur || (k == p.cur && u32(ip) < p.next)
		}
	}
	return false
}

func (p *pool) owns(ip netip.Addr) bool {
	for _, r := range p.own {
		if r.Contains(ip) {
			return true
		}
	}
	return false
}

// SetPools replaces the pools (configuration reload).
func (s *Store) SetPools(pools []Pool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setPoolsLocked(pools)
}

// SetShare changes this server's share of every range to role's part under
// hba (see Share). The failover engine calls it when it rebalances or when
// the partner is down (HBA all to this role: the whole range).
func (s *Store) SetShare(hba decide.HBA, role decide.Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hba, s.role = hba, role
	cfg := make([]Pool, len(s.pools))
	for i, p := range s.pools {
		cfg[i] = p.Pool
	}
	s.setPoolsLocked(cfg)
}

// Shares reports this server's own ranges per subnet.
func (s *Store) Shares() map[netip.Prefix][]Range {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[netip.Prefix][]Range{}
	for _, p := range s.pools {
		out[p.Subnet] = append([]Range(nil), p.own...)
	}
	return out
}

func (s *Store) setPoolsLocked(cfg []Pool) {
	s.pools = s.pools[:0]
	for _, c := range cfg {
		p := &pool{Pool: c}
		for _, r := range c.Ranges {
			if own, ok := Share(r, s.hba, s.role); ok {
				p.own = append(p.own, own)
			}
		}
		if len(p.own) > 0 {
			p.next = u32(p.own[0].Start)
		} else {
			p.exhausted = true
		}
		s.pools = append(s.pools, p)
	}
	s.rebuildFree(s.now())
}

func (s *Store) poolOf(ip netip.Addr) *pool {
	for _, p := range s.pools {
		if p.Contains(ip) {
			return p
		}
	}
	return nil
}

func (s *Store) poolFor(subnet netip.Prefix, class string) *pool {
	for _, p := range s.pools {
		if p.Subnet == subnet && p.Class == class {
			return p
		}
	}
	return nil
}

// freeAt is when ip became (or becomes) free: the later of its lease's
// expiry (release time, end of probation) and its offer's hold.
func (s *Store) freeAt(ip netip.Addr) time.Time {
	var t time.Time
	if l, ok := s.byIP[ip]; ok {
		t = l.Expiry
		if l.State == Released && l.Start.Before(t) {
			t = l.Start // free since its release, whatever expiry a partner sent
		}
	}
	if o, ok := s.offers[ip]; ok && o.until.After(t) {
		t = o.until
	}
	return t
}

// freeFor says whether client may have ip at now.
func (s *Store) freeFor(ip netip.Addr, client string, now time.Time) bool {
	if l, ok := s.byIP[ip]; ok && l.Active(now) && (l.State == Declined || string(l.Client) != client) {
		return false
	}
	if o, ok := s.offers[ip]; ok && o.until.After(now) && o.client != client {
		return false
	}
	return true
}

// OfferRequest asks for an address to offer.
type OfferRequest struct {
	Subnet    netip.Prefix
	Client    ClientID
	Requested netip.Addr // option 50, if any
	Reserved  netip.Addr // the client's reservation, if any
	Hold      time.Duration
	// Reserve keeps the pool's last free addresses from clients the store
	// does not know (ErrReserve); zero for reserved clients.
	Reserve Reserve
	// Class picks the pool kept for a client class ("": the subnet's own).
	Class string
}

// Offer picks an address for a DISCOVER and holds it for the client for
// req.Hold (in memory: an offer is not a binding). Preference: the
// client's reservation, its current offer, its previous address, the
// address it asks for, a never-used address, then the address free the
// longest. Dynamic addresses come only from this server's share.
func (s *Store) Offer(req OfferRequest) (netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	client := string(req.Client)
	p := s.poolFor(req.Subnet, req.Class)
	ok := func(ip netip.Addr, dynamic bool) bool {
		if !ip.IsValid() || !req.Subnet.Contains(ip) || !s.freeFor(ip, client, now) {
			return false
		}
		return !dynamic || (p != nil && p.owns(ip) && !p.Excluded[ip])
	}
	var ip netip.Addr
	switch {
	case ok(req.Reserved, false):
		ip = req.Reserved
	case ok(s.offerByClient[client], true):
		ip = s.offerByClient[client]
	case s.previousFor(client, now, p, req.Subnet, req.Class):
		ip = s.byClient[client]
	case p == nil:
		return netip.Addr{}, fmt.Errorf("%w %v", ErrNoPool, req.Subnet)
	case !s.known(client) && s.reserveHit(p, req.Reserve, now):
		// Only a new address remains to be given: a new client's.
		return netip.Addr{}, fmt.Errorf("%v: %w (%s)", req.Subnet, ErrReserve, req.Reserve)
	case ok(req.Requested, true):
		ip = req.Requested
	default:
		ip = s.pick(p, now, client)
		if !ip.IsValid() {
			return ip, fmt.Errorf("%v: %w", req.Subnet, ErrNoAddress)
		}
	}
	s.hold(ip, client, now.Add(req.Hold))
	return ip, nil
}

// previousFor says whether the client's last address can be offered again:
// still bound to it, or free and in this server's share; never from
// another class's pool (the client's classes changed: its REQUEST would be
// refused).
func (s *Store) previousFor(client string, now time.Time, p *pool, subnet netip.Prefix, class string) bool {
	ip, ok := s.byClient[client]
	if !ok || !subnet.Contains(ip) || !s.freeFor(ip, client, now) {
		return false
	}
	if q := s.poolOf(ip); q != nil && q.Class != class {
		return false
	}
	l := s.byIP[ip]
	if l.State == Bound && l.Active(now) {
		return true
	}
	return p != nil && p.owns(ip) && !p.Excluded[ip]
}

func (s *Store) hold(ip netip.Addr, client string, until time.Time) {
	if old, ok := s.offerByClient[client]; ok && old != ip {
		if o := s.offers[old]; o.client == client {
			delete(s.offers, old)
			s.track(old, s.now())
		}
	}
	s.offers[ip] = offer{client, until}
	s.offerByClient[client] = ip
	s.track(ip, s.now())
	s.offerCount++
	if s.offerCount%1024 == 0 {
		s.sweepOffers(s.now())
	}
}

// sweepOffers forgets expired offers so the maps stay small.
func (s *Store) sweepOffers(now time.Time) {
	for ip, o := range s.offers {
		if !o.until.After(now) {
			delete(s.offers, ip)
			if s.offerByClient[o.client] == ip {
				delete(s.offerByClient, o.client)
			}
			s.track(ip, now)
		}
	}
}

func (s *Store) dropOffer(ip netip.Addr, client string) {
	if o, ok := s.offers[ip]; ok && o.client == client {
		delete(s.offers, ip)
		s.track(ip, s.now())
	}
	if s.offerByClient[client] == ip {
		delete(s.offerByClient, client)
	}
}

// pick finds a dynamic address: fresh first, then the longest free.
func (s *Store) pick(p *pool, now time.Time, client string) netip.Addr {
	for !p.exhausted {
		ip := addr(p.next)
		if p.next == u32(p.own[p.cur].End) {
			p.cur++
			if p.cur == len(p.own) {
				p.exhausted = true
			} else {
				p.next = u32(p.own[p.cur].Start)
			}
		} else {
			p.next++
		}
		_, leased := s.byIP[ip]
		_, offered := s.offers[ip]
		if !leased && !offered && !p.Excluded[ip] {
			return ip
		}
	}
	s.advance(now)
	for t := p.free.top(); t != nil; t = p.free.top() {
		if t.at.After(now) || !s.freeFor(t.ip, client, now) {
			// Not free after all (cannot happen while track sees every
			// change): drop it rather than give it; its next change files it.
			p.free.remove(t.ip)
			continue
		}
		return t.ip
	}
	return netip.Addr{}
}

// BindRequest asks to bind (or renew) an address for a client.
type BindRequest struct {
	Subnet    netip.Prefix
	Client    ClientID
	HWAddr    string
	Hostname  string
	IP        netip.Addr
	LeaseTime time.Duration
	// Reserved: IP is this client's reservation (it may lie outside the ranges).
	Reserved bool
	// Reserve applies when a client the store does not know asks for an
	// address not offered to it (see OfferRequest.Reserve).
	Reserve Reserve
	// Class is the client's pool class (see OfferRequest.Class): a dynamic
	// address must come from that class's pool.
	Class string
	// RelayInfo and DNSName are recorded in the lease.
	RelayInfo []byte
	DNSName   string
}

// Bind binds req.IP to the client, durably: it returns once the lease is
// fsync'd. Errors say why the client must be refused (NAK).
func (s *Store) Bind(req BindRequest) (Lease, error) {
	l, p, err := s.BindAsync(req)
	if err != nil {
		return l, err
	}
	return l, p.Wait()
}

// BindAsync checks and records the binding at once (errors: refuse the
// client) and queues it for the disk; answer the client only when the
// Pending says it is durable.
func (s *Store) BindAsync(req BindRequest) (Lease, *Pending, error) {
	if !req.IP.Is4() || !req.Subnet.Contains(req.IP) {
		return Lease{}, nil, fmt.Errorf("%v not in %v: %w", req.IP, req.Subnet, ErrNotInSubnet)
	}
	s.mu.Lock()
	now := s.now()
	client := string(req.Client)
	p := s.poolOf(req.IP)
	if !req.Reserved && (p == nil || p.Subnet != req.Subnet || p.Class != req.Class || p.Excluded[req.IP]) {
		s.mu.Unlock()
		return Lease{}, nil, fmt.Errorf("%v: %w", req.IP, ErrUnknownAddress)
	}
	if !s.freeFor(req.IP, client, now) {
		s.mu.Unlock()
		return Lease{}, nil, fmt.Errorf("%v: %w", req.IP, ErrInUse)
	}
	if o, offered := s.offers[req.IP]; !req.Reserved && !s.known(client) &&
		!(offered && o.client == client && o.until.After(now)) && s.reserveHit(p, req.Reserve, now) {
		s.mu.Unlock()
		return Lease{}, nil, fmt.Errorf("%v: %w (%s)", req.IP, ErrReserve, req.Reserve)
	}
	l := Lease{
		IP: req.IP, Client: append(ClientID(nil), req.Client...), HWAddr: req.HWAddr, Hostname: req.Hostname,
		State: Bound, Start: now, Expiry: now.Add(req.LeaseTime), IssuedBy: s.issuer,
		RelayInfo: append([]byte(nil), req.RelayInfo...), DNSName: req.DNSName,
	}
	old, had := s.byIP[req.IP]
	if len(l.RelayInfo) == 0 && had && string(old.Client) == client {
		l.RelayInfo = old.RelayInfo
	}
	s.dropOffer(req.IP, client)
	s.index(l)
	s.mu.Unlock()
	return l, s.commitOwn(l, old, had), nil
}

// commitOwn queues a change this server made; subscribers hear of it once
// it is durable, a failed write is undone in the index.
func (s *Store) commitOwn(l, old Lease, had bool) *Pending {
	return s.enqueue([]Lease{l}, func(err error) {
		if err != nil {
			s.revert(l, old, had)
			return
		}
		s.notify(l)
	})
}

// wait turns an async result into a sync one.
func wait(l Lease, p *Pending, err error) (Lease, error) {
	if err != nil {
		return l, err
	}
	return l, p.Wait()
}

// Release frees ip if it is bound to client; the client keeps first claim
// on it while it stays free.
func (s *Store) Release(ip netip.Addr, client ClientID) (Lease, error) {
	return wait(s.ReleaseAsync(ip, client))
}

// ReleaseAsync is Release without waiting for the disk.
func (s *Store) ReleaseAsync(ip netip.Addr, client ClientID) (Lease, *Pending, error) {
	s.mu.Lock()
	old, had := s.byIP[ip]
	if !had || old.State != Bound || string(old.Client) != string(client) {
		s.mu.Unlock()
		return Lease{}, nil, fmt.Errorf("release %v: %w", ip, ErrNotYours)
	}
	l := old
	l.State, l.Start, l.Expiry = Released, s.now(), s.now()
	s.index(l)
	s.mu.Unlock()
	return l, s.commitOwn(l, old, had), nil
}

// Decline puts ip on probation until now+probation: a client found it in
// use. Only the client it was offered or bound to may decline it.
func (s *Store) Decline(ip netip.Addr, client ClientID, probation time.Duration) (Lease, error) {
	return wait(s.DeclineAsync(ip, client, probation))
}

// DeclineAsync is Decline without waiting for the disk.
func (s *Store) DeclineAsync(ip netip.Addr, client ClientID, probation time.Duration) (Lease, *Pending, error) {
	s.mu.Lock()
	old, had := s.byIP[ip]
	o, offered := s.offers[ip]
	mine := (had && string(old.Client) == string(client)) || (offered && o.client == string(client))
	if !mine {
		s.mu.Unlock()
		return Lease{}, nil, fmt.Errorf("decline %v: %w", ip, ErrNotYours)
	}
	now := s.now()
	l := Lease{IP: ip, State: Declined, Start: now, Expiry: now.Add(probation), IssuedBy: s.issuer}
	s.dropOffer(ip, string(client))
	s.index(l)
	s.mu.Unlock()
	return l, s.commitOwn(l, old, had), nil
}
