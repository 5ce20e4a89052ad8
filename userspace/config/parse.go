package config

import (
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// parser walks the YAML node tree by hand so that every error carries the
// position of the node it is about, and parsing goes on after an error.
type parser struct {
	file string
	errs Errors
}

func (p *parser) errorf(n *yaml.Node, f string, a ...any) {
	p.errs = append(p.errs, Error{File: p.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(f, a...)})
}

func (p *parser) parse(data []byte, c *Config) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml's own messages already say "yaml: line N: ...".
		p.errs = append(p.errs, Error{Msg: fmt.Sprintf("%s: %v", p.file, err)})
		return
	}
	if len(doc.Content) == 0 {
		p.errs = append(p.errs, Error{Msg: p.file + ": empty configuration"})
		return
	}
	p.fields(doc.Content[0], "configuration", map[string]func(*yaml.Node){
		"interfaces":        func(n *yaml.Node) { c.Interfaces = p.strs(n) },
		"db":                func(n *yaml.Node) { c.DB = p.str(n) },
		"server-id":         func(n *yaml.Node) { c.ServerID = p.addr(n) },
		"authoritative":     func(n *yaml.Node) { c.Authoritative = p.boolean(n) },
		"lease-time":        func(n *yaml.Node) { c.LeaseTime = p.dur(n) },
		"offer-hold":        func(n *yaml.Node) { c.OfferHold = p.dur(n) },
		"decline-probation": func(n *yaml.Node) { c.DeclineProbation = p.dur(n) },
		"xdp": func(n *yaml.Node) {
			c.XDP = p.str(n)
			switch c.XDP {
			case "auto", "off", "native", "generic":
			default:
				p.errorf(n, "xdp %q: want auto, off, native or generic", c.XDP)
				c.XDP = "auto"
			}
		},
		"limits": func(n *yaml.Node) { p.limits(n, &c.Limits) },
		"bootp":  func(n *yaml.Node) { c.BOOTP = p.boolean(n) },
		"bootp-lease-time": func(n *yaml.Node) {
			if n.Value != "infinite" {
				c.BOOTPLeaseTime = p.dur(n)
			}
		},
		"classes": func(n *yaml.Node) {
			for _, e := range p.seq(n, "classes") {
				c.Classes = append(c.Classes, p.class(e))
			}
		},
		"ping-check": func(n *yaml.Node) { p.pingCheck(n, &c.PingCheck) },
		"ddns":       func(n *yaml.Node) { c.DDNS = p.ddns(n) },
		"subnets": func(n *yaml.Node) {
			for _, e := range p.seq(n, "subnets") {
				c.Subnets = append(c.Subnets, p.subnet(e))
			}
		},
	})
}

func (p *parser) limits(n *yaml.Node, l *Limits) {
	l.Line = n.Line
	p.fields(n, "limits", map[string]func(*yaml.Node){
		"relay-rate":      func(n *yaml.Node) { l.RelayRate = p.rate(n) },
		"relay-burst":     func(n *yaml.Node) { l.RelayBurst = p.count(n, 0) },
		"client-rate":     func(n *yaml.Node) { l.ClientRate = p.rate(n) },
		"client-burst":    func(n *yaml.Node) { l.ClientBurst = p.count(n, 0) },
		"clients-tracked": func(n *yaml.Node) { l.Tracked = p.count(n, 1) },
		"pool-reserve": func(n *yaml.Node) {
			r, err := ParseReserve(p.str(n))
			if err != nil {
				p.errorf(n, "pool-reserve: %v", err)
			}
			l.PoolReserve = r
		},
	})
}

// ParseReserve reads a pool reserve: N addresses, or P% of each pool share.
func ParseReserve(s string) (lease.Reserve, error) {
	s = strings.TrimSpace(s)
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || v < 0 || v >= 100 {
			return lease.Reserve{}, fmt.Errorf("%q: want a percentage 0 <= P < 100 like 5%%", s)
		}
		return lease.Reserve{Percent: v}, nil
	}
	v, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return lease.Reserve{}, fmt.Errorf("%q: want a number of addresses like 10 or a percentage like 5%%", s)
	}
	return lease.Reserve{Addresses: int(v)}, nil
}

// rate reads a non-negative number per second (fractions allowed).
func (p *parser) rate(n *yaml.Node) float64 {
	v, err := strconv.ParseFloat(strings.TrimSuffix(p.str(n), "/s"), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		p.errorf(n, "%q: want a rate per second >= 0 like 100 or 0.5 (0: off)", n.Value)
		return 0
	}
	return v
}

