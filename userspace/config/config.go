// Package config loads and validates xdhcp's YAML configuration, reporting
// every error with the line and column it comes from.
package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// Defaults for settings the file may leave out.
const (
	DefaultLeaseTime        = time.Hour
	DefaultOfferHold        = 30 * time.Second
	DefaultDeclineProbation = time.Hour
	DefaultDB               = "/var/lib/xdhcp/leases.db"
)

// Config is the daemon's whole configuration.
type Config struct {
	Interfaces []string   `json:"interfaces"`
	DB         string     `json:"db"`
	ServerID   netip.Addr `json:"server_id,omitzero"`
	// Authoritative servers NAK requests for addresses wrong for the
	// client's network; non-authoritative ones stay silent.
	Authoritative    bool          `json:"authoritative"`
	LeaseTime        time.Duration `json:"lease_time"`
	OfferHold        time.Duration `json:"offer_hold"`
	DeclineProbation time.Duration `json:"decline_probation"`
	XDP              string        `json:"xdp"`
	Limits           Limits        `json:"limits"`
	Subnets          []*Subnet     `json:"subnets"`
	// BOOTP answers BOOTREQUESTs without a DHCP message type (dynamic
	// BOOTP) with an address from a range, for BOOTPLeaseTime (0: infinite).
	BOOTP          bool          `json:"bootp,omitempty"`
	BOOTPLeaseTime time.Duration `json:"bootp_lease_time,omitempty"`
	// Classes are evaluated in this order (see Class).
	Classes   []*Class  `json:"classes,omitempty"`
	PingCheck PingCheck `json:"ping_check,omitzero"`
	DDNS      *DDNS     `json:"ddns,omitempty"`
}

// DefaultTracked is how many clients (and relays) the rate limiter
// remembers at most: a flood of random MACs evicts the least recently seen
// ones instead of growing memory.
const DefaultTracked = 65536

// Limits keep a storm of new clients (DISCOVERs from random MACs) from
// starving the clients already served. Rates count allocating messages
// (DISCOVER, and REQUEST for an address the client does not hold) per
// second with token buckets of the given burst; renewals, rebinds,
// INIT-REBOOT for the client's own address and reserved clients are never
// limited. Zero rates and reserve (the default) turn each off.
type Limits struct {
	// RelayRate limits each relay (giaddr; the receiving interface for
	// direct clients).
	RelayRate  float64 `json:"relay_rate,omitempty"`
	RelayBurst int     `json:"relay_burst,omitempty"` // 0: the rate rounded up, at least 1
	// ClientRate limits each client (option 61, else chaddr).
	ClientRate  float64 `json:"client_rate,omitempty"`
	ClientBurst int     `json:"client_burst,omitempty"` // 0: the rate rounded up, at least 1
	// Tracked caps the clients and the relays remembered (LRU).
	Tracked int `json:"tracked,omitempty"`
	// PoolReserve keeps the last addresses of every pool share for clients
	// the store knows and reserved clients.
	PoolReserve lease.Reserve `json:"pool_reserve,omitzero"`
	Line        int           `json:"-"`
}

// Burst is the bucket size for rate with the configured burst b.
func Burst(rate float64, b int) float64 {
	if b > 0 {
		return float64(b)
	}
	return max(1, math.Ceil(rate))
}

// Subnet is one served network.
type Subnet struct {
	Prefix  netip.Prefix  `json:"subnet"`
	Ranges  []lease.Range `json:"ranges"`
	Routers []netip.Addr  `json:"routers,omitempty"`
	DNS     []netip.Addr  `json:"dns,omitempty"`
	Domain  string        `json:"domain,omitempty"`
	// Interface selects this subnet for direct (unrelayed) clients arriving
	// on it; without it the interface's address decides.
	Interface string `json:"interface,omitempty"`
	// SharedNetwork names the link this subnet shares with others: a
	// client of one may get an address from any (see Config.SharedWith).
	SharedNetwork string `json:"shared_network,omitempty"`
	Boot
	LeaseTime    time.Duration  `json:"lease_time,omitempty"` // 0: the global one
	T1           time.Duration  `json:"t1,omitempty"`         // 0: half the lease
	T2           time.Duration  `json:"t2,omitempty"`         // 0: 7/8 of the lease
	Options      []Option       `json:"options,omitempty"`
	Reservations []*Reservation `json:"reservations,omitempty"`
	Line         int            `json:"-"`
}

