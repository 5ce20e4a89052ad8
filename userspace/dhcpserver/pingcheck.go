package dhcpserver

import (
	"errors"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

var errNotStarted = errors.New("server not started")

// maxPingTries bounds the addresses tried for one DISCOVER: each costs a
// timeout, and a client retransmits after about 4 s.
const maxPingTries = 4

// pingCheck (ping-check: enabled) pings an offered address that has never
// been leased before the OFFER leaves. The check runs in the background:
// the exchange waits on a Pending like a disk write, and the rest of the
// handlers run when the check ends. An address that answers is declined
// (a conflict, on probation like a client's DECLINE) and the next one is
// offered and checked in turn.
func pingCheck(s *Server, x *Exchange) bool {
	cfg := s.Config()
	if !cfg.PingCheck.Enabled || x.Resp == nil || x.Resp.MessageType() != dhcpv4.MessageTypeOffer {
		return true
	}
	ip := addrOf(x.Resp.YourIPAddr)
	if !s.fresh(x, ip) {
		return true
	}
	pinger, bg, err := s.pingerFor()
	if err != nil {
		s.pol.pingSkipped.Add(1)
		return true
	}
	switch s.claimPing(ip) {
	case pingBusy:
		return x.silent("ping check of %v in progress", ip)
	case pingSkip:
		return true
	}
	pending, complete := lease.NewPending()
	x.Pending = pending
	y := *x // the check's copy: Serve has returned x's fields by the time it runs
	go func() {
		for try := 1; ; try++ {
			s.pol.pingChecks.Add(1)
			answered, err := pinger.Ping(bg, ip, cfg.PingCheck.Wait())
			s.releasePing(ip)
			if err != nil || !answered {
				break
			}
			s.pol.pingConflicts.Add(1)
			s.log.Warn("ping check: address answers ping, declined", "ip", ip, "for", cfg.DeclineProbation)
			if _, p, err := s.store.DeclineAsync(ip, y.Client, cfg.DeclineProbation); err == nil {
				_ = p.Wait()
			}
			if !discover(s, &y) {
				complete(errWithdrawn)
				return
			}
			ip = addrOf(y.Resp.YourIPAddr)
			if try == maxPingTries || !s.fresh(&y, ip) || s.claimPing(ip) != pingClaimed {
				break
			}
		}
		s.run(&y)
		if y.Resp == nil {
			complete(errWithdrawn)
			return
		}
		complete(nil)
	}()
	return false
}

// fresh says whether ip has never been leased (no record in the store) and
// is not the client's reservation: only those are pinged.
func (s *Server) fresh(x *Exchange, ip netip.Addr) bool {
	if !ip.IsValid() || (x.Reservation != nil && x.Reservation.IP == ip) {
		return false
	}
	_, known := s.store.Get(ip)
	return !known
}

type pingClaim int

const (
	pingClaimed pingClaim = iota
	pingBusy              // a check of the address runs: leave the DISCOVER to it
	pingSkip              // too many checks run: offer unchecked
)

// claimPing marks ip as being checked.
func (s *Server) claimPing(ip netip.Addr) pingClaim {
	p := &s.pol
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inFlight == nil {
		p.inFlight = map[netip.Addr]bool{}
	}
	switch {
	case p.inFlight[ip]:
		p.pingBusy.Add(1)
		return pingBusy
	case len(p.inFlight) >= maxPingsInFlight:
		p.pingSkipped.Add(1)
		return pingSkip
	}
	p.inFlight[ip] = true
	return pingClaimed
}

func (s *Server) releasePing(ip netip.Addr) {
	s.pol.mu.Lock()
	delete(s.pol.inFlight, ip)
	s.pol.mu.Unlock()
}