// count reads a whole number >= least.
func (p *parser) count(n *yaml.Node, least int) int {
	v, err := strconv.ParseUint(p.str(n), 10, 31)
	if err != nil || int(v) < least {
		p.errorf(n, "%q: want a whole number >= %d", n.Value, least)
		return 0
	}
	return int(v)
}

func (p *parser) subnet(n *yaml.Node) *Subnet {
	s := &Subnet{Line: n.Line}
	p.fields(n, "subnet", p.withBoot(&s.Boot, map[string]func(*yaml.Node){
		"subnet": func(n *yaml.Node) {
			v, err := netip.ParsePrefix(p.str(n))
			if err != nil || !v.Addr().Is4() {
				p.errorf(n, "subnet %q: not an IPv4 prefix (like 198.18.1.0/24)", n.Value)
				return
			}
			if v != v.Masked() {
				p.errorf(n, "subnet %q: host bits set (did you mean %v?)", n.Value, v.Masked())
			}
			s.Prefix = v.Masked()
		},
		"ranges":         func(n *yaml.Node) { s.Ranges = p.ranges(n) },
		"routers":        func(n *yaml.Node) { s.Routers = p.addrs(n) },
		"router":         func(n *yaml.Node) { s.Routers = p.addrs(n) },
		"dns":            func(n *yaml.Node) { s.DNS = p.addrs(n) },
		"domain":         func(n *yaml.Node) { s.Domain = p.str(n) },
		"interface":      func(n *yaml.Node) { s.Interface = p.str(n) },
		"shared-network": func(n *yaml.Node) { s.SharedNetwork = p.str(n) },
		"lease-time":     func(n *yaml.Node) { s.LeaseTime = p.dur(n) },
		"t1":             func(n *yaml.Node) { s.T1 = p.dur(n) },
		"t2":             func(n *yaml.Node) { s.T2 = p.dur(n) },
		"options": func(n *yaml.Node) {
			for _, e := range p.seq(n, "options") {
				if o, ok := p.option(e); ok {
					s.Options = append(s.Options, o)
				}
			}
		},
		"reservations": func(n *yaml.Node) {
			for _, e := range p.seq(n, "reservations") {
				s.Reservations = append(s.Reservations, p.reservation(e))
			}
		},
	}))
	if !s.Prefix.IsValid() && !p.has(n, "subnet") {
		p.errorf(n, "subnet entry without a subnet: key")
	}
	return s
}

func (p *parser) reservation(n *yaml.Node) *Reservation {
	r := &Reservation{Line: n.Line}
	p.fields(n, "reservation", p.withBoot(&r.Boot, map[string]func(*yaml.Node){
		"mac": func(n *yaml.Node) {
			mac, err := net.ParseMAC(p.str(n))
			if err != nil {
				p.errorf(n, "mac %q: %v", n.Value, err)
				return
			}
			r.HWAddr = mac
		},
		"client-id": func(n *yaml.Node) {
			var id lease.ClientID
			if err := id.UnmarshalText([]byte(p.str(n))); err != nil || len(id) == 0 {
				p.errorf(n, "client-id %q: want hex bytes like 01:aa:bb:cc:dd:ee:ff", n.Value)
				return
			}
			r.ClientID = id
		},
		"ip":         func(n *yaml.Node) { r.IP = p.addr(n) },
		"hostname":   func(n *yaml.Node) { r.Hostname = p.str(n) },
		"circuit-id": func(n *yaml.Node) { r.CircuitID = p.bytesValue(n, "circuit-id") },
		"remote-id":  func(n *yaml.Node) { r.RemoteID = p.bytesValue(n, "remote-id") },
	}))
	if !p.has(n, "ip") {
		p.errorf(n, "reservation without ip:")
	}
	if !p.has(n, "mac") && !p.has(n, "client-id") && !p.has(n, "circuit-id") && !p.has(n, "remote-id") {
		p.errorf(n, "reservation needs mac:, client-id:, circuit-id: or remote-id:")
	}
	return r
}

// managedOptions are the options the server sets itself.
var managedOptions = map[uint8]string{0: "pad", 50: "requested address", 51: "lease time", 52: "overload", 53: "message type", 54: "server id", 55: "parameter request list", 58: "T1", 59: "T2", 61: "client id", 82: "relay agent information", 255: "end"}

