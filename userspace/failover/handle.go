package failover

// Handling the partner's messages: binding updates and their
// acknowledgements, the resync that leads to NORMAL.

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// handle processes one authenticated message from the partner.
func (e *Engine) handle(ctx context.Context, c *conn, m *Message) {
	s := &e.st
	s.lastContact = e.o.Now()
	switch m.Type {
	case MsgContact:
	case MsgState:
		if !s.partnerKnown || s.partner != m.State {
			e.log.Info("partner state", "state", m.State)
		}
		s.partner, s.partnerKnown = m.State, true
	case MsgUpdReqAll:
		for _, l := range e.o.Bindings.All() {
			e.q.add(l)
		}
		s.resyncing, s.sentDone = true, false
		e.flush(c)
	case MsgUpdDone:
		s.gotDone = true
		e.checkSynced()
	case MsgBndUpd:
		e.mu.Unlock() // the store's commits take a while; the status may be read meanwhile
		rejected := e.applyBatch(ctx, m.Leases)
		e.mu.Lock()
		for _, l := range m.Leases {
			if !containsAddr(rejected, l.IP) {
				e.q.partnerKnows(l.IP, l.Expiry)
			}
		}
		c.send(&Message{Header: Header{Type: MsgBndAck}, Batch: m.Batch, Rejected: rejected})
	case MsgBndAck:
		for _, a := range e.q.ack(m.Batch, m.Rejected) {
			e.log.Warn("partner rejected a binding update", "ip", a)
		}
		e.flush(c)
		e.checkSynced()
	case MsgPoolReq:
		e.poolReq(c, m)
	case MsgPoolResp:
		e.poolResp(m)
	case MsgDisconnect:
		if m.Shutdown {
			e.setState(decide.PartnerDown, "partner is shutting down: "+m.Reason)
		}
		err := fmt.Errorf("the partner disconnected: %s", m.Reason)
		c.fail(err)
		e.disconnected(c, err)
	default:
		e.log.Error("unexpected message from the partner, ignored", "type", m.Type)
	}
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// applyBatch stores the partner's bindings concurrently, so they share the
// store's group commit; it returns those that could not be stored.
func (e *Engine) applyBatch(ctx context.Context, ls []lease.Lease) []netip.Addr {
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.o.Bindings.ApplyPeer(ctx, ls[i])
		}()
	}
	wg.Wait()
	var rejected []netip.Addr
	for i, err := range errs {
		if err != nil {
			e.log.Error("binding from the partner not stored", "ip", ls[i].IP, "err", err)
			rejected = append(rejected, ls[i].IP)
		}
	}
	return rejected
}

// flush sends pending bindings in batches, at most maxInflight unacked;
// during a resync UPDDONE follows the last of them.
func (e *Engine) flush(c *conn) {
	s := &e.st
	if c == nil || !s.connected {
		return
	}
	for e.q.pendingLen() > 0 && e.q.inflightLen() < maxInflight {
		id, batch := e.q.next(sendBatch)
		if err := c.send(&Message{Header: Header{Type: MsgBndUpd}, Batch: id, Leases: batch}); err != nil {
			e.log.Error("send BNDUPD", "err", err)
			return
		}
		s.lastSent = e.o.Now()
	}
	if s.resyncing && !s.sentDone && e.q.pendingLen() == 0 {
		c.send(&Message{Header: Header{Type: MsgUpdDone}})
		s.sentDone, s.doneBatch = true, e.q.lastBatch()
		e.checkSynced()
	}
}

// checkSynced moves to NORMAL once both sides have every binding: the
// partner's UPDDONE arrived and it acknowledged all this server sent.
func (e *Engine) checkSynced() {
	s := &e.st
	if !s.connected || !s.resyncing || !s.gotDone || !s.sentDone || !e.q.ackedThrough(s.doneBatch) {
		return
	}
	s.resyncing = false
	if s.state != decide.Normal {
		e.setState(decide.Normal, "resynchronised with the partner")
	}
}

// onCommit is the store's hook: a lease this server committed goes to the
// partner. It must not block.
func (e *Engine) onCommit(l lease.Lease) {
	e.mu.Lock()
	e.q.add(l)
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
}
