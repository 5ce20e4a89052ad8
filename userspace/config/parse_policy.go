package config

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	yaml "go.yaml.in/yaml/v3"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// withBoot adds the network boot keys (next-server, server-name,
// boot-file) to a section's handlers.
func (p *parser) withBoot(b *Boot, h map[string]func(*yaml.Node)) map[string]func(*yaml.Node) {
	maps.Copy(h, map[string]func(*yaml.Node){
		"next-server": func(n *yaml.Node) { b.NextServer = p.addr(n) },
		"server-name": func(n *yaml.Node) { b.ServerName = p.str(n) },
		"boot-file":   func(n *yaml.Node) { b.BootFile = p.str(n) },
	})
	return h
}

func (p *parser) ranges(n *yaml.Node) []lease.Range {
	var out []lease.Range
	for _, e := range p.list(n) {
		r, err := lease.ParseRange(e.Value)
		if err != nil {
			p.errorf(e, "%v", err)
			continue
		}
		out = append(out, r)
	}
	return out
}

// bytesValue reads text, or hex bytes written "0x0a0b0c" (colons allowed).
func (p *parser) bytesValue(n *yaml.Node, what string) []byte {
	s := p.str(n)
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		b, err := hex.DecodeString(strings.ReplaceAll(h, ":", ""))
		if err != nil || len(b) == 0 {
			p.errorf(n, "%s %q: bad hex after 0x", what, s)
			return nil
		}
		return b
	}
	if s == "" || len(s) > 255 {
		p.errorf(n, "%s %q: want 1 to 255 bytes of text, or hex like 0x0a0b0c", what, s)
		return nil
	}
	return []byte(s)
}

func (p *parser) class(n *yaml.Node) *Class {
	cl := &Class{Line: n.Line}
	p.fields(n, "class", p.withBoot(&cl.Boot, map[string]func(*yaml.Node){
		"name": func(n *yaml.Node) { cl.Name = p.str(n) },
		"match": func(n *yaml.Node) {
			if n.Kind == yaml.SequenceNode {
				for _, e := range n.Content {
					cl.Match = append(cl.Match, p.match(e)...)
				}
				return
			}
			cl.Match = p.match(n)
		},
		"options": func(n *yaml.Node) {
			for _, e := range p.seq(n, "options") {
				if o, ok := p.option(e); ok {
					cl.Options = append(cl.Options, o)
				}
			}
		},
		"lease-time": func(n *yaml.Node) { cl.LeaseTime = p.dur(n) },
		"ranges":     func(n *yaml.Node) { cl.Ranges = p.ranges(n) },
	}))
	if !p.has(n, "match") {
		p.errorf(n, "class without match:")
	}
	return cl
}

// relaySubOptions are the relay agent sub-options a match may name.
var relaySubOptions = map[string]uint8{"circuit-id": RelayCircuitID, "remote-id": RelayRemoteID, "subscriber-id": RelaySubscriberID}

// match reads {option: N, exact|prefix|hex: V} or {relay: {circuit-id: V}}
// where V is a value (exact) or {exact|prefix|hex: V}.
func (p *parser) match(n *yaml.Node) []Match {
	m := Match{}
	var have, compared bool
	compare := p.comparators(&m, &compared)
	h := map[string]func(*yaml.Node){
		"option": func(v *yaml.Node) {
			have = true
			c, err := strconv.ParseUint(p.str(v), 10, 8)
			switch {
			case err != nil || c == 0 || c == 255:
				p.errorf(v, "match option %q: want 1..254", v.Value)
			case c == 82:
				p.errorf(v, "match option 82: match its sub-options with relay: {circuit-id: ...}")
			}
			m.Option = uint8(c)
		},
		"relay": func(v *yaml.Node) {
			have = true
			p.fields(v, "relay match", map[string]func(*yaml.Node){
				"circuit-id": p.relayMatch(&m, &compared, "circuit-id"), "remote-id": p.relayMatch(&m, &compared, "remote-id"),
				"subscriber-id": p.relayMatch(&m, &compared, "subscriber-id"),
			})
		},
	}
	maps.Copy(h, compare)
	p.fields(n, "match", h)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if !have {
		p.errorf(n, "match: give option: N or relay: {circuit-id: ...}")
	}
	if !compared {
		p.errorf(n, "match: give one of exact, prefix, hex")
	}
	if m.Option != 0 && m.Relay != 0 {
		p.errorf(n, "match: option and relay in one condition: give a list of conditions")
	}
	return []Match{m}
}

