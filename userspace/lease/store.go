package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// maxBatch bounds one group commit so a huge burst cannot make one
// write (and its waiters' latency) unbounded.
const maxBatch = 4096

// DefaultCommitInterval is the least time between two group commits'
// fsyncs under load (Options.CommitInterval).
const DefaultCommitInterval = 2 * time.Millisecond

// Options tune a Store.
type Options struct {
	// Pools are the dynamic ranges (SetPools replaces them later).
	Pools []Pool
	// HBA and Role set this server's share of every range (SetShare).
	HBA  decide.HBA
	Role decide.Role
	// Issuer is recorded in every lease this server makes.
	Issuer Issuer
	// OpenTimeout bounds the wait for the file lock (another daemon).
	OpenTimeout time.Duration
	// CommitInterval is the adaptive group commit's pace: a change that
	// comes when the last fsync began longer ago than this is written at
	// once (an idle server answers in one fsync); under load the changes
	// that arrive within it share one write and one fsync. Zero means
	// DefaultCommitInterval, negative none (every batch at once).
	CommitInterval time.Duration
	Logger         *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Store is the lease database: an in-memory index mirrored to a journal
// file (journal.go, docs/lease-store.md). Lookups and allocation use the
// index; every change is durable before the call that made it returns.
type Store struct {
	j      *journal
	path   string
	log    *slog.Logger
	now    func() time.Time
	issuer Issuer
	every  time.Duration // CommitInterval

	// The commit queue: enqueue appends and wakes the committer only when
	// it waits for work (one token), so the changes that arrive while it
	// waits out the interval or syncs cost no hand-off each.
	qmu     sync.Mutex
	qfull   *sync.Cond
	queue   []*commit
	spare   []*commit
	qlen    int // leases queued
	closing bool
	wake    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
	// compaction is the committer's background snapshot (commit.go),
	// considered from compactMin records on (tests lower it).
	compaction compaction
	compactMin int

	mu            sync.Mutex
	byIP          map[netip.Addr]Lease
	byClient      map[string]netip.Addr
	offers        map[netip.Addr]offer
	offerByClient map[string]netip.Addr
	offerCount    int
	pools         []*pool
	// taken and busy: the free index (freeindex.go).
	taken []*fenwick
	busy  indexedHeap
	hba   decide.HBA
	role  decide.Role

	txs, written, compactions atomic.Uint64
	quarantined               int
	// fault is the last failed commit until one succeeds (see Fault);
	// the committer alone writes it, readers load it.
	fault                atomic.Pointer[Fault]
	failedTxs, notStored atomic.Uint64
	faultLog             faultLog

	subMu       sync.Mutex
	subs        map[int]func(Lease)
	nextID      int
	afterCommit []func()
}

type commit struct {
	leases []Lease
	done   func(error)
}

// errClosed fails changes queued while the store closes.
var errClosed = errors.New("lease store closed")

// Pending is a change on its way to disk. Its callbacks run once the
// change is durable (or failed), on the committing goroutine: they must be
// quick (sending a reply is fine) and must not wait for another commit.
type Pending struct {
	mu   sync.Mutex
	done bool
	err  error
	then []func(error)
}

func (p *Pending) complete(err error) {
	p.mu.Lock()
	p.done, p.err = true, err
	fns := p.then
	p.then = nil
	p.mu.Unlock()
	for _, f := range fns {
		f(err)
	}
}

// Then calls f with the outcome: now if it is known, else when it is.
func (p *Pending) Then(f func(error)) {
	p.mu.Lock()
	if !p.done {
		p.then = append(p.then, f)
		p.mu.Unlock()
		return
	}
	err := p.err
	p.mu.Unlock()
	f(err)
}

// Wait blocks until the change is durable or failed. It does not give up
// with a context: once queued, the write happens, and a caller must not
// answer for a lease whose fate it does not know.
func (p *Pending) Wait() error {
	ch := make(chan error, 1)
	p.Then(func(err error) { ch <- err })
	return <-ch
}

// Open opens (creating if needed) the store at path and loads every lease.
// A bbolt store of an earlier version is migrated to the journal (the old
// file is kept as PATH.bbolt); records that do not decode are quarantined
// (logged, counted, copied to PATH.quarantine) and the rest load.
func Open(path string, o Options) (*Store, error) {
	if o.OpenTimeout == 0 {
		o.OpenTimeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CommitInterval == 0 {
		o.CommitInterval = DefaultCommitInterval
	}
	if err := migrateBbolt(path, o.OpenTimeout, o.Logger); err != nil {
		return nil, fmt.Errorf("open lease store %s: %w", path, err)
	}
	j, sc, err := openJournal(path, o.OpenTimeout)
	if err != nil {
		return nil, fmt.Errorf("open lease store %s: %w", path, err)
	}
	os.Remove(path + ".compact") // a compaction a crash interrupted: the journal is whole
	s := &Store{
		j: j, path: path, log: o.Logger, now: o.Now, issuer: o.Issuer, every: max(o.CommitInterval, 0), compactMin: compactMin,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		byIP: map[netip.Addr]Lease{}, byClient: map[string]netip.Addr{},
		offers: map[netip.Addr]offer{}, offerByClient: map[string]netip.Addr{},
		subs: map[int]func(Lease){},
		hba:  o.HBA, role: o.Role,
	}
	s.qfull = sync.NewCond(&s.qmu)
	if sc.torn > 0 {
		s.log.Warn("lease store: dropped a record cut short by a crash (never acknowledged)", "db", path, "bytes", sc.torn)
	}
	for _, l := range sortedLeases(sc.leases) {
		s.index(l)
	}
	if len(sc.bad) > 0 {
		if err := s.quarantine(sc.bad); err != nil {
			j.close()
			return nil, fmt.Errorf("open lease store %s: %w", path, err)
		}
	}
	s.mu.Lock()
	s.setPoolsLocked(o.Pools)
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go s.committer(ctx)
	return s, nil
}

// Close stops the committer (waiting for commits in flight) and closes the file.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	return s.j.close()
}

// Stats counts durable writes: Transactions is the number of fsync'd
// transactions, Leases the lease records they carried (group commit makes
// the first much smaller than the second under load).
type Stats struct {
	Transactions uint64 `json:"transactions"`
	Leases       uint64 `json:"leases"`
	// FailedTransactions and LeasesNotStored count commits that failed
	// (disk full, read-only, I/O error) and the lease changes they carried:
	// each was undone in memory and its client got no reply.
	FailedTransactions uint64 `json:"failed_transactions"`
	LeasesNotStored    uint64 `json:"leases_not_stored"`
	// Quarantined counts the records Open skipped because they did not
	// decode; Compactions the journal rewrites since Open.
	Quarantined int    `json:"quarantined"`
	Compactions uint64 `json:"compactions"`
}

// Stats reports the store's write counters since Open.
func (s *Store) Stats() Stats {
	return Stats{s.txs.Load(), s.written.Load(), s.failedTxs.Load(), s.notStored.Load(), s.quarantined, s.compactions.Load()}
}

// maxQueued bounds the leases waiting for the disk: past it, enqueue
// waits (a stalled disk slows the server rather than growing its memory).
const maxQueued = 4 * maxBatch

// enqueue queues leases for the next group commit; after runs first with
// the outcome (index revert, subscribers), then the Pending completes.
func (s *Store) enqueue(leases []Lease, after func(error)) *Pending {
	p := &Pending{}
	c := &commit{leases: leases, done: func(err error) {
		if after != nil {
			after(err)
		}
		p.complete(err)
	}}
	s.qmu.Lock()
	for s.qlen >= maxQueued && !s.closing {
		s.qfull.Wait()
	}
	if s.closing {
		s.qmu.Unlock()
		c.done(errClosed)
		return p
	}
	s.queue = append(s.queue, c)
	s.qlen += len(leases)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a token is waiting already
	}
	return p
}

