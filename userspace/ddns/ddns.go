// Package ddns keeps DNS in step with the leases this server issues: an A
// record (name -> address) and a PTR record (address -> name) are added
// when a binding is committed and removed when it is released, declined or
// expires (RFC 2136 dynamic updates, signed with TSIG). Every name carries
// a DHCID record (RFC 4701) and updates follow RFC 4703's conflict rules:
// a name another client registered is never taken over.
//
// Updates never delay a reply: the lease store hands each committed
// binding to Observe, which queues it (bounded; a full queue drops and
// counts), and one worker talks to the DNS server.
package ddns

import (
	"container/heap"
	"context"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// Store is what the updater reads of the lease store.
type Store interface {
	Get(ip netip.Addr) (lease.Lease, bool)
	All() []lease.Lease
}

// Options configure an Updater.
type Options struct {
	// Config returns the DDNS settings in force (nil: off); read for every
	// update, so a reload applies to the next one.
	Config func() *config.DDNS
	Store  Store
	// Me identifies this server in leases' IssuedBy: it removes at expiry
	// only the names of bindings it issued last.
	Me     netip.Addr
	Logger *slog.Logger
	Now    func() time.Time
	// Queue bounds the waiting updates (0: config.DefaultDDNSQueue).
	Queue int
}

// Stats count the updater's work since New.
type Stats struct {
	Queued    uint64 `json:"queued"`
	Dropped   uint64 `json:"dropped"`   // queue full
	Added     uint64 `json:"added"`     // names registered (A, and PTR when a reverse zone is set)
	Removed   uint64 `json:"removed"`   // names removed
	Conflicts uint64 `json:"conflicts"` // name held by another client's DHCID: left alone
	Failed    uint64 `json:"failed"`    // DNS server unreachable, refused, or TSIG rejected
}

// Updater sends the updates; Run is its worker.
type Updater struct {
	o     Options
	queue chan lease.Lease
	stats struct{ queued, dropped, added, removed, conflicts, failed atomic.Uint64 }

	// Owned by the worker: what this server registered, per address, and
	// when each registration's binding expires.
	registered map[netip.Addr]record
	expiries   expiryHeap
}

// record is one registration: the binding it was made for.
type record struct {
	name   string
	client lease.ClientID
	hwaddr string
	expiry time.Time
	ok     bool // the DNS server accepted it
}

// New makes an updater over the store's current bindings; nothing is
// sent until Run.
func New(o Options) *Updater {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Queue <= 0 {
		o.Queue = config.DefaultDDNSQueue
	}
	u := &Updater{o: o, queue: make(chan lease.Lease, o.Queue), registered: map[netip.Addr]record{}}
	u.load()
	return u
}

// Stats reports the counters.
func (u *Updater) Stats() Stats {
	s := &u.stats
	return Stats{s.queued.Load(), s.dropped.Load(), s.added.Load(), s.removed.Load(), s.conflicts.Load(), s.failed.Load()}
}

// Observe queues a binding this server committed; it never blocks (the
// lease store calls it before the client's reply leaves).
func (u *Updater) Observe(l lease.Lease) {
	select {
	case u.queue <- l:
		u.stats.queued.Add(1)
	default:
		u.stats.dropped.Add(1)
	}
}

// load takes the registrations of the bindings this server issued from
// the store (a restart): bound ones are assumed registered, and those that
// expired in the last day while the daemon was down are removed at once
// (removal is idempotent: the DHCID prerequisite fails once it is gone).
func (u *Updater) load() {
	now := u.o.Now()
	for _, l := range u.o.Store.All() {
		if l.State == lease.Bound && l.DNSName != "" && l.IssuedBy.ServerID == u.o.Me && now.Sub(l.Expiry) < 24*time.Hour {
			u.remember(l, true)
		}
	}
}

// Run sends updates until ctx ends.
func (u *Updater) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		u.expire(ctx)
		wait := time.Hour
		if len(u.expiries) > 0 {
			wait = max(0, u.expiries[0].at.Sub(u.o.Now()))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case l := <-u.queue:
			u.apply(ctx, l)
		case <-timer.C:
		}
	}
}

// apply brings DNS in line with one committed binding.
func (u *Updater) apply(ctx context.Context, l lease.Lease) {
	cfg := u.o.Config()
	old, had := u.registered[l.IP]
	bound := l.State == lease.Bound && l.DNSName != ""
	same := had && bound && old.name == l.DNSName && string(old.client) == string(l.Client)
	if had && !same {
		u.remove(ctx, cfg, l.IP, old)
	}
	if !bound || cfg == nil {
		return
	}
	if same && old.ok {
		u.remember(l, true) // a renewal: the records are in place
		return
	}
	u.remember(l, u.add(ctx, cfg, l))
}

func (u *Updater) remember(l lease.Lease, ok bool) {
	u.registered[l.IP] = record{name: l.DNSName, client: l.Client, hwaddr: l.HWAddr, expiry: l.Expiry, ok: ok}
	heap.Push(&u.expiries, expiryEntry{at: l.Expiry, ip: l.IP})
}

// expire removes the names of bindings that ended: still bound to the same
// client in the store, issued by this server, past their expiry. A binding
// the partner renewed since is the partner's to keep up.
func (u *Updater) expire(ctx context.Context) {
	now := u.o.Now()
	for len(u.expiries) > 0 && !u.expiries[0].at.After(now) {
		e := heap.Pop(&u.expiries).(expiryEntry)
		r, ok := u.registered[e.ip]
		if !ok || !r.expiry.Equal(e.at) {
			continue // stale entry: re-registered since
		}
		cur, found := u.o.Store.Get(e.ip)
		switch {
		case found && cur.State == lease.Bound && string(cur.Client) == string(r.client) && cur.Expiry.After(now):
			if cur.IssuedBy.ServerID != u.o.Me {
				delete(u.registered, e.ip)
				continue
			}
			r.expiry = cur.Expiry
			u.registered[e.ip] = r
			heap.Push(&u.expiries, expiryEntry{at: cur.Expiry, ip: e.ip})
		default:
			u.remove(ctx, u.o.Config(), e.ip, r)
		}
	}
}

func (u *Updater) remove(ctx context.Context, cfg *config.DDNS, ip netip.Addr, r record) {
	delete(u.registered, ip)
	if cfg == nil {
		return
	}
	u.removeRecords(ctx, cfg, ip, r)
}

type expiryEntry struct {
	at time.Time
	ip netip.Addr
}

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
