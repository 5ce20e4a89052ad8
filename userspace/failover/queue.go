package failover

import (
	"net/netip"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// queue holds the binding updates not yet acknowledged by the partner and
// what the partner is known to hold (the MCLT bookkeeping). The engine's
// mutex guards it.
type queue struct {
	// pending: not sent yet, newest per address (a later change supersedes).
	pending map[netip.Addr]lease.Lease
	order   []netip.Addr // FIFO of pending addresses (may hold stale entries)
	// inflight: sent, awaiting BNDACK, by batch id.
	inflight  map[uint64][]lease.Lease
	nextBatch uint64
	// acked: per address, the expiry the partner has acknowledged.
	acked map[netip.Addr]time.Time
}

func (q *queue) init() {
	q.pending = map[netip.Addr]lease.Lease{}
	q.inflight = map[uint64][]lease.Lease{}
	q.acked = map[netip.Addr]time.Time{}
}

func (q *queue) add(l lease.Lease) {
	if _, ok := q.pending[l.IP]; !ok {
		q.order = append(q.order, l.IP)
	}
	q.pending[l.IP] = l
}

func (q *queue) pendingLen() int  { return len(q.pending) }
func (q *queue) inflightLen() int { return len(q.inflight) }
func (q *queue) lastBatch() uint64 {
	return q.nextBatch
}

// unacked counts the bindings the partner has not acknowledged.
func (q *queue) unacked() int {
	n := len(q.pending)
	for _, b := range q.inflight {
		n += len(b)
	}
	return n
}

// next moves up to n pending bindings, oldest first, into a new batch.
func (q *queue) next(n int) (uint64, []lease.Lease) {
	var batch []lease.Lease
	i := 0
	for ; i < len(q.order) && len(batch) < n; i++ {
		a := q.order[i]
		if l, ok := q.pending[a]; ok {
			batch = append(batch, l)
			delete(q.pending, a)
		}
	}
	q.order = q.order[i:]
	q.nextBatch++
	q.inflight[q.nextBatch] = batch
	return q.nextBatch, batch
}

// ack completes a batch: the partner now knows each binding's expiry,
// except the rejected ones, which are returned.
func (q *queue) ack(id uint64, rejected []netip.Addr) []netip.Addr {
	batch, ok := q.inflight[id]
	if !ok {
		return nil
	}
	delete(q.inflight, id)
	var bad []netip.Addr
	for _, l := range batch {
		if containsAddr(rejected, l.IP) {
			bad = append(bad, l.IP)
			continue
		}
		q.partnerKnows(l.IP, l.Expiry)
	}
	return bad
}

// partnerKnows records that the partner holds a binding of a ending at exp.
func (q *queue) partnerKnows(a netip.Addr, exp time.Time) {
	if exp.After(q.acked[a]) {
		q.acked[a] = exp
	}
}

// ackedThrough says whether every batch up to id has been acknowledged.
func (q *queue) ackedThrough(id uint64) bool {
	for b := range q.inflight {
		if b <= id {
			return false
		}
	}
	return true
}

// requeueInflight puts unacknowledged batches back (the connection ended),
// unless a newer change of the same address is already pending.
func (q *queue) requeueInflight() {
	for id, batch := range q.inflight {
		for _, l := range batch {
			if cur, ok := q.pending[l.IP]; !ok || cur.Start.Before(l.Start) {
				q.add(l)
			}
		}
		delete(q.inflight, id)
	}
}
