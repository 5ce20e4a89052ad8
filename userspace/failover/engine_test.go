package failover

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// fakeStore is an in-memory lease store with the Bindings interface.
type fakeStore struct {
	mu     sync.Mutex
	leases map[netip.Addr]lease.Lease
	subs   map[int]func(lease.Lease)
	n      int
	hba    decide.HBA
	role   decide.Role
	shares []shareChange
}

type shareChange struct {
	at    time.Time
	split int // primary buckets of the share HBA
}

func newFakeStore() *fakeStore {
	return &fakeStore{leases: map[netip.Addr]lease.Lease{}, subs: map[int]func(lease.Lease){}}
}

func (f *fakeStore) All() []lease.Lease {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []lease.Lease
	for _, l := range f.leases {
		out = append(out, l)
	}
	lease.SortByIP(out)
	return out
}

func (f *fakeStore) ApplyPeer(_ context.Context, l lease.Lease) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.leases[l.IP]; ok && !l.Start.After(old.Start) {
		return false, nil
	}
	f.leases[l.IP] = l
	return true, nil
}

func (f *fakeStore) Subscribe(fn func(lease.Lease)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.n
	f.n++
	f.subs[id] = fn
	return func() { f.mu.Lock(); delete(f.subs, id); f.mu.Unlock() }
}

func (f *fakeStore) SetShare(h decide.HBA, r decide.Role) {
	f.mu.Lock()
	f.hba, f.role = h, r
	f.shares = append(f.shares, shareChange{time.Now(), h.Count(decide.Primary)})
	f.mu.Unlock()
}

// commit is this server binding a lease (the store then tells subscribers).
func (f *fakeStore) commit(l lease.Lease) {
	f.mu.Lock()
	f.leases[l.IP] = l
	subs := make([]func(lease.Lease), 0, len(f.subs))
	for _, s := range f.subs {
		subs = append(subs, s)
	}
	f.mu.Unlock()
	for _, s := range subs {
		s(l)
	}
}

func (f *fakeStore) share() (decide.HBA, decide.Role) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hba, f.role
}

// fakeRule records every rule written.
type fakeRule struct {
	mu      sync.Mutex
	cfg     decide.Rule
	history []decide.State
}

func (r *fakeRule) Rule() decide.Rule { r.mu.Lock(); defer r.mu.Unlock(); return r.cfg }
func (r *fakeRule) SetRule(c decide.Rule) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg = c
	r.history = append(r.history, c.Rule)
	return nil
}
func (r *fakeRule) states() []decide.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]decide.State(nil), r.history...)
}

// logBuf collects one engine's log.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type node struct {
	e      *Engine
	store  *fakeStore
	rule   *fakeRule
	log    *logBuf
	cancel context.CancelFunc
	done   chan struct{}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var testPools = []lease.Range{{Start: netip.MustParseAddr("198.18.0.100"), End: netip.MustParseAddr("198.18.0.199")}}

func startNode(t *testing.T, role decide.Role, split int, listen, peer string, mod func(*Options)) *node {
	t.Helper()
	n := &node{store: newFakeStore(), rule: &fakeRule{}, log: &logBuf{}, done: make(chan struct{})}
	n.rule.cfg = decide.Rule{HBA: decide.MustSplit(split), Role: role, Threshold: 6, Rule: decide.Normal}
	o := Options{Peer: peer, Listen: listen, Secret: testSecret, MCLT: time.Second, ReceiveTimeout: 300 * time.Millisecond,
		Retry: 50 * time.Millisecond, Pools: testPools, Bindings: n.store, Rule: n.rule,
		Logger: slog.New(slog.NewTextHandler(n.log, nil)).With("node", role.String())}
	if mod != nil {
		mod(&o)
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	n.e = e
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { defer close(n.done); e.Run(ctx) }()
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	n.cancel()
	<-n.done
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if ok() {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, within)
	return 0
}

func (n *node) state() decide.State { return n.e.Status().State }

// proxy sits between the primary and the secondary so tests can cut the
// link (FIN), freeze it (silent loss) or record the primary's bytes.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	frozen bool
	record bytes.Buffer
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			a.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, a, b)
		p.mu.Unlock()
		go p.pipe(b, a, true)
		go p.pipe(a, b, false)
	}
}

