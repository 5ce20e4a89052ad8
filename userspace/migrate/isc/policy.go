package isc

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// bootParams are a scope's network boot fields (next-server, filename,
// server-name).
type bootParams struct {
	next  *param[netip.Addr]
	file  *param[string]
	sname *param[string]
}

func (im *importer) bootStmt(s *Stmt, sc *scope) {
	a := args(s, 1)
	if len(a) != 1 {
		im.skip(s, "want one value")
		return
	}
	switch s.Keyword() {
	case "next-server":
		ip, err := addr(a[0])
		if err != nil {
			im.skip(s, "%v", err)
			return
		}
		sc.boot.next = &param[netip.Addr]{ip, s}
	case "filename":
		sc.boot.file = &param[string]{a[0].Text, s}
	default:
		sc.boot.sname = &param[string]{a[0].Text, s}
	}
}

// bootOf is the boot fields in force in sc, counting its scopes up to (not
// including) the first in stop; inner scopes win.
func bootOf(sc *scope, stop map[*scope]bool) config.Boot {
	var b config.Boot
	var next, file, sname bool
	for ; sc != nil && !stop[sc]; sc = sc.parent {
		if p := sc.boot.next; p != nil && !next {
			b.NextServer, next = p.v, true
		}
		if p := sc.boot.file; p != nil && !file {
			b.BootFile, file = p.v, true
		}
		if p := sc.boot.sname; p != nil && !sname {
			b.ServerName, sname = p.v, true
		}
	}
	return b
}

// durParam reads ping-timeout (seconds), ping-timeout-ms and
// dynamic-bootp-lease-length (seconds); only their global value counts.
func (im *importer) durParam(s *Stmt, sc *scope) {
	a := args(s, 1)
	n := uint64(0)
	var err error
	if len(a) == 1 {
		n, err = strconv.ParseUint(a[0].Text, 10, 32)
	}
	if len(a) != 1 || err != nil || n == 0 {
		im.skip(s, "want a positive number")
		return
	}
	if sc.kind != "global" {
		im.skip(s, "xdhcp sets it for the whole server: only a global one is carried over")
		return
	}
	c := im.r.Config
	switch s.Keyword() {
	case "ping-timeout":
		sc.pingWait = &param[time.Duration]{time.Duration(n) * time.Second, s}
	case "ping-timeout-ms":
		sc.pingWait = &param[time.Duration]{time.Duration(n) * time.Millisecond, s}
	default:
		c.BOOTPLeaseTime = time.Duration(n) * time.Second
	}
}

// classDecl is a `class "name" { match if ...; ... }` carried over.
type classDecl struct {
	cl   *config.Class
	sc   *scope
	stmt *Stmt
}

// class reads a class whose match xdhcp can express: equality with an
// option or relay sub-option, or with its first bytes (substring from 0),
// joined by "and". Its options, boot fields and lease time come along;
// pools that allow only its members become its ranges.
func (im *importer) class(s *Stmt, sc *scope) {
	if len(s.Words) != 2 || !s.HasBlock {
		im.skipAll(s, "want class NAME { ... }")
		return
	}
	cd := &classDecl{cl: &config.Class{Name: migrate.Label(s.Words[1].Text)}, sc: &scope{parent: sc, kind: "class", name: s.Words[1].Text, pos: s.Pos()}, stmt: s}
	for _, b := range s.Block {
		switch b.Keyword() {
		case "match":
			m, err := im.matchExpr(b)
			if err != nil {
				im.skipAll(s, "class %s: match %v: the class is not carried over", cd.cl.Name, err)
				return
			}
			cd.cl.Match = append(cd.cl.Match, m...)
		case "spawn", "lease":
			im.skipAll(s, "class %s: %s is not carried over, nor the class", cd.cl.Name, b.Keyword())
			return
		default:
			im.stmt(b, cd.sc)
		}
	}
	if len(cd.cl.Match) == 0 {
		im.skipAll(s, "class %s: no match if condition (members by subclass only): not carried over", cd.cl.Name)
		return
	}
	for _, o := range im.classes {
		if o.cl.Name == cd.cl.Name {
			im.skipAll(s, "class %s already declared at %v", cd.cl.Name, o.stmt.Pos())
			return
		}
	}
	if p := cd.sc.leaseTime; p != nil {
		cd.cl.LeaseTime = p.v
	}
	for _, o := range cd.sc.opts {
		switch {
		case o.code == 51 && len(o.v) == 4:
			cd.cl.LeaseTime = time.Duration(uint32(o.v[0])<<24|uint32(o.v[1])<<16|uint32(o.v[2])<<8|uint32(o.v[3])) * time.Second
		case classManaged[o.code] || len(o.v) > 255:
			im.skip(o.stmt, "a class sets options a client may ask for, not this one")
		default:
			cd.cl.Options = append(cd.cl.Options, config.Option{Code: o.code, Value: o.v})
		}
	}
	cd.cl.Boot = bootOf(cd.sc, map[*scope]bool{sc: true})
	im.r.Comments[cd.cl] = s.Pos().String()
	im.classes = append(im.classes, cd)
}