// comparators are the value keys of a match; set records that one was given.
func (p *parser) comparators(m *Match, set *bool) map[string]func(*yaml.Node) {
	one := func(kind MatchKind, read func(*yaml.Node) []byte) func(*yaml.Node) {
		return func(v *yaml.Node) {
			if *set {
				p.errorf(v, "match: give one of exact, prefix, hex")
			}
			*set = true
			m.Kind, m.Value = kind, read(v)
		}
	}
	return map[string]func(*yaml.Node){
		"exact":  one(MatchExact, func(v *yaml.Node) []byte { return p.bytesValue(v, "exact") }),
		"prefix": one(MatchPrefix, func(v *yaml.Node) []byte { return p.bytesValue(v, "prefix") }),
		"hex": one(MatchExact, func(v *yaml.Node) []byte {
			b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimPrefix(p.str(v), "0x"), ":", ""))
			if err != nil || len(b) == 0 {
				p.errorf(v, "hex %q: want hex bytes like 0007", v.Value)
			}
			return b
		}),
	}
}

func (p *parser) relayMatch(m *Match, compared *bool, name string) func(*yaml.Node) {
	return func(v *yaml.Node) {
		if m.Relay != 0 {
			p.errorf(v, "relay match: one sub-option per condition")
		}
		m.Relay = relaySubOptions[name]
		if v.Kind == yaml.MappingNode {
			p.fields(v, name, p.comparators(m, compared))
			return
		}
		*compared = true
		m.Kind, m.Value = MatchExact, p.bytesValue(v, name)
	}
}

func (p *parser) pingCheck(n *yaml.Node, pc *PingCheck) {
	pc.Line = n.Line
	if n.Kind == yaml.ScalarNode {
		pc.Enabled = p.boolean(n)
		return
	}
	pc.Enabled = true // a ping-check: section turns it on unless it says otherwise
	p.fields(n, "ping-check", map[string]func(*yaml.Node){
		"enabled": func(n *yaml.Node) { pc.Enabled = p.boolean(n) },
		"timeout": func(n *yaml.Node) { pc.Timeout = p.dur(n) },
	})
}

func (p *parser) ddns(n *yaml.Node) *DDNS {
	d := &DDNS{Line: n.Line, TSIGAlgorithm: DefaultTSIG, TTL: DefaultDDNSTTL, Timeout: DefaultDDNSTimeout, Queue: DefaultDDNSQueue}
	fqdn := func(v *yaml.Node) string {
		s := strings.ToLower(p.str(v))
		if _, ok := dns.IsDomainName(s); !ok || s == "" {
			p.errorf(v, "%q: not a domain name", v.Value)
		}
		return dns.Fqdn(s)
	}
	p.fields(n, "ddns", map[string]func(*yaml.Node){
		"server": func(v *yaml.Node) {
			s := p.str(v)
			ap, err := netip.ParseAddrPort(s)
			if err != nil {
				a, err2 := netip.ParseAddr(s)
				ap, err = netip.AddrPortFrom(a, 53), err2
			}
			if err != nil || !ap.Addr().Is4() {
				p.errorf(v, "ddns server %q: want an IPv4 address, optionally with :port", s)
			}
			d.Server = ap
		},
		"zone":           func(v *yaml.Node) { d.Zone = fqdn(v) },
		"reverse-zone":   func(v *yaml.Node) { d.ReverseZone = fqdn(v) },
		"tsig-name":      func(v *yaml.Node) { d.TSIGName = fqdn(v) },
		"tsig-algorithm": func(v *yaml.Node) { d.TSIGAlgorithm = strings.TrimSuffix(strings.ToLower(p.str(v)), ".") },
		"tsig-secret-file": func(v *yaml.Node) {
			d.TSIGSecretFile = p.str(v)
			secret, err := readTSIGSecret(d.TSIGSecretFile)
			if err != nil {
				p.errorf(v, "tsig-secret-file: %v", err)
			}
			d.TSIGSecret = secret
		},
		"ttl":     func(v *yaml.Node) { d.TTL = p.dur(v) },
		"timeout": func(v *yaml.Node) { d.Timeout = p.dur(v) },
		"queue":   func(v *yaml.Node) { d.Queue = p.count(v, 1) },
	})
	if !p.has(n, "server") || !p.has(n, "zone") {
		p.errorf(n, "ddns needs server: and zone:")
	}
	return d
}

// maxSecretFile bounds what is read from a key file.
const maxSecretFile = 64 << 10

var bindSecret = regexp.MustCompile(`secret\s+"([^"]+)"`)

// readTSIGSecret reads a base64 key: a file holding only the key, or a BIND
// key file (tsig-keygen's output: key "name" { algorithm ...; secret "..."; };).
func readTSIGSecret(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	s := strings.TrimSpace(string(b))
	if m := bindSecret.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	if k, err := base64.StdEncoding.DecodeString(s); err != nil || len(k) == 0 {
		return "", fmt.Errorf("%s: want a base64 key, or a BIND key file with secret \"...\"", path)
	}
	return s, nil
}