func (p *proxy) pipe(dst, src net.Conn, record bool) {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		p.mu.Lock()
		frozen := p.frozen
		if record {
			p.record.Write(buf[:n])
		}
		p.mu.Unlock()
		if !frozen {
			dst.Write(buf[:n])
		}
	}
}

// cut closes every proxied connection (both ends see FIN).
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) freeze(v bool) { p.mu.Lock(); p.frozen = v; p.mu.Unlock() }

// pair starts a primary (split 128) and a secondary configured with a
// different HBA, connected through a proxy.
func pair(t *testing.T, mod func(*Options)) (prim, sec *node, px *proxy) {
	secAddr := freePort(t)
	px = newProxy(t, secAddr)
	sec = startNode(t, decide.Secondary, 100, secAddr, "127.0.0.1:1", mod)
	prim = startNode(t, decide.Primary, 128, "", px.addr(), mod)
	waitFor(t, "both normal", 3*time.Second, func() bool {
		return prim.state() == decide.Normal && sec.state() == decide.Normal
	})
	return
}

func TestPairNormalAndBindingUpdates(t *testing.T) {
	prim, sec, _ := pair(t, nil)
	// The secondary adopted the primary's HBA in its rule and share.
	if got := sec.rule.Rule(); got.HBA != decide.MustSplit(128) || got.Rule != decide.Normal {
		t.Errorf("secondary rule %s %s, want split 128 normal", got.HBA, got.Rule)
	}
	if h, r := sec.store.share(); h != decide.MustSplit(128) || r != decide.Secondary {
		t.Errorf("secondary share %s %s", h, r)
	}
	if st := sec.rule.states(); st[0] != decide.Startup || st[len(st)-1] != decide.Normal {
		t.Errorf("secondary rule states %v: want startup ... normal", st)
	}
	// Leases committed on each side reach the other, acknowledged.
	var want []lease.Lease
	for i := 0; i < 150; i++ { // more than two batches
		l := bindingFrom(t, fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff), fmt.Sprintf("198.18.0.%d", 100+i%100), time.Now())
		l.IP = netip.AddrFrom4([4]byte{198, 18, byte(1 + i/100), byte(i % 100)})
		want = append(want, l)
		if i%2 == 0 {
			prim.store.commit(l)
		} else {
			sec.store.commit(l)
		}
	}
	lease.SortByIP(want)
	waitFor(t, "both stores hold every binding", 3*time.Second, func() bool {
		return len(prim.store.All()) == len(want) && len(sec.store.All()) == len(want)
	})
	waitFor(t, "every update acknowledged", 2*time.Second, func() bool {
		return prim.e.Status().Unacked == 0 && sec.e.Status().Unacked == 0
	})
	for i, l := range sec.store.All() {
		if l.IP != want[i].IP || !bytes.Equal(l.Client, want[i].Client) || !l.Expiry.Equal(want[i].Expiry) || l.Hostname != want[i].Hostname {
			t.Fatalf("secondary binding %d = %+v, want %+v", i, l, want[i])
		}
	}
	// MCLT rule: acknowledged expiry + MCLT bounds a renewal, a new address gets MCLT.
	l := want[0]
	if got, want := prim.e.LeaseTime(l.IP, 24*time.Hour), time.Until(l.Expiry)+time.Second; (got - want).Abs() > 50*time.Millisecond {
		t.Errorf("LeaseTime(acked) = %s, want about %s", got, want)
	}
	if got := prim.e.LeaseTime(netip.MustParseAddr("198.18.0.250"), 24*time.Hour); got != time.Second {
		t.Errorf("LeaseTime(unknown) = %s, want MCLT 1s", got)
	}
	if got := prim.e.LeaseTime(l.IP, time.Minute); got != time.Minute {
		t.Errorf("LeaseTime below the bound = %s, want 1m", got)
	}
	st := prim.e.Status()
	if st.PartnerState == nil || *st.PartnerState != decide.Normal || !st.Connected || st.BucketsOwned != 128 || st.LastContact == nil {
		t.Errorf("primary status %+v", st)
	}
	if len(st.Shares) != 2 || st.Shares[0].Size != 50 || st.Shares[0].Owner != decide.Primary || !st.Shares[0].Mine {
		t.Errorf("shares %+v", st.Shares)
	}
}