func (p *parser) option(n *yaml.Node) (Option, bool) {
	var o Option
	var codeSet, valueSet bool
	value := func(f func(*yaml.Node) []byte) func(*yaml.Node) {
		return func(v *yaml.Node) {
			if valueSet {
				p.errorf(v, "option: give one of ip, text, hex, u8, u16, u32")
			}
			valueSet = true
			o.Value = f(v)
		}
	}
	p.fields(n, "option", map[string]func(*yaml.Node){
		"code": func(v *yaml.Node) {
			codeSet = true
			c, err := strconv.ParseUint(v.Value, 10, 8)
			if err != nil {
				p.errorf(v, "option code %q: want 1..254", v.Value)
				return
			}
			if name, ok := managedOptions[uint8(c)]; ok {
				p.errorf(v, "option %d (%s) is set by the server, not configurable", c, name)
			}
			o.Code = uint8(c)
		},
		"ip": value(func(v *yaml.Node) []byte {
			var b []byte
			for _, a := range p.addrs(v) {
				b = append(b, a.AsSlice()...)
			}
			return b
		}),
		"text": value(func(v *yaml.Node) []byte { return []byte(p.str(v)) }),
		"hex": value(func(v *yaml.Node) []byte {
			b, err := hex.DecodeString(strings.ReplaceAll(p.str(v), ":", ""))
			if err != nil {
				p.errorf(v, "hex %q: %v", v.Value, err)
			}
			return b
		}),
		"u8":  value(func(v *yaml.Node) []byte { return p.uint(v, 8) }),
		"u16": value(func(v *yaml.Node) []byte { return p.uint(v, 16) }),
		"u32": value(func(v *yaml.Node) []byte { return p.uint(v, 32) }),
	})
	if !codeSet {
		p.errorf(n, "option without code:")
	}
	if !valueSet {
		p.errorf(n, "option without a value: give one of ip, text, hex, u8, u16, u32")
	}
	if len(o.Value) > 255 {
		p.errorf(n, "option %d: value of %d bytes, at most 255", o.Code, len(o.Value))
	}
	return o, codeSet && valueSet
}

// fields checks n is a mapping and calls the handler for each key,
// reporting unknown and repeated keys.
func (p *parser) fields(n *yaml.Node, what string, handlers map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping of key: value", what)
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if l, ok := seen[k.Value]; ok {
			p.errorf(k, "%s: key %q repeated (first on line %d)", what, k.Value, l)
			continue
		}
		seen[k.Value] = k.Line
		h, ok := handlers[k.Value]
		if !ok {
			known := make([]string, 0, len(handlers))
			for name := range handlers {
				known = append(known, name)
			}
			p.errorf(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(slices.Sorted(slices.Values(known)), ", "))
			continue
		}
		h(v)
	}
}

func (p *parser) has(n *yaml.Node, key string) bool {
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (p *parser) seq(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: want a list", what)
		return nil
	}
	return n.Content
}

// list accepts a scalar or a list of scalars.
func (p *parser) list(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.ScalarNode {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	for _, e := range p.seq(n, "value") {
		if e.Kind != yaml.ScalarNode {
			p.errorf(e, "want a single value here")
			continue
		}
		out = append(out, e)
	}
	return out
}

func (p *parser) str(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "want a single value")
		return ""
	}
	return n.Value
}

func (p *parser) strs(n *yaml.Node) []string {
	var out []string
	for _, e := range p.list(n) {
		out = append(out, e.Value)
	}
	return out
}

func (p *parser) addr(n *yaml.Node) netip.Addr {
	a, err := netip.ParseAddr(p.str(n))
	if err != nil || !a.Is4() {
		p.errorf(n, "%q: not an IPv4 address", n.Value)
		return netip.Addr{}
	}
	return a
}

func (p *parser) addrs(n *yaml.Node) []netip.Addr {
	var out []netip.Addr
	for _, e := range p.list(n) {
		if a := p.addr(e); a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

func (p *parser) dur(n *yaml.Node) time.Duration {
	s := p.str(n)
	d, err := time.ParseDuration(s)
	if err != nil {
		// Plain numbers are seconds, as in dhcpd and Kea.
		secs, err2 := strconv.ParseUint(s, 10, 32)
		if err2 != nil {
			p.errorf(n, "duration %q: want like 1h, 30m, 90s or seconds", s)
			return 0
		}
		d = time.Duration(secs) * time.Second
	}
	if d <= 0 {
		p.errorf(n, "duration %q: must be positive", s)
	}
	return d
}

func (p *parser) boolean(n *yaml.Node) bool {
	b, err := strconv.ParseBool(p.str(n))
	if err != nil {
		p.errorf(n, "%q: want true or false", n.Value)
	}
	return b
}

func (p *parser) uint(n *yaml.Node, bits int) []byte {
	v, err := strconv.ParseUint(p.str(n), 0, bits)
	if err != nil {
		p.errorf(n, "%q: not an unsigned %d-bit number", n.Value, bits)
		return nil
	}
	b := make([]byte, bits/8)
	for i := range b {
		b[len(b)-1-i] = byte(v >> (8 * i))
	}
	return b
}