// take hands the committer everything queued.
func (s *Store) take() []*commit {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	b := s.queue
	s.queue, s.spare = s.spare[:0], nil
	s.qlen = 0
	s.qfull.Broadcast()
	return b
}

// giveBack returns a written batch's slice for reuse.
func (s *Store) giveBack(b []*commit) {
	clear(b)
	s.qmu.Lock()
	if s.spare == nil && cap(b) <= maxQueued {
		s.spare = b[:0]
	}
	s.qmu.Unlock()
}

// Subscribe calls fn with every lease this server commits (bind, renew,
// release, decline), after it is durable and before the client is answered.
// fn runs on the committing goroutine and must not block; leases applied
// with ApplyPeer are not reported. The returned func unsubscribes.
func (s *Store) Subscribe(fn func(Lease)) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	id := s.nextID
	s.nextID++
	s.subs[id] = fn
	return func() {
		s.subMu.Lock()
		delete(s.subs, id)
		s.subMu.Unlock()
	}
}

func (s *Store) notify(l Lease) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, fn := range s.subs {
		fn(l)
	}
}

// Get returns the lease record of ip.
func (s *Store) Get(ip netip.Addr) (Lease, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.byIP[ip]
	return l, ok
}

// ByClient returns the latest lease record of a client.
func (s *Store) ByClient(id ClientID) (Lease, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ip, ok := s.byClient[string(id)]
	if !ok {
		return Lease{}, false
	}
	l, ok := s.byIP[ip]
	return l, ok
}