func TestClosedConnectionIsNoticedAtOnce(t *testing.T) {
	prim, sec, px := pair(t, nil)
	start := time.Now()
	px.cut()
	d := waitFor(t, "secondary communications-interrupted", time.Second, func() bool { return sec.state() == decide.CommunicationsInterrupted })
	t.Logf("closed connection noticed after %s (receive timeout 300ms)", d)
	if d > 100*time.Millisecond {
		t.Errorf("closed connection took %s to notice, want well below the receive timeout", d)
	}
	if got := sec.rule.Rule().Rule; got != decide.CommunicationsInterrupted {
		t.Errorf("fast path state %s", got)
	}
	if h, _ := sec.store.share(); h != decide.MustSplit(128) {
		t.Errorf("share in communications-interrupted %s, want the split (own free addresses only)", h)
	}
	// The primary redials; both return to normal.
	waitFor(t, "normal again", 3*time.Second, func() bool {
		return prim.state() == decide.Normal && sec.state() == decide.Normal
	})
	t.Logf("reconnected and resynchronised in %s", time.Since(start))
}

func TestSilentLossWithinReceiveTimeout(t *testing.T) {
	_, sec, px := pair(t, nil)
	px.freeze(true)
	start := time.Now()
	d := waitFor(t, "secondary communications-interrupted", 2*time.Second, func() bool { return sec.state() == decide.CommunicationsInterrupted })
	t.Logf("silent loss noticed after %s (receive timeout 300ms)", d)
	// One receive timeout after the last frame; slack for a loaded CI machine (-race).
	if d > 300*time.Millisecond+200*time.Millisecond {
		t.Errorf("silent loss took %s, want within one receive timeout (300ms)", d)
	}
	_ = start
	px.freeze(false)
}

func TestGracefulStopHandsOver(t *testing.T) {
	prim, sec, _ := pair(t, nil)
	prim.stop()
	d := waitFor(t, "secondary partner-down", time.Second, func() bool { return sec.state() == decide.PartnerDown })
	t.Logf("partner-down %s after the primary's stop", d)
	if !strings.Contains(sec.log.String(), "partner is shutting down") {
		t.Error("secondary log does not say the partner shut down")
	}
	if st := sec.e.Status(); st.BucketsOwned != 256 || st.UsingPartnerFree {
		t.Errorf("before MCLT: %+v", st)
	}
	if h, _ := sec.store.share(); h != decide.MustSplit(128) {
		t.Error("took the partner's free addresses before MCLT")
	}
	waitFor(t, "partner's free addresses after MCLT", 2*time.Second, func() bool {
		h, _ := sec.store.share()
		return h == decide.MustSplit(0) // every bucket the secondary's: the whole range
	})
	if st := sec.e.Status(); !st.UsingPartnerFree || st.State != decide.PartnerDown {
		t.Errorf("after MCLT: %+v", st)
	}
}

func TestOperatorPartnerDown(t *testing.T) {
	prim, sec, px := pair(t, nil)
	ctx := context.Background()
	if err := sec.e.PartnerDown(ctx); err == nil || !strings.Contains(err.Error(), "partner is connected") {
		t.Errorf("partner-down while connected: %v", err)
	}
	prim.stop()
	_ = px
	waitFor(t, "partner-down from the shutdown message", time.Second, func() bool { return sec.state() == decide.PartnerDown })
	if err := sec.e.PartnerDown(ctx); err != nil {
		t.Errorf("partner-down when already there: %v", err)
	}
}

