package isc

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// hostDecl is a `host NAME { ... }`: a reservation when it has a fixed
// address and a way to recognise the client.
type hostDecl struct {
	name  string
	stmt  *Stmt
	sc    *scope
	mac   net.HardwareAddr
	cid   lease.ClientID
	relay map[uint8][]byte // host-identifier option agent.circuit-id / remote-id
	addrs []hostAddr
}

type hostAddr struct {
	a    netip.Addr
	stmt *Stmt
}

// host reads a host declaration. dhcpd makes hosts global whatever scope
// they are written in; their options still inherit from that scope.
func (im *importer) host(s *Stmt, sc *scope) {
	if sc.kind == "host" {
		im.skipAll(s, "host declarations not allowed here")
		return
	}
	var name []migrate.Value
	if len(s.Words) >= 2 {
		name = groups(s.Words[1:])
	}
	if !s.HasBlock || len(name) == 0 { // "host , { }" has words but no name
		im.skipAll(s, "want host NAME { ... }")
		return
	}
	h := &hostDecl{name: name[0].Text, stmt: s, sc: &scope{parent: sc, kind: "host", pos: s.Pos()}}
	for _, b := range s.Block {
		im.hostStmt(h, b)
	}
	im.hosts = append(im.hosts, h)
}

func (im *importer) hostStmt(h *hostDecl, s *Stmt) {
	switch s.Keyword() {
	case "hardware":
		a := args(s, 1)
		if len(a) != 2 || a[0].Text != "ethernet" {
			im.skip(s, "only hardware ethernet addresses are carried over")
			return
		}
		mac, err := migrate.ParseHex(a[1].Text) // dhcpd takes 0:0:c0:5d:bd:95
		if err != nil || len(mac) != 6 {
			im.skip(s, "%q is not an Ethernet address", a[1].Text)
			return
		}
		h.mac = net.HardwareAddr(mac)
	case "fixed-address":
		for _, v := range args(s, 1) {
			a, err := addr(v)
			if err != nil {
				im.skip(s, "%v", err)
				continue
			}
			h.addrs = append(h.addrs, hostAddr{a, s})
		}
	case "uid":
		if v := args(s, 1); len(v) == 1 {
			h.cid = im.clientID(s, v[0])
		}
	case "host-identifier":
		im.hostIdentifier(h, s)
	case "ddns-hostname", "ddns-domainname":
		im.skip(s, "DNS updates are not carried over")
	case "allow", "deny", "ignore":
		if strings.EqualFold(strings.Join(wordsText(s.Words[1:]), " "), "booting") && s.Keyword() == "allow" {
			return
		}
		im.skip(s, "xdhcp has no per-client access switch")
	case "option", "supersede":
		im.option(s, h.sc)
		// The client identifier and host name are the reservation's own.
		if n := len(h.sc.opts); n > 0 && h.sc.opts[n-1].stmt == s && h.sc.opts[n-1].code == 61 {
			h.cid = lease.ClientID(h.sc.opts[n-1].v)
			h.sc.opts = h.sc.opts[:n-1]
		}
	default:
		im.stmt(s, h.sc)
	}
}

// hostIdentifier reads `host-identifier option agent.circuit-id V;` (or
// remote-id, or dhcp-client-identifier).
func (im *importer) hostIdentifier(h *hostDecl, s *Stmt) {
	g := args(s, 1)
	if len(g) != 3 || g[0].Text != "option" {
		im.skip(s, "want host-identifier option NAME VALUE")
		return
	}
	name := strings.ToLower(g[1].Text)
	v := im.clientID(s, g[2])
	switch sub, agent := strings.CutPrefix(name, "agent."); {
	case v == nil:
	case name == "dhcp-client-identifier":
		h.cid = v
	case agent && (relayNames[sub] == 1 || relayNames[sub] == 2):
		if h.relay == nil {
			h.relay = map[uint8][]byte{}
		}
		h.relay[relayNames[sub]] = v
	default:
		im.skip(s, "reservations by %s are not carried over", name)
	}
}

