package isc

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// subnet reads `subnet A netmask M { ... }`.
func (im *importer) subnet(s *Stmt, sc *scope) {
	if sc.kind != "global" && sc.kind != "group" && sc.kind != "shared-network" {
		im.skipAll(s, "subnet declarations are not allowed here")
		return
	}
	a := args(s, 1)
	if len(a) != 3 || a[1].Text != "netmask" || !s.HasBlock {
		im.skipAll(s, "want subnet ADDRESS netmask MASK { ... }")
		return
	}
	net, err := addr(a[0])
	if err != nil {
		im.skipAll(s, "%v", err)
		return
	}
	mask, err := addr(a[2])
	if err != nil {
		im.skipAll(s, "netmask: %v", err)
		return
	}
	bits, ok := maskLen(mask)
	if !ok {
		im.skipAll(s, "netmask %v is not contiguous", mask)
		return
	}
	p := netip.PrefixFrom(net, bits)
	if p.Masked() != p {
		im.skipAll(s, "%v has host bits set for netmask %v (dhcpd refuses it too)", net, mask)
		return
	}
	for _, o := range im.subnets {
		if o.s.Prefix.Overlaps(p) {
			im.skipAll(s, "overlaps subnet %v of %v", o.s.Prefix, o.stmt.Pos())
			return
		}
	}
	d := &subnetDecl{s: &config.Subnet{Prefix: p}, sc: &scope{parent: sc, kind: "subnet", name: p.String(), pos: s.Pos()}, stmt: s}
	im.subnets = append(im.subnets, d)
	im.walk(s.Block, d.sc)
}

func maskLen(m netip.Addr) (int, bool) {
	v := binary.BigEndian.Uint32(m.AsSlice())
	n := 0
	for v&0x80000000 != 0 {
		v <<= 1
		n++
	}
	return n, v == 0
}

// pool reads `pool { ... }`: its ranges join the subnet they lie in.
func (im *importer) pool(s *Stmt, sc *scope) {
	if sc.kind != "subnet" && sc.kind != "shared-network" {
		im.skipAll(s, "pool declared outside a subnet or shared-network")
		return
	}
	if !s.HasBlock || len(s.Words) != 1 {
		im.skipAll(s, "want pool { ... }")
		return
	}
	im.walk(s.Block, &scope{parent: sc, kind: "pool", pos: s.Pos()})
}

// rangeStmt reads `range [dynamic-bootp] LOW [HIGH];`.
func (im *importer) rangeStmt(s *Stmt, sc *scope) {
	if sc.kind != "subnet" && sc.kind != "pool" {
		im.skip(s, "range declaration not allowed here")
		return
	}
	a := args(s, 1)
	dynamic := len(a) > 0 && a[0].Text == "dynamic-bootp"
	if dynamic {
		a = a[1:]
	}
	if len(a) < 1 || len(a) > 2 {
		im.skip(s, "want range LOW [HIGH]")
		return
	}
	lo, err := addr(a[0])
	if err != nil {
		im.skip(s, "%v", err)
		return
	}
	hi := lo
	if len(a) == 2 {
		if hi, err = addr(a[1]); err != nil {
			im.skip(s, "%v", err)
			return
		}
	}
	if hi.Less(lo) { // dhcpd takes the two ends in either order
		lo, hi = hi, lo
	}
	im.ranges = append(im.ranges, rangeDecl{r: lease.Range{Start: lo, End: hi}, sc: sc, stmt: s, bootp: dynamic})
}

// finish builds the configuration once every statement is read.
func (im *importer) finish() error {
	c := im.r.Config
	if p := im.global.leaseTime; p != nil {
		c.LeaseTime = p.v
	}
	if p := im.global.authority; p != nil {
		c.Authoritative = p.v
	}
	reported := map[*Stmt]bool{}
	skipOnce := func(s *Stmt, why string, a ...any) {
		if !reported[s] {
			reported[s] = true
			im.skip(s, why, a...)
		}
	}
	for _, d := range im.subnets {
		im.subnetOptions(d, skipOnce)
	}
	im.assignRanges(skipOnce)
	im.reservations(skipOnce)
	im.finishPolicy(skipOnce)
	for _, d := range im.subnets {
		s := d.s
		if len(s.Ranges) == 0 && len(s.Reservations) == 0 && !im.classRanges(s.Prefix) {
			im.r.Skip(d.stmt.Pos(), d.stmt.Text(), "no range and no fixed address: nothing to hand out (dhcpd needs it to listen on the link, xdhcp does not)")
			continue
		}
		im.r.Comments[s] = im.origin(d)
		c.Subnets = append(c.Subnets, s)
	}
	im.pair()
	im.r.SortSkipped()
	return nil
}

// origin says where a subnet was declared, and in which shared network.
func (im *importer) origin(d *subnetDecl) string {
	o := d.stmt.Pos().String()
	for sc := d.sc.parent; sc != nil; sc = sc.parent {
		if sc.kind == "shared-network" {
			return fmt.Sprintf("%s, shared-network %s", o, sc.name)
		}
	}
	return o
}

