package failover

import (
	"net/netip"
	"slices"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// Pool rebalancing. Each range is split between the servers at the share
// split (the primary's part, in 256ths; lease.Share). The primary checks
// the free addresses of both parts in NORMAL; when one side has less than
// a quarter of the other's, it moves the split to the value that leaves
// both the most. The side that gives addresses up applies the new split
// first and waits OfferHold (its outstanding offers of those addresses
// expire) before the other side starts using them:
//
//	primary gives: primary shrinks, waits, POOLREQ(s) -> secondary grows, POOLRESP(s, ok)
//	secondary gives: POOLREQ(s) -> secondary shrinks, waits, POOLRESP(s, ok) -> primary grows
//
// So no address is ever in both servers' shares at once.

// freeBySplit counts, for a split s, the free addresses of the primary's
// and the secondary's parts of every range.
type freeBySplit struct {
	ranges []lease.Range
	active [][]uint32 // per range, the sorted active addresses in it
}

func newFreeBySplit(ranges []lease.Range, ls []lease.Lease, now time.Time) *freeBySplit {
	f := &freeBySplit{ranges: ranges, active: make([][]uint32, len(ranges))}
	for _, l := range ls {
		if !l.Active(now) {
			continue
		}
		for i, r := range ranges {
			if r.Contains(l.IP) {
				f.active[i] = append(f.active[i], u32(l.IP))
			}
		}
	}
	for i := range f.active {
		slices.Sort(f.active[i])
	}
	return f
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// at returns the free counts of the primary's and the secondary's parts.
func (f *freeBySplit) at(s int) (primary, secondary int) {
	h := decide.MustSplit(s)
	for i, r := range f.ranges {
		for _, role := range []decide.Role{decide.Primary, decide.Secondary} {
			part, ok := lease.Share(r, h, role)
			if !ok {
				continue
			}
			lo, _ := slices.BinarySearch(f.active[i], u32(part.Start))
			hi, _ := slices.BinarySearch(f.active[i], u32(part.End)+1)
			free := int(part.Size()) - (hi - lo)
			if role == decide.Primary {
				primary += free
			} else {
				secondary += free
			}
		}
	}
	return
}

// bestSplit proposes a new split when the free addresses are lopsided at
// cur; ok is false when cur is good enough.
func (f *freeBySplit) bestSplit(cur int) (s int, ok bool) {
	p, q := f.at(cur)
	if min(p, q)*4 >= max(p, q) || max(p, q) < 8 {
		return cur, false
	}
	best, bestMin := cur, min(p, q)
	for c := 1; c < 256; c++ {
		p, q := f.at(c)
		if m := min(p, q); m > bestMin || (m == bestMin && abs(c-cur) < abs(best-cur)) {
			best, bestMin = c, m
		}
	}
	return best, best != cur
}

func abs(v int) int { return max(v, -v) }

// maybeRebalance is the primary's periodic check (mu held).
func (e *Engine) maybeRebalance(now time.Time) {
	s := &e.st
	if e.role != decide.Primary || e.o.RebalanceEvery <= 0 || s.state != decide.Normal || s.resyncing ||
		s.rebalancing || s.cur == nil || now.Sub(s.lastRebalance) < e.o.RebalanceEvery {
		return
	}
	s.lastRebalance = now
	f := newFreeBySplit(e.o.Pools, e.o.Bindings.All(), now)
	to, ok := f.bestSplit(int(s.split))
	if !ok {
		return
	}
	fp, fs := f.at(int(s.split))
	tp, ts := f.at(to)
	e.log.Info("pool rebalance: proposing a new split", "split_from", s.split, "split_to", to,
		"free_primary", fp, "free_secondary", fs, "after_primary", tp, "after_secondary", ts)
	s.rebalancing = true
	c := s.cur
	if to < int(s.split) { // the primary gives: shrink first, tell after the offers expired
		s.split = uint16(to)
		e.apply()
		e.after(e.o.OfferHold, c, func() {
			c.send(&Message{Header: Header{Type: MsgPoolReq}, Split: uint16(to)})
		})
		return
	}
	c.send(&Message{Header: Header{Type: MsgPoolReq}, Split: uint16(to)})
}

// after runs fn on the engine's loop after d, if c is still the connection.
func (e *Engine) after(d time.Duration, c *conn, fn func()) {
	time.AfterFunc(d, func() {
		op := func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.st.cur == c {
				fn()
			}
		}
		select {
		case e.ops <- op:
		case <-c.closed:
		}
	})
}

// poolReq is the secondary's side.
func (e *Engine) poolReq(c *conn, m *Message) {
	s := &e.st
	if e.role != decide.Secondary || s.state != decide.Normal {
		e.log.Warn("pool rebalance refused", "split", m.Split, "state", s.state, "role", e.role)
		c.send(&Message{Header: Header{Type: MsgPoolResp}, Split: s.split, OK: false})
		return
	}
	from := s.split
	s.split = m.Split
	e.apply()
	if m.Split < from { // the secondary gains: the primary already gave and waited
		e.log.Info("pool rebalance: share grown", "split_from", from, "split_to", m.Split)
		c.send(&Message{Header: Header{Type: MsgPoolResp}, Split: m.Split, OK: true})
		return
	}
	e.log.Info("pool rebalance: share shrunk, confirming after the offer hold", "split_from", from, "split_to", m.Split, "hold", e.o.OfferHold)
	e.after(e.o.OfferHold, c, func() {
		c.send(&Message{Header: Header{Type: MsgPoolResp}, Split: m.Split, OK: true})
	})
}

// poolResp is the primary's side: grow when the secondary has given.
func (e *Engine) poolResp(m *Message) {
	s := &e.st
	s.rebalancing = false
	if !m.OK {
		e.log.Warn("pool rebalance refused by the partner", "partner_split", m.Split)
		return
	}
	if m.Split > s.split {
		e.log.Info("pool rebalance: share grown", "split_from", s.split, "split_to", m.Split)
		s.split = m.Split
		e.apply()
	}
}
