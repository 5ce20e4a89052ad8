package config

// Policy settings: relay-agent reservations, shared networks, client
// classes, network boot fields, BOOTP, ping check and DDNS.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// Defaults for the policy settings.
const (
	DefaultPingTimeout = 500 * time.Millisecond
	DefaultDDNSTTL     = 5 * time.Minute
	DefaultDDNSTimeout = 2 * time.Second
	DefaultDDNSQueue   = 1024
	DefaultTSIG        = "hmac-sha256"
)

// Boot is what a network-booting client is told: the BOOTP header's siaddr,
// sname and file fields (and options 66/67 when it asks for them).
type Boot struct {
	NextServer netip.Addr `json:"next_server,omitzero"`
	ServerName string     `json:"server_name,omitempty"`
	BootFile   string     `json:"boot_file,omitempty"`
}

// Over returns b with the fields o sets replacing b's.
func (b Boot) Over(o Boot) Boot {
	if o.NextServer.IsValid() {
		b.NextServer = o.NextServer
	}
	if o.ServerName != "" {
		b.ServerName = o.ServerName
	}
	if o.BootFile != "" {
		b.BootFile = o.BootFile
	}
	return b
}

// Class is a client class: clients for which every Match holds are its
// members and get its settings (see docs/configuration.md for the order).
type Class struct {
	Name  string  `json:"name"`
	Match []Match `json:"match"`
	Boot
	Options   []Option      `json:"options,omitempty"`
	LeaseTime time.Duration `json:"lease_time,omitempty"`
	// Ranges are pools kept for the class's members: members get addresses
	// only from them, other clients never do.
	Ranges []lease.Range `json:"ranges,omitempty"`
	Line   int           `json:"-"`
}

// MatchKind says how a value is compared.
type MatchKind string

const (
	MatchExact  MatchKind = "exact"
	MatchPrefix MatchKind = "prefix"
)

// Match is one condition on a request: an option's payload (Option), or a
// relay agent sub-option's (Relay, inside option 82), compared with Value.
type Match struct {
	Option uint8     `json:"option,omitempty"`
	Relay  uint8     `json:"relay,omitempty"`
	Kind   MatchKind `json:"kind"`
	Value  []byte    `json:"value"`
}

// Holds says whether v (the option or sub-option, present or not) matches.
func (m Match) Holds(v []byte, present bool) bool {
	if !present {
		return false
	}
	if m.Kind == MatchPrefix {
		return bytes.HasPrefix(v, m.Value)
	}
	return bytes.Equal(v, m.Value)
}

func (m Match) String() string {
	what := fmt.Sprintf("option %d", m.Option)
	if m.Relay != 0 {
		what = fmt.Sprintf("relay sub-option %d", m.Relay)
	}
	return fmt.Sprintf("%s %s %q", what, m.Kind, m.Value)
}

// Relay agent sub-options (RFC 3046, 3527).
const (
	RelayCircuitID     = 1
	RelayRemoteID      = 2
	RelayLinkSelection = 5
	RelaySubscriberID  = 6
)

// PingCheck asks whether an address never leased before answers ICMP echo
// before it is offered (off by default, as in ISC's ping-check and Kea's
// ping_check hook).
type PingCheck struct {
	Enabled bool          `json:"enabled"`
	Timeout time.Duration `json:"timeout,omitempty"` // 0: DefaultPingTimeout
	Line    int           `json:"-"`
}

// Wait is how long a ping waits for an answer.
func (p PingCheck) Wait() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultPingTimeout
}

// DDNS sends RFC 2136 updates (A and PTR, with RFC 4701 DHCID records for
// conflict resolution, RFC 4703) for the leases this server issues.
type DDNS struct {
	Server         netip.AddrPort `json:"server"`
	Zone           string         `json:"zone"`
	ReverseZone    string         `json:"reverse_zone,omitempty"`
	TSIGName       string         `json:"tsig_name,omitempty"`
	TSIGAlgorithm  string         `json:"tsig_algorithm,omitempty"`
	TSIGSecretFile string         `json:"tsig_secret_file,omitempty"`
	// TSIGSecret is the base64 key read from TSIGSecretFile.
	TSIGSecret string        `json:"-"`
	TTL        time.Duration `json:"ttl,omitempty"`
	Timeout    time.Duration `json:"timeout,omitempty"`
	// Queue bounds the updates waiting to be sent; more are dropped (counted).
	Queue int `json:"queue,omitempty"`
	Line  int `json:"-"`
}

// tsigAlgorithms are the names accepted for tsig-algorithm.
var tsigAlgorithms = map[string]string{
	"hmac-sha1": dns.HmacSHA1, "hmac-sha224": dns.HmacSHA224, "hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384, "hmac-sha512": dns.HmacSHA512,
}

// TSIGAlgorithmName is the algorithm's DNS name (hmac-sha256.).
func (d *DDNS) TSIGAlgorithmName() string { return tsigAlgorithms[d.TSIGAlgorithm] }

