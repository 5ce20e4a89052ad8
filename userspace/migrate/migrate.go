// Package migrate holds what the ISC dhcpd and Kea importers share: the
// report of what was not carried over, the failover pair as serve flags,
// the standard option table, and writing the result (the YAML
// configuration and the lease store). The parsers live in migrate/isc and
// migrate/kea.
package migrate

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// Pos is a place in a source file.
type Pos struct {
	File      string `json:"file"`
	Line, Col int    `json:"-"`
}

func (p Pos) String() string {
	f := p.File
	if strings.IndexFunc(f, unicode.IsControl) >= 0 || !utf8.ValidString(f) {
		f = strconv.Quote(f) // an included name may hold anything: keep the message one line
	}
	if p.Col == 0 {
		return fmt.Sprintf("%s:%d", f, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", f, p.Line, p.Col)
}

// Skip is one statement (or lease record) not carried over, and why.
type Skip struct {
	Pos  Pos    `json:"-"`
	What string `json:"statement"`
	Why  string `json:"reason"`
}

func (s Skip) String() string { return fmt.Sprintf("%v: %s: %s", s.Pos, s.What, s.Why) }

// Pair is the failover partnership of the imported server, as the flags
// `xdhcp serve` takes for it.
type Pair struct {
	Name   string // the peer's name in the source
	Source Pos
	Role   decide.Role
	// Split is ISC's split (0..256) or -1 when HBA was given bit by bit.
	Split int
	HBA   decide.HBA
	// Threshold is the secs value from which the non-owner answers
	// (ISC load balance max seconds M -> M+1; 0: load balancing off).
	Threshold       uint16
	MCLT            time.Duration
	Peer, Listen    string // ADDR:PORT
	ReceiveTimeout  time.Duration
	AutoPartnerDown time.Duration
	// Notes say what the flags cannot express (printed with them).
	Notes []string
}

// Flags are the serve flags for the pair, in a stable order.
func (p *Pair) Flags() []string {
	out := []string{"--role", p.Role.String()}
	if p.Split >= 0 {
		out = append(out, "--split", strconv.Itoa(p.Split))
	} else {
		out = append(out, "--hba", p.HBA.String())
	}
	out = append(out, "--threshold", strconv.Itoa(int(p.Threshold)))
	if p.MCLT > 0 {
		out = append(out, "--mclt", config.Dur(p.MCLT))
	}
	if p.Peer != "" {
		out = append(out, "--peer", p.Peer)
	}
	if p.Listen != "" {
		out = append(out, "--listen-peer", p.Listen)
	}
	if p.ReceiveTimeout > 0 {
		out = append(out, "--receive-timeout", config.Dur(p.ReceiveTimeout))
	}
	if p.AutoPartnerDown > 0 {
		out = append(out, "--auto-partner-down", config.Dur(p.AutoPartnerDown))
	}
	return append(out, "--secret-file", "FILE")
}

// Result is what an importer read.
type Result struct {
	Config *config.Config
	// Comments say where each subnet and reservation came from.
	Comments map[any]string
	Leases   []lease.Lease
	Pair     *Pair
	Skipped  []Skip
	// Read counts the lease records read, by their source state; Kept is
	// how many of the addresses go into the store.
	Read map[string]int
	Kept int
}

// NewResult starts a result with xdhcp's defaults.
func NewResult() *Result {
	return &Result{Config: config.Default(), Comments: map[any]string{}, Read: map[string]int{}}
}

// Skip records something not carried over.
func (r *Result) Skip(pos Pos, what, why string, a ...any) {
	r.Skipped = append(r.Skipped, Skip{Pos: pos, What: what, Why: fmt.Sprintf(why, a...)})
}

// SortSkipped orders the skipped statements by file and line.
func (r *Result) SortSkipped() {
	slices.SortStableFunc(r.Skipped, func(a, b Skip) int {
		if a.Pos.File != b.Pos.File {
			return cmpStr(a.Pos.File, b.Pos.File)
		}
		return a.Pos.Line - b.Pos.Line
	})
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SubnetOf is the imported subnet containing a.
func (r *Result) SubnetOf(a netip.Addr) *config.Subnet { return r.Config.SubnetFor(a) }

// Never is the expiry of an infinite lease (dhcpd's "never", Kea's
// lifetime 4294967295): the largest 32-bit Unix time, which both read.
var Never = time.Unix(1<<32-1, 0).UTC()

// NewLease starts the store's record of another server's lease: the
// client is its client identifier when it has one, else the hardware type
// and address (xdhcp's key for a client that sends no option 61).
func NewLease(ip netip.Addr, cid []byte, htype byte, hw net.HardwareAddr, hostname string) lease.Lease {
	l := lease.Lease{IP: ip, Hostname: hostname}
	switch {
	case len(cid) > 0:
		l.Client = lease.ClientID(cid)
	case len(hw) > 0:
		l.Client = append(lease.ClientID{htype}, hw...)
	}
	if len(hw) > 0 {
		l.HWAddr = hw.String()
	}
	return l
}

// Unservable says why xdhcp could not keep a live binding of a ("" when
// it can).
func (r *Result) Unservable(a netip.Addr) string {
	switch {
	case r.Servable(a):
		return ""
	case r.SubnetOf(a) == nil:
		return "in no imported subnet"
	}
	return "outside every range and reservation of its subnet: xdhcp would refuse the client at its next request"
}

// Servable says whether xdhcp would let a client keep a: the address is in
// one of its subnet's ranges or reserved there. A binding to any other
// address is refused at the client's next request.
func (r *Result) Servable(a netip.Addr) bool {
	s := r.SubnetOf(a)
	if s == nil {
		return false
	}
	for _, rg := range s.Ranges {
		if rg.Contains(a) {
			return true
		}
	}
	for _, res := range s.Reservations {
		if res.IP == a {
			return true
		}
	}
	return false
}

// SetOption puts a standard option's value where the configuration keeps
// it: routers, dns, domain, the lease timers, or the subnet's options. It
// returns why not when the value cannot be carried over.
func SetOption(c *config.Config, s *config.Subnet, code uint8, v []byte) string {
	ips := func() ([]netip.Addr, bool) {
		if len(v) == 0 || len(v)%4 != 0 {
			return nil, false
		}
		var out []netip.Addr
		for i := 0; i < len(v); i += 4 {
			out = append(out, netip.AddrFrom4([4]byte(v[i:i+4])))
		}
		return out, true
	}
	secs := func() (time.Duration, bool) {
		if len(v) != 4 {
			return 0, false
		}
		n := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
		return time.Duration(n) * time.Second, n > 0 && n != 0xffffffff
	}
	switch code {
	case 1:
		if bytes.Equal(v, net.CIDRMask(s.Prefix.Bits(), 32)) {
			return "" // xdhcp sends the subnet's own mask
		}
		return fmt.Sprintf("a subnet mask other than the subnet's /%d: xdhcp sends the subnet's own", s.Prefix.Bits())
	case 3:
		a, ok := ips()
		if !ok {
			return "not a list of IPv4 addresses"
		}
		for _, x := range a {
			if !s.Prefix.Contains(x) {
				return fmt.Sprintf("router %v is outside %v", x, s.Prefix)
			}
		}
		s.Routers = a
		return ""
	case 6:
		a, ok := ips()
		if !ok {
			return "not a list of IPv4 addresses"
		}
		s.DNS = a
		return ""
	case 15:
		if !utf8.Valid(v) {
			return "the domain name is not UTF-8 text"
		}
		s.Domain = string(v)
		return ""
	case 51, 58, 59:
		d, ok := secs()
		if !ok {
			return "a lease time of zero or infinite (BOOTP-style) is not supported"
		}
		*map[uint8]*time.Duration{51: &s.LeaseTime, 58: &s.T1, 59: &s.T2}[code] = d
		return ""
	case 54:
		a, ok := ips()
		if !ok || len(a) != 1 {
			return "not one IPv4 address"
		}
		if c.ServerID.IsValid() && c.ServerID != a[0] {
			return fmt.Sprintf("xdhcp has one server identifier for all subnets (%v already)", c.ServerID)
		}
		c.ServerID = a[0]
		return ""
	case 0, 50, 52, 53, 55, 61, 82, 255:
		return "set by the server from the request, not configurable"
	}
	if len(v) > 255 {
		return fmt.Sprintf("value of %d bytes, at most 255", len(v))
	}
	for i, o := range s.Options {
		if o.Code == code {
			s.Options[i].Value = v
			return ""
		}
	}
	s.Options = append(s.Options, config.Option{Code: code, Value: v})
	return ""
}
