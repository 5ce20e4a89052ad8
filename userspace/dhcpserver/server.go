// Package dhcpserver answers DHCPv4 requests (RFC 2131/2132): a chain of
// handlers, one per concern as in coredhcp, builds the reply from the
// configuration and the lease store, and Route says where it must go.
package dhcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// Meta says where a request came in.
type Meta struct {
	Iface string
	// IfAddr is the receiving interface's IPv4 address (subnet selection
	// for direct clients, default server identifier).
	IfAddr netip.Addr
	// ServerID is the identifier (option 54) to answer with.
	ServerID netip.Addr
}

// Exchange is one request on its way through the handlers.
type Exchange struct {
	Ctx    context.Context
	Req    *dhcpv4.DHCPv4
	Resp   *dhcpv4.DHCPv4
	Meta   Meta
	Subnet *config.Subnet
	Client lease.ClientID
	// Reservation is the client's reservation in Subnet, if any.
	Reservation *config.Reservation
	// Why says why the exchange ended without a reply (logs, tests).
	Why string
	// Pending is the lease change this exchange made: the reply may leave
	// only once it is durable.
	Pending *lease.Pending

	// BOOTP: a BOOTREQUEST without a DHCP message type (bootp: true).
	BOOTP bool
	// Relay is the relay agent information (option 82).
	Relay RelayInfo
	// Shared are the subnets the client may get an address from: the
	// selected one, then the rest of its shared network.
	Shared []*config.Subnet
	// Classes are the classes the client is a member of, in file order;
	// PoolClass the first with ranges (the client's pool).
	Classes   []*config.Class
	PoolClass string
	// Boot is the effective next server, server name and boot file.
	Boot config.Boot
	// DNSName is the name DDNS registers for the lease ("" none); fqdn is
	// the client's FQDN option (81), if it sent one.
	DNSName string
	fqdn    *clientFQDN
	// next is the index of the next handler (a check that waits resumes there).
	next int
	// base is the configured subnet under Subnet's class settings.
	base *config.Subnet
}

// Handler does one concern. It returns false to end the exchange; the
// reply is then Resp (nil: no reply).
type Handler func(s *Server, x *Exchange) bool

// Server answers requests.
type Server struct {
	cfg      atomic.Pointer[config.Config]
	limit    atomic.Pointer[LeaseLimit]
	store    *lease.Store
	log      *slog.Logger
	handlers []Handler
	// limiter's buckets outlive configuration swaps (SetConfig).
	limiter limiter
	drops   dropCounters
	now     func() time.Time // the limiter's clock (tests)
	pol     policyState      // ping check and DDNS (policy.go)
}

// New makes a server over cfg and store.
func New(cfg *config.Config, store *lease.Store, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{store: store, log: log, now: time.Now, handlers: []Handler{
		checkRequest,     // shape, message type (BOOTP when enabled)
		readRelayInfo,    // option 82 sub-options
		selectSubnet,     // link selection, option 118, giaddr, interface; shared network
		identifyClient,   // option 61 or chaddr; reservation across the shared network
		subnetOfAddress,  // the shared network's subnet holding the address a message names
		classify,         // class membership, the client's pool, effective settings
		limitAllocations, // per-relay and per-client rate of new addresses
		readFQDN,         // the name DDNS registers (options 81, 12, reservation)
		leaseByMessage,   // offer, bind, decline, release, inform, BOOTP
		pingCheck,        // a fresh offered address must not answer ping
		setOptions,       // parameter request list, subnet and class options, timers
		setBoot,          // siaddr, sname, file; options 66/67
		replyFQDN,        // option 81 in the reply
		finishBOOTP,      // a BOOTREPLY carries no DHCP-only options
		// Option 82 goes back to the relay: NewReplyFromRequest copies it.
	}}
	s.cfg.Store(cfg)
	return s
}

// LeaseLimit caps the lease time given for an address (failover's MCLT
// rule: a lease may outlast what the partner acknowledged by at most MCLT).
type LeaseLimit func(ip netip.Addr, want time.Duration) time.Duration

// SetLeaseLimit installs the cap (nil: none).
func (s *Server) SetLeaseLimit(fn LeaseLimit) {
	if fn == nil {
		s.limit.Store(nil)
		return
	}
	s.limit.Store(&fn)
}

// leaseTime is the configured lease time for ip, capped by the limit.
func (s *Server) leaseTime(ip netip.Addr, configured time.Duration) time.Duration {
	if fn := s.limit.Load(); fn != nil && ip.IsValid() {
		return min(configured, (*fn)(ip, configured))
	}
	return configured
}

// Config is the configuration in use.
func (s *Server) Config() *config.Config { return s.cfg.Load() }

// SetConfig swaps the configuration (reload).
func (s *Server) SetConfig(c *config.Config) { s.cfg.Store(c) }

// Handle answers one request, waiting until its lease change is on disk;
// a nil reply means stay silent.
func (s *Server) Handle(ctx context.Context, req *dhcpv4.DHCPv4, m Meta) *dhcpv4.DHCPv4 {
	resp, pending := s.Serve(ctx, req, m)
	if pending != nil {
		if err := pending.Wait(); err != nil {
			// The store logs the failure (rate-limited); Serve counted it.
			s.log.Debug("lease not stored, no reply", "chaddr", req.ClientHWAddr, "err", err)
			return nil
		}
	}
	return resp
}

// Serve answers one request without waiting for the disk: when pending is
// not nil the reply (if any) must be sent only after pending completes
// without error (pending.Then), so no ACK leaves before its lease is
// fsync'd and the caller's goroutine never blocks on the disk.
func (s *Server) Serve(ctx context.Context, req *dhcpv4.DHCPv4, m Meta) (resp *dhcpv4.DHCPv4, pending *lease.Pending) {
	x := &Exchange{Ctx: ctx, Req: req, Meta: m}
	s.run(x)
	if x.Pending != nil && x.Resp != nil {
		x.Pending.Then(func(err error) {
			if err != nil && !errors.Is(err, errWithdrawn) {
				s.drops.notStored.Add(1)
			}
		})
	}
	if x.Resp == nil && s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("no reply", "type", req.MessageType(), "chaddr", req.ClientHWAddr, "xid", req.TransactionID, "why", x.Why)
	}
	return x.Resp, x.Pending
}

// run runs the handlers from x.next until one ends the exchange.
func (s *Server) run(x *Exchange) {
	for x.next < len(s.handlers) {
		h := s.handlers[x.next]
		x.next++
		if !h(s, x) {
			return
		}
	}
}

// errWithdrawn completes a deferred reply that is not to be sent after all.
var errWithdrawn = errors.New("reply withdrawn")

// silent ends the exchange without a reply.
func (x *Exchange) silent(f string, a ...any) bool {
	x.Resp = nil
	x.Why = fmt.Sprintf(f, a...)
	return false
}

func ip4(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}