// Option is a raw DHCP option sent to the subnet's clients when they ask.
type Option struct {
	Code  uint8  `json:"code"`
	Value []byte `json:"value"`
}

// Reservation pins an address (and optionally a hostname) to one client,
// known by its MAC, its client id, or the relay agent's circuit or remote
// id (every client behind that circuit: one address per port).
type Reservation struct {
	HWAddr    net.HardwareAddr `json:"hwaddr,omitempty"`
	ClientID  lease.ClientID   `json:"client_id,omitempty"`
	CircuitID []byte           `json:"circuit_id,omitempty"`
	RemoteID  []byte           `json:"remote_id,omitempty"`
	Boot
	IP       netip.Addr `json:"ip"`
	Hostname string     `json:"hostname,omitempty"`
	Line     int        `json:"-"`
}

// Default is the configuration before file and flags.
func Default() *Config {
	return &Config{
		DB: DefaultDB, Authoritative: true, LeaseTime: DefaultLeaseTime,
		OfferHold: DefaultOfferHold, DeclineProbation: DefaultDeclineProbation, XDP: "auto",
		Limits: Limits{Tracked: DefaultTracked},
	}
}

// Error is one problem at a place in the file (Line 0: not from the file).
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found; Load returns them all at once.
type Errors []Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse reads and validates a configuration; name labels its errors.
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	p := &parser{file: name}
	p.parse(data, c)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	if err := c.Validate(name); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the settings that relate to each other (the file's
// shape and value syntax are checked while parsing); flags overriding the
// file go through it again.
func (c *Config) Validate(file string) error {
	var errs Errors
	bad := func(line int, f string, a ...any) {
		errs = append(errs, Error{File: file, Line: line, Col: 1, Msg: fmt.Sprintf(f, a...)})
	}
	if c.LeaseTime <= 0 {
		bad(0, "lease-time must be positive")
	}
	switch c.XDP {
	case "auto", "off", "native", "generic":
	default:
		bad(0, "xdp %q: want auto, off, native or generic", c.XDP)
	}
	if c.DB == "" {
		bad(0, "db: a lease store path is needed")
	}
	if c.ServerID.IsValid() && !c.ServerID.Is4() {
		bad(0, "server-id %v: not an IPv4 address", c.ServerID)
	}
	c.Limits.validate(bad)
	c.validatePolicy(bad)
	if len(c.Subnets) == 0 {
		bad(0, "no subnet configured: give --subnet or a subnets: list")
	}
	resIP := map[netip.Addr]int{}
	for i, s := range c.Subnets {
		where := fmt.Sprintf("subnet %v", s.Prefix)
		if !s.Prefix.Addr().Is4() {
			bad(s.Line, "%s: not an IPv4 prefix", where)
			continue
		}
		for _, o := range c.Subnets[:i] {
			if o.Prefix.Overlaps(s.Prefix) {
				bad(s.Line, "%s overlaps subnet %v", where, o.Prefix)
			}
		}
		if len(s.Ranges) == 0 && len(s.Reservations) == 0 && !c.classRangesIn(s.Prefix) {
			bad(s.Line, "%s: no range and no reservation: nothing to hand out", where)
		}
		for j, r := range s.Ranges {
			if !s.Prefix.Contains(r.Start) || !s.Prefix.Contains(r.End) {
				bad(s.Line, "%s: range %v is outside the subnet", where, r)
			}
			for _, o := range s.Ranges[:j] {
				if o.Contains(r.Start) || o.Contains(r.End) || r.Contains(o.Start) {
					bad(s.Line, "%s: ranges %v and %v overlap", where, o, r)
				}
			}
		}
		for _, a := range s.Routers {
			if !s.Prefix.Contains(a) {
				bad(s.Line, "%s: router %v is outside the subnet", where, a)
			}
		}
		lt := s.LeaseTime
		if lt == 0 {
			lt = c.LeaseTime
		}
		if s.T1 < 0 || s.T2 < 0 || (s.T1 > 0 && s.T1 >= lt) || (s.T2 > 0 && s.T2 >= lt) || (s.T1 > 0 && s.T2 > 0 && s.T1 >= s.T2) {
			bad(s.Line, "%s: want 0 < t1 < t2 < lease-time (t1 %v, t2 %v, lease %v)", where, s.T1, s.T2, lt)
		}
		seen := map[string]int{}
		for _, r := range s.Reservations {
			if !s.Prefix.Contains(r.IP) {
				bad(r.Line, "reservation %v is outside %s", r.IP, where)
			}
			if l, ok := resIP[r.IP]; ok {
				bad(r.Line, "address %v is already reserved on line %d", r.IP, l)
			}
			resIP[r.IP] = r.Line
			for _, k := range []string{"mac " + r.HWAddr.String(), "client-id " + r.ClientID.String(),
				"circuit-id " + IDString(r.CircuitID), "remote-id " + IDString(r.RemoteID)} {
				if strings.HasSuffix(k, " ") {
					continue
				}
				if l, ok := seen[k]; ok {
					bad(r.Line, "%s already has a reservation on line %d", k, l)
				}
				seen[k] = r.Line
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (l *Limits) validate(bad func(line int, f string, a ...any)) {
	if l.RelayRate < 0 || math.IsNaN(l.RelayRate) || math.IsInf(l.RelayRate, 0) {
		bad(l.Line, "limits: relay-rate %v: want a rate >= 0 (0: off)", l.RelayRate)
	}
	if l.ClientRate < 0 || math.IsNaN(l.ClientRate) || math.IsInf(l.ClientRate, 0) {
		bad(l.Line, "limits: client-rate %v: want a rate >= 0 (0: off)", l.ClientRate)
	}
	if l.RelayBurst < 0 || l.ClientBurst < 0 {
		bad(l.Line, "limits: relay-burst %d, client-burst %d: want >= 0 (0: the rate)", l.RelayBurst, l.ClientBurst)
	}
	if l.Tracked < 0 {
		bad(l.Line, "limits: clients-tracked %d: want > 0", l.Tracked)
	}
	if r := l.PoolReserve; r.Addresses < 0 || r.Percent < 0 || r.Percent >= 100 || math.IsNaN(r.Percent) {
		bad(l.Line, "limits: pool-reserve %s: want N addresses or P%% with 0 <= P < 100", r)
	}
}

// SubnetFor is the subnet containing a (relay address or interface address).
func (c *Config) SubnetFor(a netip.Addr) *Subnet {
	for _, s := range c.Subnets {
		if s.Prefix.Contains(a) {
			return s
		}
	}
	return nil
}

// Pools are the dynamic ranges for the lease store, reservations excluded:
// each subnet's own, then each class's ranges in it.
func (c *Config) Pools() []lease.Pool {
	var out []lease.Pool
	for _, s := range c.Subnets {
		excluded := map[netip.Addr]bool{}
		for _, r := range s.Reservations {
			excluded[r.IP] = true
		}
		out = append(out, lease.Pool{Subnet: s.Prefix, Ranges: s.Ranges, Excluded: excluded})
		for _, cl := range c.Classes {
			if rs := cl.RangesIn(s.Prefix); len(rs) > 0 {
				out = append(out, lease.Pool{Subnet: s.Prefix, Ranges: rs, Excluded: excluded, Class: cl.Name})
			}
		}
	}
	return out
}

func (c *Config) classRangesIn(p netip.Prefix) bool {
	for _, cl := range c.Classes {
		if len(cl.RangesIn(p)) > 0 {
			return true
		}
	}
	return false
}

// Timers returns the lease time, T1 and T2 for s.
func (c *Config) Timers(s *Subnet) (lt, t1, t2 time.Duration) {
	lt = c.LeaseTime
	if s.LeaseTime > 0 {
		lt = s.LeaseTime
	}
	t1, t2 = s.T1, s.T2
	if t1 == 0 {
		t1 = lt / 2
	}
	if t2 == 0 {
		t2 = lt * 7 / 8
	}
	return lt, t1, t2
}