func (im *importer) clientID(s *Stmt, v migrate.Value) lease.ClientID {
	if v.Quoted {
		return lease.ClientID(v.Text)
	}
	b, err := migrate.ParseHex(v.Text)
	if err != nil {
		im.skip(s, "%v", err)
		return nil
	}
	return b
}

// reservations turns hosts into reservations in the subnets holding their
// fixed addresses.
func (im *importer) reservations(skip func(*Stmt, string, ...any)) {
	type key struct {
		subnet netip.Prefix
		id     string
	}
	byIP := map[netip.Addr]*hostDecl{}
	byClient := map[key]*hostDecl{}
	for _, h := range im.hosts {
		switch {
		case len(h.addrs) == 0:
			im.skip(h.stmt, "a host without fixed-address only makes its client known; xdhcp gives it an address from the ranges like any other client")
			continue
		case h.mac == nil && h.cid == nil && h.relay == nil:
			im.skip(h.stmt, "a host without hardware ethernet, a client identifier or a relay agent id matches no client")
			continue
		}
		eff := h.sc.effective()
		hostname := ""
		if o, ok := eff[12]; ok {
			hostname = string(o.v)
		} else if p := lookup(h.sc, func(s *scope) *param[bool] { return s.hostNames }); p != nil && p.v {
			hostname = h.name
		}
		for _, ha := range h.addrs {
			d := im.subnetHolding(ha.a)
			if d == nil {
				skip(ha.stmt, "fixed address %v is in no subnet", ha.a)
				continue
			}
			if o := byIP[ha.a]; o != nil {
				skip(ha.stmt, "address %v is already reserved for host %s (%v)", ha.a, o.name, o.stmt.Pos())
				continue
			}
			ids := []string{"mac " + h.mac.String(), "client-id " + h.cid.String(),
				"circuit-id " + config.IDString(h.relay[1]), "remote-id " + config.IDString(h.relay[2])}
			dup := ""
			for _, id := range ids {
				if o := byClient[key{d.s.Prefix, id}]; o != nil && !strings.HasSuffix(id, " ") {
					dup = fmt.Sprintf("%s already has a reservation in %v (host %s, %v)", id, d.s.Prefix, o.name, o.stmt.Pos())
				}
			}
			if dup != "" {
				skip(ha.stmt, "%s", dup)
				continue
			}
			byIP[ha.a] = h
			for _, id := range ids {
				byClient[key{d.s.Prefix, id}] = h
			}
			res := &config.Reservation{HWAddr: h.mac, ClientID: h.cid, CircuitID: h.relay[1], RemoteID: h.relay[2], IP: ha.a, Hostname: migrate.Label(hostname)}
			res.Boot = im.hostOptions(h, d, skip)
			d.s.Reservations = append(d.s.Reservations, res)
			im.r.Comments[res] = fmt.Sprintf("host %s, %v", h.name, h.stmt.Pos())
		}
	}
}

// hostOptions lists the options a host sets differently from its subnet:
// a reservation carries no options of its own. As in dhcpd, the host's
// scopes count up to the first one its subnet is also inside. Its boot
// fields are the reservation's own.
func (im *importer) hostOptions(h *hostDecl, d *subnetDecl, skip func(*Stmt, string, ...any)) config.Boot {
	around := map[*scope]bool{}
	for sc := d.sc; sc != nil; sc = sc.parent {
		around[sc] = true
	}
	sub := d.sc.effective()
	lt, _, _ := im.r.Config.Timers(d.s)
	for sc := h.sc; sc != nil && !around[sc]; sc = sc.parent {
		for _, o := range sc.opts {
			if so, ok := sub[o.code]; o.code != 12 && (!ok || string(so.v) != string(o.v)) {
				skip(o.stmt, "applies to host %s only; reservations carry no options of their own", h.name)
			}
		}
		if sc.leaseTime != nil && sc.leaseTime.v != lt {
			skip(sc.leaseTime.stmt, "a lease time for host %s only; xdhcp sets it per subnet", h.name)
		}
	}
	return bootOf(h.sc, around)
}

func (im *importer) subnetHolding(a netip.Addr) *subnetDecl {
	for _, d := range im.subnets {
		if d.s.Prefix.Contains(a) {
			return d
		}
	}
	return nil
}
