package dhcpserver

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/ddns"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/pingcheck"
)

// policyState is the background side of the policy handlers: the ping
// checker's socket and checks in flight, and the DDNS updater.
type policyState struct {
	mu      sync.Mutex
	bg      context.Context // Start's: the pinger and updater live as long
	pinger  *pingcheck.Pinger
	openErr error
	// inFlight are the addresses being pinged: a retransmitted DISCOVER
	// waits for the check already running instead of starting another.
	inFlight map[netip.Addr]bool
	ddns     *ddns.Updater

	pingChecks, pingConflicts, pingSkipped, pingBusy atomic.Uint64
}

// maxPingsInFlight bounds concurrent checks; past it an address is offered
// unchecked (counted as skipped): a storm of new clients must not pile up
// goroutines and sockets waiting for timeouts.
const maxPingsInFlight = 256

// PolicyStats count the ping check and DDNS work.
type PolicyStats struct {
	// PingChecks: addresses pinged before an offer; PingConflicts: those
	// that answered (declined, the next address offered); PingSkipped:
	// offered unchecked (no ICMP socket, or too many checks in flight);
	// PingBusy: DISCOVERs left to the check already running for their address.
	PingChecks    uint64     `json:"ping_checks"`
	PingConflicts uint64     `json:"ping_conflicts"`
	PingSkipped   uint64     `json:"ping_skipped"`
	PingBusy      uint64     `json:"ping_busy"`
	DDNS          ddns.Stats `json:"ddns"`
}

// Policy reports the policy counters.
func (s *Server) Policy() PolicyStats {
	p := &s.pol
	st := PolicyStats{PingChecks: p.pingChecks.Load(), PingConflicts: p.pingConflicts.Load(),
		PingSkipped: p.pingSkipped.Load(), PingBusy: p.pingBusy.Load()}
	p.mu.Lock()
	u := p.ddns
	p.mu.Unlock()
	if u != nil {
		st.DDNS = u.Stats()
	}
	return st
}

// Start runs the policy's background work until ctx ends: the DDNS
// updater (when ddns: is configured at start; its settings reload, turning
// it on needs a restart) and the ping checker's socket (opened at the
// first check). A server that is never started checks and updates nothing
// in the background: pings use a socket closed with ctx of Start only.
func (s *Server) Start(ctx context.Context) {
	p := &s.pol
	p.mu.Lock()
	p.bg = ctx
	p.mu.Unlock()
	if s.Config().DDNS == nil {
		return
	}
	u := ddns.New(ddns.Options{
		Config: func() *config.DDNS { return s.Config().DDNS },
		Store:  s.store, Me: s.store.Issuer().ServerID, Logger: s.log,
		Queue: s.Config().DDNS.Queue,
	})
	p.mu.Lock()
	p.ddns = u
	p.mu.Unlock()
	cancel := s.store.Subscribe(func(l lease.Lease) {
		// Bindings this server commits (the issuer updates DNS); the
		// partner's arrive through ApplyPeer and are not reported.
		u.Observe(l)
	})
	go func() {
		defer cancel()
		u.Run(ctx)
	}()
}

// pingerFor returns the open pinger, opening it at the first use.
func (s *Server) pingerFor() (*pingcheck.Pinger, context.Context, error) {
	p := &s.pol
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bg == nil {
		return nil, nil, errNotStarted
	}
	if p.pinger == nil && p.openErr == nil {
		p.pinger, p.openErr = pingcheck.Open(p.bg)
		if p.openErr != nil {
			s.log.Warn("ping check: offering unchecked", "err", p.openErr)
		}
	}
	return p.pinger, p.bg, p.openErr
}