func TestAutoPartnerDown(t *testing.T) {
	secAddr := freePort(t)
	sec := startNode(t, decide.Secondary, 128, secAddr, "", func(o *Options) { o.AutoPartnerDown = 200 * time.Millisecond })
	waitFor(t, "startup, then communications-interrupted, then partner-down", 2*time.Second, func() bool { return sec.state() == decide.PartnerDown })
	st := sec.rule.states()
	if st[0] != decide.Startup || !containsState(st, decide.CommunicationsInterrupted) {
		t.Errorf("states %v", st)
	}
	if !strings.Contains(sec.e.Status().Reason, "auto partner-down") {
		t.Errorf("reason %q", sec.e.Status().Reason)
	}
}

func containsState(ss []decide.State, s decide.State) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Refusals leave the state alone and are logged with the reason, on both
// sides when the refused side could authenticate its partner.
func TestHandshakeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name             string
		secondary        decide.Role
		mod              func(*Options)
		primLog, secLog  string
		bothNeverConnect bool
	}{
		{"wrong secret", decide.Secondary, func(o *Options) { o.Secret = []byte("not the shared secret!") },
			"partner connection refused", "MAC does not match", true},
		{"threshold mismatch", decide.Secondary, nil, "threshold: primary 6, secondary 4", "threshold: primary 6, secondary 4", true},
		{"mclt mismatch", decide.Secondary, func(o *Options) { o.MCLT = 2 * time.Second }, "mclt: primary 1s, secondary 2s", "mclt: primary 1s, secondary 2s", true},
		{"both primary", decide.Primary, nil, "both servers are primary", "both servers are primary", true},
		{"different pools", decide.Secondary, func(o *Options) { o.Pools = o.Pools[:0] }, "pools: primary [198.18.0.100-198.18.0.199], secondary []", "pools: primary [198.18.0.100-198.18.0.199], secondary []", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secAddr, primAddr := freePort(t), freePort(t)
			sec := startNode(t, tc.secondary, 128, secAddr, primAddr, tc.mod)
			if tc.name == "threshold mismatch" {
				sec.rule.mu.Lock()
				sec.rule.cfg.Threshold = 4
				sec.rule.mu.Unlock()
			}
			prim := startNode(t, decide.Primary, 128, primAddr, secAddr, nil)
			defer func() {
				if t.Failed() {
					t.Logf("primary log:\n%s\nsecondary log:\n%s", prim.log, sec.log)
				}
			}()
			waitFor(t, "both logs give the reason", 2*time.Second, func() bool {
				return strings.Contains(prim.log.String(), tc.primLog) && strings.Contains(sec.log.String(), tc.secLog)
			})
			time.Sleep(100 * time.Millisecond)
			for _, n := range []*node{prim, sec} {
				if n.e.Status().Connected || containsState(n.rule.states(), decide.Normal) || containsState(n.rule.states(), decide.Recover) {
					t.Errorf("%s connected or changed state: %v", n.e.role, n.rule.states())
				}
			}
		})
	}
}

// Garbage and a replayed session on the peer port are refused and logged;
// the established pair stays in NORMAL.
func TestGarbageAndReplayRefused(t *testing.T) {
	_, sec, px := pair(t, nil)
	secAddr := px.target
	before := len(sec.rule.states())
	px.mu.Lock()
	recorded := bytes.Clone(px.record.Bytes())
	px.mu.Unlock()
	for _, tc := range []struct {
		name  string
		bytes []byte
		log   string
	}{
		{"garbage", bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: xdhcp\r\n\r\n"), 1000), "MAC does not match"},
		{"short length", []byte{0, 10, 1, 2, 3, 4, 5, 6, 7, 8}, "length 10, at least 56"},
		{"replayed session", recorded, "MAC does not match"},
		{"truncated connect", recorded[:40], "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", secAddr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(tc.bytes)
			if tc.name == "truncated connect" {
				c.(*net.TCPConn).CloseWrite()
			}
			c.SetReadDeadline(time.Now().Add(4 * time.Second))
			io.Copy(io.Discard, c) // until the secondary closes it
			c.Close()
			waitFor(t, "refusal logged", 2*time.Second, func() bool { return strings.Contains(sec.log.String(), tc.log) })
		})
	}
	if st := sec.e.Status(); st.State != decide.Normal || !st.Connected || len(sec.rule.states()) != before {
		t.Errorf("state changed: %+v, rule history %v", st, sec.rule.states())
	}
}