// subnetOptions sets the subnet's options and parameters from its scope
// and every scope around it.
func (im *importer) subnetOptions(d *subnetDecl, skip func(*Stmt, string, ...any)) {
	c := im.r.Config
	eff := d.sc.effective()
	if p := lookup(d.sc, func(s *scope) *param[bool] { return s.authority }); p != nil && p.v != c.Authoritative {
		skip(p.stmt, "xdhcp is authoritative for every subnet or none (globally %v here)", c.Authoritative)
	}
	if p := lookup(d.sc, func(s *scope) *param[time.Duration] { return s.leaseTime }); p != nil && p.v != c.LeaseTime {
		d.s.LeaseTime = p.v
	}
	for _, code := range slices.Sorted(maps.Keys(eff)) {
		o := eff[code]
		if why := migrate.SetOption(c, d.s, code, o.v); why != "" {
			skip(o.stmt, "%s", why)
		}
	}
	if d.s.LeaseTime == c.LeaseTime {
		d.s.LeaseTime = 0
	}
	d.s.Boot = bootOf(d.sc, nil)
	for sc := d.sc; sc != nil; sc = sc.parent {
		if sc.kind == "shared-network" {
			d.s.SharedNetwork = migrate.Label(sc.name)
			break
		}
	}
	im.fixTimers(d)
}

// fixTimers drops T1/T2 that would not validate against the lease time
// (dhcpd sends them anyway; clients then ignore them).
func (im *importer) fixTimers(d *subnetDecl) {
	s := d.s
	lt, _, _ := im.r.Config.Timers(s)
	bad := (s.T1 > 0 && s.T1 >= lt) || (s.T2 > 0 && s.T2 >= lt) || (s.T1 > 0 && s.T2 > 0 && s.T1 >= s.T2)
	if !bad {
		return
	}
	eff := d.sc.effective()
	for _, code := range []uint8{58, 59} {
		if o, ok := eff[code]; ok {
			im.skip(o.stmt, "T1 and T2 must satisfy 0 < T1 < T2 < lease time (%v) in subnet %v", lt, s.Prefix)
		}
	}
	s.T1, s.T2 = 0, 0
}

// assignRanges puts every range into the subnet that holds it.
func (im *importer) assignRanges(skip func(*Stmt, string, ...any)) {
	var dyn []*Stmt
	plain := 0
	for _, rd := range im.ranges {
		var d *subnetDecl
		for _, x := range im.subnets {
			if x.s.Prefix.Contains(rd.r.Start) {
				d = x
			}
		}
		switch {
		case d == nil:
			skip(rd.stmt, "range %v is in no subnet", rd.r)
			continue
		case !d.s.Prefix.Contains(rd.r.End):
			skip(rd.stmt, "range %v runs outside subnet %v", rd.r, d.s.Prefix)
			continue
		}
		if o := overlapping(append(d.s.Ranges, im.allClassRanges()...), rd.r); o != nil {
			skip(rd.stmt, "range %v overlaps range %v", rd.r, *o)
			continue
		}
		if rd.bootp {
			dyn = append(dyn, rd.stmt)
		} else {
			plain++
		}
		if cl := im.classPool(rd.sc, skip); cl != nil {
			cl.Ranges = append(cl.Ranges, rd.r) // only the class's members take these
		} else {
			d.s.Ranges = append(d.s.Ranges, rd.r)
		}
		if rd.sc.kind != "pool" {
			continue
		}
		if b := bootOf(rd.sc, map[*scope]bool{d.sc: true}); d.s.Boot.Over(b) != d.s.Boot {
			for _, p := range []*Stmt{stmtOf(rd.sc.boot.next), stmtOf(rd.sc.boot.file), stmtOf(rd.sc.boot.sname)} {
				if p != nil {
					skip(p, "a boot field set in a pool applies to that pool only; xdhcp sets it per subnet")
				}
			}
		}
		// A pool's own options apply to its addresses only: carried over
		// when the subnet says the same.
		subnetEff := d.sc.effective()
		for _, o := range rd.sc.opts {
			if so, ok := subnetEff[o.code]; !ok || string(so.v) != string(o.v) {
				skip(o.stmt, "an option set in a pool applies to that pool's addresses only; xdhcp sets options per subnet")
			}
		}
		if p := rd.sc.leaseTime; p != nil && p.v != d.s.LeaseTime && !(d.s.LeaseTime == 0 && p.v == im.r.Config.LeaseTime) {
			skip(p.stmt, "a lease time set in a pool applies to that pool only; xdhcp sets it per subnet")
		}
	}
	im.bootpRanges(dyn, plain, skip)
}

func stmtOf[T any](p *param[T]) *Stmt {
	if p == nil {
		return nil
	}
	return p.stmt
}

func (im *importer) allClassRanges() []lease.Range {
	var out []lease.Range
	for _, cd := range im.classes {
		out = append(out, cd.cl.Ranges...)
	}
	return out
}

func (im *importer) classRanges(p netip.Prefix) bool {
	for _, r := range im.allClassRanges() {
		if p.Contains(r.Start) {
			return true
		}
	}
	return false
}

func overlapping(rs []lease.Range, r lease.Range) *lease.Range {
	for i, o := range rs {
		if o.Contains(r.Start) || o.Contains(r.End) || r.Contains(o.Start) {
			return &rs[i]
		}
	}
	return nil
}
