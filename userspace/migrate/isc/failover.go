package isc

import (
	"net"
	"strconv"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// DefaultPort and defaultResponseDelay are dhcpd's failover defaults
// (includes/failover.h).
const (
	DefaultPort          = 647
	defaultResponseDelay = 20 * time.Second
)

// peerDecl is a `failover peer NAME { ... }` as read.
type peerDecl struct {
	stmt                  *Stmt
	name                  string
	primary, secondary    bool
	addr, peerAddr        string
	port, peerPort        int
	split                 int // -1: not given
	hba                   *decide.HBA
	mclt, delay, autoDown time.Duration
	maxSecs               int
}

// failover reads a peer declaration; a reference (`failover peer "x";`
// in a pool) needs nothing more.
func (im *importer) failover(s *Stmt, sc *scope) {
	if len(s.Words) < 3 || !s.Words[1].is("peer") {
		im.skipAll(s, "want failover peer NAME { ... }")
		return
	}
	name := s.Words[2].Text
	if !s.HasBlock {
		if len(s.Words) == 3 && sc.kind != "pool" && sc.kind != "shared-network" {
			im.skip(s, "a failover peer reference belongs in a pool")
		} else if len(s.Words) == 3 && !im.peers[name] {
			im.skip(s, "reference to unknown failover peer %s", name)
		} else if len(s.Words) > 3 {
			im.skip(s, "peer state belongs in the lease file")
		}
		return
	}
	if sc.kind != "global" && sc.kind != "shared-network" {
		im.skipAll(s, "failover peers may only be declared globally or in a shared-network")
		return
	}
	im.peers[name] = true
	if im.peer != nil {
		im.skipAll(s, "xdhcp serves one failover pair: only the first peer (%s) is carried over", im.peer.name)
		return
	}
	p := &peerDecl{stmt: s, name: name, split: -1, port: DefaultPort, peerPort: DefaultPort, delay: defaultResponseDelay}
	for _, b := range s.Block {
		im.peerStmt(p, b)
	}
	if p.peerAddr == "" {
		im.skipAll(s, "failover peer without peer address (dhcpd refuses it too)")
		return
	}
	im.peer = p
}

func (im *importer) peerStmt(p *peerDecl, s *Stmt) {
	ws := s.Words
	partner := ws[0].is("peer")
	if partner {
		ws = ws[1:]
	}
	a := groups(ws)
	num := func(i int) (int, bool) {
		if len(a) != i+1 {
			return 0, false
		}
		n, err := strconv.Atoi(a[i].Text)
		return n, err == nil && n >= 0
	}
	secs := func(d *time.Duration) {
		n, ok := num(1)
		if !ok {
			im.skip(s, "want a number of seconds")
			return
		}
		*d = time.Duration(n) * time.Second
	}
	if len(a) == 0 {
		im.skip(s, "empty statement")
		return
	}
	switch k := a[0].Text; {
	case k == "primary" && len(a) == 1:
		p.primary = true
	case k == "secondary" && len(a) == 1:
		p.secondary = true
	case k == "address" && len(a) == 2:
		if partner {
			p.peerAddr = a[1].Text
		} else {
			p.addr = a[1].Text
		}
	case k == "port":
		n, ok := num(1)
		if !ok || n > 65535 {
			im.skip(s, "want a port number")
			return
		}
		if partner {
			p.peerPort = n
		} else {
			p.port = n
		}
	case k == "mclt":
		secs(&p.mclt)
	case k == "max-response-delay":
		secs(&p.delay)
	case k == "auto-partner-down":
		secs(&p.autoDown)
	case k == "split":
		n, ok := num(1)
		if !ok || n > 256 {
			im.skip(s, "split must be 0..256")
			return
		}
		p.split = n
	case k == "hba" && len(a) == 2:
		b, err := migrate.ParseHex(a[1].Text)
		if err != nil || len(b) != 32 {
			im.skip(s, "hba must be exactly 32 bytes")
			return
		}
		h := decide.HBA(b)
		p.hba = &h
	case k == "load" && len(a) == 5 && a[1].Text == "balance" && a[2].Text == "max" && a[3].Text == "seconds":
		n, ok := num(4)
		if !ok || n > 65534 {
			im.skip(s, "want load balance max seconds N")
			return
		}
		p.maxSecs = n
	case k == "max-unacked-updates", k == "max-lease-misbalance", k == "max-lease-ownership", k == "max-balance", k == "min-balance":
		im.skip(s, "no xdhcp setting (the pair keeps each server's share by the hash, not by lease pools)")
	default:
		im.skip(s, "invalid statement in a peer declaration")
	}
}

// pair turns the peer into serve flags.
func (im *importer) pair() {
	p := im.peer
	if p == nil {
		return
	}
	out := &migrate.Pair{
		Name: p.name, Source: p.stmt.Pos(), Split: p.split, MCLT: p.mclt,
		Peer:           net.JoinHostPort(p.peerAddr, strconv.Itoa(p.peerPort)),
		ReceiveTimeout: p.delay, AutoPartnerDown: p.autoDown,
	}
	if p.addr != "" {
		out.Listen = net.JoinHostPort(p.addr, strconv.Itoa(p.port))
	} else {
		out.Listen = ":" + strconv.Itoa(p.port)
	}
	if p.maxSecs > 0 {
		out.Threshold = uint16(p.maxSecs + 1) // dhcpd answers when secs > M
	} else {
		out.Notes = append(out.Notes, "no load balance max seconds: dhcpd does not load balance (threshold 0), and neither will xdhcp")
	}
	switch {
	case p.secondary:
		out.Role = decide.Secondary
	case !p.primary:
		out.Notes = append(out.Notes, "neither primary nor secondary given: primary assumed")
	}
	switch {
	case p.hba != nil:
		out.Split, out.HBA = -1, *p.hba
	case p.split >= 0:
		out.HBA = decide.MustSplit(p.split)
	default:
		out.Split, out.HBA = 128, decide.MustSplit(128)
		out.Notes = append(out.Notes, "no split or hba here (the primary sets them in dhcpd): split 128 assumed, give both servers the primary's")
	}
	if p.mclt == 0 {
		out.Notes = append(out.Notes, "no mclt here (the primary sets it in dhcpd): give both servers the primary's --mclt")
	}
	out.Notes = append(out.Notes, "both servers of the pair must run xdhcp (the failover protocol differs from dhcpd's), with one shared secret")
	im.r.Pair = out
}