// firstShare is when the store's share first became split s.
func (f *fakeStore) firstShare(s int) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.shares {
		if c.split == s {
			return c.at, true
		}
	}
	return time.Time{}, false
}

// Pool rebalancing: the side whose share has free addresses to spare gives
// them up first, and the other side starts using them only an offer hold later.
func TestRebalanceGiverFirst(t *testing.T) {
	const hold = 150 * time.Millisecond
	for _, tc := range []struct {
		name      string
		fill      string // the side whose share runs low
		giver     string
		wantAbove bool // new split above 128 (the primary grows)
	}{
		{"primary low", "primary", "secondary", true},
		{"secondary low", "secondary", "primary", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prim, sec, _ := pair(t, func(o *Options) { o.RebalanceEvery, o.OfferHold = 50*time.Millisecond, hold })
			// Range 198.18.0.100-199: split 128 gives the primary .100-.149.
			start := 100
			if tc.fill == "secondary" {
				start = 150
			}
			owner := map[string]*node{"primary": prim, "secondary": sec}[tc.fill]
			for i := 0; i < 48; i++ {
				owner.store.commit(bindingFrom(t, fmt.Sprintf("02:00:00:00:01:%02x", i), fmt.Sprintf("198.18.0.%d", start+i), time.Now()))
			}
			var split int
			waitFor(t, "both shares moved", 3*time.Second, func() bool {
				split = prim.e.Status().ShareSplit
				return split != 128 && sec.e.Status().ShareSplit == split && !rebalancing(prim.e)
			})
			if (split > 128) != tc.wantAbove {
				t.Fatalf("new split %d", split)
			}
			giver, taker := map[string]*node{"primary": prim, "secondary": sec}[tc.giver], owner
			gave, ok1 := giver.store.firstShare(split)
			took, ok2 := taker.store.firstShare(split)
			if !ok1 || !ok2 || took.Sub(gave) < hold {
				t.Errorf("giver applied split %d at %v, taker at %v: want the taker at least %s later", split, gave, took, hold)
			}
			st := prim.e.Status()
			var free [2]uint32
			for _, sh := range st.Shares {
				free[sh.Owner] += sh.Free
			}
			t.Logf("split 128 -> %d; free now primary %d, secondary %d; taker waited %s", split, free[0], free[1], took.Sub(gave).Round(time.Millisecond))
			if min(free[0], free[1])*4 < max(free[0], free[1]) {
				t.Errorf("still lopsided: %v", free)
			}
		})
	}
}

func rebalancing(e *Engine) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.rebalancing
}

func TestNewRefusesBadOptions(t *testing.T) {
	rule := func(r decide.Role) *fakeRule { return &fakeRule{cfg: decide.Rule{Role: r}} }
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"short secret", Options{Secret: []byte("short"), Peer: "a:1"}, "at least 16"},
		{"mclt", Options{MCLT: time.Millisecond, Peer: "a:1"}, "mclt 1ms: at least 1s"},
		{"receive timeout", Options{ReceiveTimeout: time.Millisecond, Peer: "a:1"}, "receive timeout 1ms"},
		{"negative auto partner-down", Options{AutoPartnerDown: -time.Second, Peer: "a:1"}, "negative"},
		{"primary without peer", Options{}, "needs the partner's address"},
		{"peer without port", Options{Peer: "198.19.0.2"}, "--peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			if o.Secret == nil {
				o.Secret = testSecret
			}
			o.Bindings, o.Rule = newFakeStore(), rule(decide.Primary)
			if _, err := New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