// IDString shows a relay id as the file writes it: quoted text when it is
// printable, else 0x hex ("" for none).
func IDString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "0x" + hex.EncodeToString(b)
		}
	}
	return strconv.Quote(string(b))
}

// SharedWith lists the subnets a client of s may get an address from: s,
// then the other subnets of its shared network in the file's order.
func (c *Config) SharedWith(s *Subnet) []*Subnet {
	out := []*Subnet{s}
	if s.SharedNetwork == "" {
		return out
	}
	for _, o := range c.Subnets {
		if o != s && o.SharedNetwork == s.SharedNetwork {
			out = append(out, o)
		}
	}
	return out
}

// RangesIn are the class's ranges inside subnet s.
func (cl *Class) RangesIn(s netip.Prefix) []lease.Range {
	var out []lease.Range
	for _, r := range cl.Ranges {
		if s.Contains(r.Start) {
			out = append(out, r)
		}
	}
	return out
}

func (c *Config) validatePolicy(bad func(line int, f string, a ...any)) {
	if c.BOOTPLeaseTime < 0 {
		bad(0, "bootp-lease-time must be positive (or infinite)")
	}
	if c.PingCheck.Timeout < 0 || c.PingCheck.Timeout > 10*time.Second {
		bad(c.PingCheck.Line, "ping-check: timeout %v: want 0 < timeout <= 10s", c.PingCheck.Timeout)
	}
	names := map[string]int{}
	var classRanges []lease.Range
	for _, cl := range c.Classes {
		if l, ok := names[cl.Name]; ok {
			bad(cl.Line, "class %q: name already used on line %d", cl.Name, l)
		}
		names[cl.Name] = cl.Line
		if cl.Name == "" {
			bad(cl.Line, "class without a name:")
		}
		if len(cl.Match) == 0 {
			bad(cl.Line, "class %q: no match: condition", cl.Name)
		}
		if cl.LeaseTime < 0 {
			bad(cl.Line, "class %q: lease-time must be positive", cl.Name)
		}
		validateBoot(bad, cl.Line, "class "+cl.Name, cl.Boot)
		for _, r := range cl.Ranges {
			s := c.SubnetFor(r.Start)
			if s == nil || !s.Prefix.Contains(r.End) {
				bad(cl.Line, "class %q: range %v is not inside one configured subnet", cl.Name, r)
				continue
			}
			for _, o := range append(append([]lease.Range(nil), s.Ranges...), classRanges...) {
				if o.Contains(r.Start) || o.Contains(r.End) || r.Contains(o.Start) {
					bad(cl.Line, "class %q: range %v overlaps range %v (a class's ranges are its own)", cl.Name, r, o)
				}
			}
			classRanges = append(classRanges, r)
		}
	}
	for _, s := range c.Subnets {
		validateBoot(bad, s.Line, fmt.Sprintf("subnet %v", s.Prefix), s.Boot)
		for _, r := range s.Reservations {
			validateBoot(bad, r.Line, fmt.Sprintf("reservation %v", r.IP), r.Boot)
		}
	}
	if d := c.DDNS; d != nil {
		validateDDNS(bad, d)
	}
}

func validateBoot(bad func(line int, f string, a ...any), line int, where string, b Boot) {
	if len(b.ServerName) > 63 {
		bad(line, "%s: server-name of %d bytes, at most 63 (the sname field)", where, len(b.ServerName))
	}
	if len(b.BootFile) > 255 {
		bad(line, "%s: boot-file of %d bytes, at most 255 (option 67)", where, len(b.BootFile))
	}
}

func validateDDNS(bad func(line int, f string, a ...any), d *DDNS) {
	if !d.Server.Addr().Is4() || d.Server.Port() == 0 {
		bad(d.Line, "ddns: server %v: want an IPv4 address (and port)", d.Server)
	}
	if _, ok := dns.IsDomainName(d.Zone); !ok || d.Zone == "" || d.Zone == "." {
		bad(d.Line, "ddns: zone %q: want a domain name like example.org", d.Zone)
	}
	if d.ReverseZone != "" && !strings.HasSuffix(d.ReverseZone, ".in-addr.arpa.") {
		bad(d.Line, "ddns: reverse-zone %q: want a zone under in-addr.arpa (like 0.18.198.in-addr.arpa)", d.ReverseZone)
	}
	if (d.TSIGName == "") != (d.TSIGSecret == "") {
		bad(d.Line, "ddns: give tsig-name and tsig-secret-file together (or neither)")
	}
	if _, ok := tsigAlgorithms[d.TSIGAlgorithm]; !ok {
		bad(d.Line, "ddns: tsig-algorithm %q: want hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512", d.TSIGAlgorithm)
	}
	if d.TTL <= 0 || d.Timeout <= 0 || d.Queue <= 0 {
		bad(d.Line, "ddns: ttl, timeout and queue must be positive")
	}
}