// classManaged are the options the server sets itself (config's managed
// options): a class cannot carry them.
var classManaged = map[uint8]bool{0: true, 50: true, 51: true, 52: true, 53: true, 54: true, 55: true, 58: true, 59: true, 61: true, 82: true, 255: true}

// relayNames are the agent option space's sub-options a match may name.
var relayNames = map[string]uint8{"circuit-id": config.RelayCircuitID, "remote-id": config.RelayRemoteID, "subscriber-id": config.RelaySubscriberID}

// matchExpr reads `match if A [and B ...];`.
func (im *importer) matchExpr(s *Stmt) ([]config.Match, error) {
	if len(s.Words) < 3 || !s.Words[1].is("if") {
		return nil, fmt.Errorf("without if (subclass matching)")
	}
	var out []config.Match
	var cur []Token
	flush := func() error {
		m, err := im.condition(strip(cur))
		out, cur = append(out, m), nil
		return err
	}
	for _, t := range s.Words[2:] {
		if t.is("and") {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		cur = append(cur, t)
	}
	return out, flush()
}

// strip removes parentheses around a whole condition.
func strip(ws []Token) []Token {
	for len(ws) >= 2 && ws[0].is("(") && ws[len(ws)-1].is(")") {
		ws = ws[1 : len(ws)-1]
	}
	return ws
}

// condition reads `option NAME = V` or `substring(option NAME, 0, N) = V`.
func (im *importer) condition(ws []Token) (config.Match, error) {
	text := strings.Join(wordsText(ws), " ")
	eq := -1
	for i, t := range ws {
		if t.is("=") {
			eq = i
		}
	}
	if eq < 0 || eq+1 >= len(ws) {
		return config.Match{}, fmt.Errorf("%q is not an equality", text)
	}
	lhs, vals := ws[:eq], groups(ws[eq+1:])
	if len(vals) != 1 {
		return config.Match{}, fmt.Errorf("%q: one value after =", text)
	}
	value := []byte(vals[0].Text)
	if !vals[0].Quoted {
		b, err := migrate.ParseHex(vals[0].Text)
		if err != nil {
			return config.Match{}, fmt.Errorf("%q: %v", text, err)
		}
		value = b
	}
	m := config.Match{Kind: config.MatchExact, Value: value}
	if len(lhs) > 0 && lhs[0].is("substring") {
		// substring ( option NAME , 0 , N )
		n := len(lhs)
		if n < 8 || !lhs[1].is("(") || !lhs[n-5].is(",") || lhs[n-4].Text != "0" || !lhs[n-3].is(",") ||
			lhs[n-2].Text != strconv.Itoa(len(value)) || !lhs[n-1].is(")") {
			return config.Match{}, fmt.Errorf("%q: only substring(option X, 0, N) = V with N the length of V", text)
		}
		m.Kind, lhs = config.MatchPrefix, lhs[2:n-5]
	}
	if len(lhs) < 2 || !lhs[0].is("option") {
		return config.Match{}, fmt.Errorf("%q compares no option", text)
	}
	name := groups(lhs[1:])
	if len(name) != 1 || len(value) == 0 {
		return config.Match{}, fmt.Errorf("%q: one option name and a value", text)
	}
	n := strings.ToLower(name[0].Text)
	if sub, ok := strings.CutPrefix(n, "agent."); ok && relayNames[sub] != 0 {
		m.Relay = relayNames[sub]
		return m, nil
	}
	def := im.defs[n]
	if def == nil {
		def = migrate.ISCOption(n)
	}
	if def == nil || def.Code == 82 {
		return config.Match{}, fmt.Errorf("%q: option %s is not one xdhcp matches on", text, n)
	}
	m.Option = def.Code
	return m, nil
}

// classPool says which class owns a pool's addresses: the one class its
// only permit allows ("" when the pool is for every client). It lists
// the permits that do not come along.
func (im *importer) classPool(sc *scope, skip func(*Stmt, string, ...any)) *config.Class {
	if sc.kind != "pool" || len(sc.members) == 0 {
		return nil
	}
	var found *config.Class
	if len(sc.members) == 1 && len(sc.other) == 0 {
		name := groups(sc.members[0].Words[3:])
		for _, cd := range im.classes {
			if len(name) == 1 && cd.cl.Name == migrate.Label(name[0].Text) {
				found = cd.cl
			}
		}
	}
	if found == nil {
		for _, s := range sc.members {
			skip(s, "pool access lists are carried over for one carried-over class alone: every client may take any address of the subnet")
		}
	}
	return found
}

// finishPolicy sets the server-wide policy settings and the classes.
func (im *importer) finishPolicy(skip func(*Stmt, string, ...any)) {
	c := im.r.Config
	g := im.global
	if p := g.ping; p != nil {
		c.PingCheck.Enabled = p.v
	}
	if p := g.pingWait; p != nil {
		if p.v > 10*time.Second {
			skip(p.stmt, "xdhcp waits at most 10s for a ping answer")
		} else if c.PingCheck.Enabled {
			c.PingCheck.Timeout = p.v
		}
	}
	if c.PingCheck.Enabled && c.PingCheck.Timeout == 0 {
		c.PingCheck.Timeout = time.Second // dhcpd's default ping-timeout
	}
	if !c.PingCheck.Enabled {
		c.PingCheck.Timeout = 0
	}
	for _, cd := range im.classes {
		c.Classes = append(c.Classes, cd.cl)
	}
	// Settings dhcpd allows per scope and xdhcp only globally.
	for _, d := range im.subnets {
		for sc := d.sc; sc != nil && sc != g; sc = sc.parent {
			if p := sc.ping; p != nil && p.v != c.PingCheck.Enabled {
				skip(p.stmt, "xdhcp pings for every subnet or none (globally %v here)", c.PingCheck.Enabled)
			}
			if p := sc.bootp; p != nil {
				skip(p.stmt, "xdhcp answers BOOTP for every subnet or none")
			}
		}
	}
}

// bootpRanges turns on BOOTP when dhcpd had dynamic-bootp ranges (and did
// not deny BOOTP): xdhcp then answers BOOTP from every range.
func (im *importer) bootpRanges(dyn []*Stmt, plain int, skip func(*Stmt, string, ...any)) {
	if len(dyn) == 0 {
		return
	}
	if p := im.global.bootp; p != nil && !p.v {
		for _, s := range dyn {
			skip(s, "dynamic-bootp under deny bootp: dhcpd answers no BOOTP client, nor does xdhcp (the range serves DHCP clients)")
		}
		return
	}
	im.r.Config.BOOTP = true
	if plain > 0 {
		skip(dyn[0], "xdhcp answers BOOTP from every range, dhcpd only from its dynamic-bootp ranges")
	}
}