// All returns every lease record, ordered by address (failover resync,
// listings).
func (s *Store) All() []Lease {
	s.mu.Lock()
	out := make([]Lease, 0, len(s.byIP))
	for _, l := range s.byIP {
		out = append(out, l)
	}
	s.mu.Unlock()
	SortByIP(out)
	return out
}

// SortByIP orders leases by address.
func SortByIP(ls []Lease) {
	sort.Slice(ls, func(i, j int) bool { return ls[i].IP.Less(ls[j].IP) })
}

// ApplyPeer stores a binding received from the failover partner when it is
// newer (by Start) than what this server holds, durably. It reports whether
// the lease was applied. Subscribers are not called (no echo to the peer).
func (s *Store) ApplyPeer(ctx context.Context, l Lease) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if !l.IP.Is4() {
		return false, fmt.Errorf("peer lease: address %v is not IPv4", l.IP)
	}
	if l.State < Bound || l.State > Declined {
		return false, fmt.Errorf("peer lease %v: unknown state %d", l.IP, l.State)
	}
	s.mu.Lock()
	old, had := s.byIP[l.IP]
	// Both servers may have renewed the same client (a partition): the
	// client holds whichever ACK it took, so the binding lasts until the
	// later of the two expiries, never the earlier. Merging field by field
	// (latest start, latest expiry) makes both stores converge.
	same := had && old.State == Bound && l.State == Bound && bytes.Equal(old.Client, l.Client)
	newer := l.Start.After(old.Start) || (same && l.Expiry.After(old.Expiry))
	if had && !newer {
		s.mu.Unlock()
		return false, nil
	}
	if same {
		l.Start = laterOf(l.Start, old.Start)
		l.Expiry = laterOf(l.Expiry, old.Expiry)
	}
	s.index(l)
	s.mu.Unlock()
	err := s.enqueue([]Lease{l}, func(err error) {
		if err != nil {
			s.revert(l, old, had)
		}
	}).Wait()
	return err == nil, err
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// index records l in the in-memory index; the caller holds mu (or owns s).
func (s *Store) index(l Lease) {
	if old, ok := s.byIP[l.IP]; ok && len(old.Client) > 0 && s.byClient[string(old.Client)] == l.IP {
		delete(s.byClient, string(old.Client))
	}
	s.byIP[l.IP] = l
	if len(l.Client) > 0 {
		s.byClient[string(l.Client)] = l.IP
	}
	s.track(l.IP, s.now())
}

// revert undoes an index change whose commit failed, unless someone else
// changed the address since.
func (s *Store) revert(l, old Lease, had bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.byIP[l.IP]; !ok || !cur.Start.Equal(l.Start) || cur.State != l.State {
		return
	}
	if had {
		s.index(old)
		return
	}
	delete(s.byIP, l.IP)
	if len(l.Client) > 0 && s.byClient[string(l.Client)] == l.IP {
		delete(s.byClient, string(l.Client))
	}
	s.track(l.IP, s.now())
}
