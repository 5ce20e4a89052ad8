package config

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// policy writes the policy settings that differ from the defaults: BOOTP,
// ping check, DDNS and the classes.
func (e *encoder) policy(m *yaml.Node, c *Config) {
	if c.BOOTP {
		add(m, "bootp", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	if c.BOOTPLeaseTime > 0 {
		add(m, "bootp-lease-time", str(Dur(c.BOOTPLeaseTime)))
	}
	if pc := c.PingCheck; pc.Enabled || pc.Timeout != 0 {
		n := mapping(true)
		add(n, "enabled", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(pc.Enabled)})
		if pc.Timeout != 0 {
			add(n, "timeout", str(Dur(pc.Timeout)))
		}
		add(m, "ping-check", n)
	}
	if d := c.DDNS; d != nil {
		add(m, "ddns", ddns(d))
	}
	if len(c.Classes) > 0 {
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, cl := range c.Classes {
			n.Content = append(n.Content, e.class(cl))
		}
		add(m, "classes", n)
	}
}

func ddns(d *DDNS) *yaml.Node {
	n := mapping(false)
	add(n, "server", str(d.Server.String()))
	add(n, "zone", str(d.Zone))
	for _, kv := range [][2]string{{"reverse-zone", d.ReverseZone}, {"tsig-name", d.TSIGName}, {"tsig-secret-file", d.TSIGSecretFile}} {
		if kv[1] != "" {
			add(n, kv[0], str(kv[1]))
		}
	}
	if d.TSIGAlgorithm != DefaultTSIG {
		add(n, "tsig-algorithm", str(d.TSIGAlgorithm))
	}
	if d.TTL != DefaultDDNSTTL {
		add(n, "ttl", str(Dur(d.TTL)))
	}
	if d.Timeout != DefaultDDNSTimeout {
		add(n, "timeout", str(Dur(d.Timeout)))
	}
	if d.Queue != DefaultDDNSQueue {
		add(n, "queue", str(strconv.Itoa(d.Queue)))
	}
	return n
}

func (e *encoder) class(cl *Class) *yaml.Node {
	m := mapping(false)
	add(m, "name", str(cl.Name))
	match := &yaml.Node{Kind: yaml.SequenceNode}
	for _, x := range cl.Match {
		match.Content = append(match.Content, e.match(x))
	}
	add(m, "match", match)
	boot(m, cl.Boot)
	if cl.LeaseTime != 0 {
		add(m, "lease-time", str(Dur(cl.LeaseTime)))
	}
	e.options(m, cl.Options)
	if len(cl.Ranges) > 0 {
		add(m, "ranges", strs(cl.Ranges))
	}
	m.Content[1].LineComment = e.comment(cl)
	return m
}

func (e *encoder) match(x Match) *yaml.Node {
	cmp := mapping(true)
	kind := "exact"
	if x.Kind == MatchPrefix {
		kind = "prefix"
	}
	if len(x.Value) == 0 {
		e.err = fmt.Errorf("match %v: an empty value cannot be written", x)
	}
	add(cmp, kind, str(BytesText(x.Value)))
	if x.Relay == 0 {
		n := mapping(true)
		add(n, "option", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(int(x.Option))})
		n.Content = append(n.Content, cmp.Content...)
		return n
	}
	name := ""
	for k, v := range relaySubOptions {
		if v == x.Relay {
			name = k
		}
	}
	if name == "" {
		e.err = fmt.Errorf("match on relay sub-option %d: not one the file names", x.Relay)
	}
	relay := mapping(true)
	add(relay, name, cmp)
	n := mapping(true)
	add(n, "relay", relay)
	return n
}

// boot writes the network boot fields that are set.
func boot(m *yaml.Node, b Boot) {
	if b.NextServer.IsValid() {
		add(m, "next-server", str(b.NextServer.String()))
	}
	if b.ServerName != "" {
		add(m, "server-name", str(b.ServerName))
	}
	if b.BootFile != "" {
		add(m, "boot-file", str(b.BootFile))
	}
}

// BytesText writes bytes the way the file reads them back (a relay id, a
// match value): the text itself when it is printable, else 0x and hex.
func BytesText(b []byte) string {
	if len(b) <= 255 && !strings.HasPrefix(string(b), "0x") {
		ok := len(b) > 0
		for _, c := range b {
			ok = ok && c >= 0x20 && c <= 0x7e
		}
		if ok {
			return string(b)
		}
	}
	return "0x" + hex.EncodeToString(b)
}
