// Package failover makes two xdhcp daemons a load-balance failover pair:
// an authenticated TCP connection (HMAC-SHA256, replay-protected), a
// handshake that checks both configurations, heartbeats, binding updates
// with acknowledgements and the MCLT rule, and the state machine that
// rewrites the fast-path rule and the address share on every change.
package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// Defaults.
const (
	DefaultPort           = 647
	DefaultReceiveTimeout = 3 * time.Second
	DefaultMCLT           = time.Hour
	// maxInflight bounds BNDUPD batches awaiting their BNDACK.
	maxInflight = 32
)

// Bindings is the lease store as failover uses it (*lease.Store).
type Bindings interface {
	All() []lease.Lease
	ApplyPeer(ctx context.Context, l lease.Lease) (bool, error)
	Subscribe(fn func(lease.Lease)) (cancel func())
	SetShare(hba decide.HBA, role decide.Role)
}

// Rule is the fast path's rule (the daemon: XDP maps or the Go-side check).
type Rule interface {
	Rule() decide.Config
	SetRule(decide.Config) error
}

// Options configure an Engine.
type Options struct {
	// Peer is the partner's failover address; the primary dials it, the
	// secondary accepts connections only from its IP (when set).
	Peer string
	// Listen is where this server accepts the partner ("" = no listener).
	Listen string
	// Secret is the shared secret (at least MinSecret bytes).
	Secret []byte
	// MCLT is the maximum client lead time (default 1 h).
	MCLT time.Duration
	// ReceiveTimeout: no message for this long means the partner is
	// unreachable (default 3 s); CONTACT goes out every third of it.
	ReceiveTimeout time.Duration
	// AutoPartnerDown moves COMMUNICATIONS-INTERRUPTED to PARTNER-DOWN
	// after this long (0: never, only an operator or the partner's
	// shutdown message does).
	AutoPartnerDown time.Duration
	// MaxSkew is the replay window for frame times (default 30 s).
	MaxSkew time.Duration
	// Retry is the pause between connection attempts (default 500 ms).
	Retry time.Duration
	// RebalanceEvery is how often the primary checks the free addresses
	// of both shares (default 10 s; negative: never rebalance).
	RebalanceEvery time.Duration
	// OfferHold is how long an offer holds its address (the daemon's
	// offer-hold): the side giving addresses up waits this long.
	OfferHold time.Duration
	// Pools are every dynamic range (both must have the same).
	Pools    []lease.Range
	Bindings Bindings
	Rule     Rule
	Logger   *slog.Logger
	Now      func() time.Time
}

func (o *Options) defaults() error {
	if o.MCLT == 0 {
		o.MCLT = DefaultMCLT
	}
	if o.ReceiveTimeout == 0 {
		o.ReceiveTimeout = DefaultReceiveTimeout
	}
	if o.MaxSkew == 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	if o.Retry == 0 {
		o.Retry = 500 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RebalanceEvery == 0 {
		o.RebalanceEvery = 10 * time.Second
	}
	if o.OfferHold == 0 {
		o.OfferHold = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case len(o.Secret) < MinSecret:
		return fmt.Errorf("failover secret: %d bytes, at least %d", len(o.Secret), MinSecret)
	case o.MCLT < time.Second:
		return fmt.Errorf("mclt %s: at least 1s", o.MCLT)
	case o.ReceiveTimeout < 100*time.Millisecond:
		return fmt.Errorf("receive timeout %s: at least 100ms", o.ReceiveTimeout)
	case o.Bindings == nil || o.Rule == nil:
		return errors.New("failover: no lease store or rule")
	case o.AutoPartnerDown < 0:
		return fmt.Errorf("auto partner-down %s: negative", o.AutoPartnerDown)
	}
	return nil
}

// Engine is this server's side of the failover pair.
type Engine struct {
	o    Options
	log  *slog.Logger
	role decide.Role
	ops  chan func()
	kick chan struct{}

	mu sync.Mutex
	st status
	q  queue
}

// status is the engine's state (under mu).
type status struct {
	state            decide.State
	since            time.Time
	reason           string
	partner          decide.State
	partnerKnown     bool
	connected        bool
	cur              *conn
	remote           string
	lastContact      time.Time
	lastSent         time.Time
	peerTimeout      time.Duration
	hba              decide.HBA // agreed: the primary's
	split            uint16     // primary's part of every range, in 256ths
	partnerDownSince time.Time
	tookShare        bool
	rebalancing      bool // the primary awaits POOLRESP
	lastRebalance    time.Time
	// resync: UPDREQALL asked, UPDDONE sent/received
	resyncing, sentDone, gotDone bool
	doneBatch                    uint64
}

// New checks the options; Run starts the engine.
func New(o Options) (*Engine, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	base := o.Rule.Rule()
	e := &Engine{o: o, log: o.Logger.With("component", "failover"), role: base.Role,
		ops: make(chan func(), 16), kick: make(chan struct{}, 1)}
	e.st.hba = base.HBA
	e.st.split = uint16(base.HBA.Count(decide.Primary))
	e.st.state = decide.Startup
	e.st.since = o.Now()
	e.q.init()
	if base.Role == decide.Primary && o.Peer == "" {
		return nil, errors.New("failover: the primary needs the partner's address (--peer)")
	}
	if o.Peer != "" {
		if _, _, err := net.SplitHostPort(o.Peer); err != nil {
			return nil, fmt.Errorf("--peer %q: %w", o.Peer, err)
		}
	}
	return e, nil
}

func (e *Engine) params() Params {
	return Params{HBA: e.st.hba, Threshold: e.o.Rule.Rule().Threshold, MCLT: e.o.MCLT,
		ReceiveTimeout: e.o.ReceiveTimeout, State: e.st.state, ShareSplit: e.st.split, Pools: e.o.Pools}
}

func (e *Engine) handshake() *handshake {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &handshake{secret: e.o.Secret, role: e.role, params: e.params(), maxSkew: e.o.MaxSkew, now: e.o.Now}
}

// Run runs the engine until ctx ends; then it tells the partner it is
// stopping (the partner takes every client at once) and returns.
func (e *Engine) Run(ctx context.Context) error {
	conns := make(chan *conn)
	var wg sync.WaitGroup
	defer wg.Wait()
	if e.o.Listen != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", e.o.Listen)
		if err != nil {
			return fmt.Errorf("failover listen %s: %w", e.o.Listen, err)
		}
		defer ln.Close()
		wg.Add(1)
		go func() { defer wg.Done(); e.acceptLoop(ctx, ln, conns) }()
		e.log.Info("listening for the partner", "addr", ln.Addr())
	}
	if e.role == decide.Primary {
		wg.Add(1)
		go func() { defer wg.Done(); e.dialLoop(ctx, conns) }()
	} else {
		e.log.Info("secondary: waiting for the primary to connect", "peer", e.o.Peer)
	}
	unsub := e.o.Bindings.Subscribe(e.onCommit)
	defer unsub()

	e.mu.Lock()
	e.setState(decide.Startup, "starting")
	e.mu.Unlock()
	tick := time.NewTicker(e.tickEvery())
	defer tick.Stop()
	// Connections outlive ctx by the goodbye in stop.
	connCtx, closeConns := context.WithCancel(context.WithoutCancel(ctx))
	defer closeConns()
	var cur *conn
	for {
		var in chan *Message
		var cerr chan error
		if cur != nil {
			in, cerr = cur.in, cur.err
		}
		select {
		case <-ctx.Done():
			e.stop(cur)
			return nil
		case c := <-conns:
			if cur != nil {
				e.log.Info("partner reconnected: replacing the old connection", "old", cur.remote, "new", c.remote)
				cur.fail(errors.New("replaced by a new connection"))
				e.mu.Lock()
				e.disconnected(cur, errors.New("replaced"))
				e.mu.Unlock()
			}
			cur = c
			c.run(connCtx)
			e.mu.Lock()
			e.connected(c)
			e.mu.Unlock()
		case m := <-in:
			e.mu.Lock()
			e.handle(ctx, cur, m)
			e.mu.Unlock()
		case err := <-cerr:
			e.mu.Lock()
			e.disconnected(cur, err)
			e.mu.Unlock()
			cur = nil
		case <-e.kick:
			e.mu.Lock()
			e.flush(cur)
			e.mu.Unlock()
		case fn := <-e.ops:
			fn()
		case <-tick.C:
			e.mu.Lock()
			e.tick(cur)
			e.mu.Unlock()
		}
	}
}

func (e *Engine) tickEvery() time.Duration {
	d := e.o.ReceiveTimeout / 10
	return max(min(d, 100*time.Millisecond), 10*time.Millisecond)
}

// stop: pending bindings first, then DISCONNECT(shutdown), then close.
func (e *Engine) stop(cur *conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur == nil {
		e.log.Info("stopping (partner not connected)")
		return
	}
	e.flush(cur)
	cur.send(&Message{Header: Header{Type: MsgDisconnect}, Shutdown: true, Reason: "partner is shutting down"})
	e.log.Info("stopping: told the partner, it takes every client now", "unacked", e.q.unacked())
	cur.flushClose(time.Second)
}

func (e *Engine) dialLoop(ctx context.Context, conns chan<- *conn) {
	var lastErr string
	for ctx.Err() == nil {
		c, err := e.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if msg := err.Error(); msg != lastErr {
				lastErr = msg
				if errors.Is(err, ErrRefused) || errors.Is(err, ErrAuth) || errors.Is(err, ErrFrame) {
					e.log.Error("partner connection refused", "peer", e.o.Peer, "err", err)
				} else {
					e.log.Info("partner not reachable", "peer", e.o.Peer, "err", err)
				}
			}
			sleep(ctx, e.o.Retry)
			continue
		}
		lastErr = ""
		select {
		case conns <- c:
		case <-ctx.Done():
			c.nc.Close()
			return
		}
		select {
		case <-c.closed:
		case <-ctx.Done():
			return
		}
		sleep(ctx, e.o.Retry/5)
	}
}

func (e *Engine) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: handshakeTimeout}
	nc, err := d.DialContext(ctx, "tcp", e.o.Peer)
	if err != nil {
		return nil, err
	}
	c, err := e.handshake().initiate(nc, e.o.ReceiveTimeout)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (e *Engine) acceptLoop(ctx context.Context, ln net.Listener, conns chan<- *conn) {
	go func() { <-ctx.Done(); ln.Close() }()
	var mu sync.Mutex
	last := map[string]string{} // remote IP -> last refusal: repeated ones go to debug
	refuse := func(remote string, err error) {
		host, _, _ := net.SplitHostPort(remote)
		mu.Lock()
		repeat := last[host] == err.Error()
		last[host] = err.Error()
		mu.Unlock()
		level := slog.LevelError
		if repeat {
			level = slog.LevelDebug
		}
		e.log.Log(ctx, level, "peer connection refused", "remote", remote, "err", err)
	}
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("accept", "err", err)
			}
			return
		}
		go func() {
			remote := nc.RemoteAddr().String()
			if err := e.checkSource(nc.RemoteAddr()); err != nil {
				refuse(remote, err)
				nc.Close()
				return
			}
			c, err := e.handshake().accept(nc, e.o.ReceiveTimeout)
			if err != nil {
				refuse(remote, err)
				nc.Close()
				return
			}
			mu.Lock()
			clear(last)
			mu.Unlock()
			select {
			case conns <- c:
			case <-ctx.Done():
				nc.Close()
			}
		}()
	}
}

// checkSource refuses connections from anywhere but the configured partner.
func (e *Engine) checkSource(a net.Addr) error {
	if e.o.Peer == "" {
		return nil
	}
	host, _, _ := net.SplitHostPort(e.o.Peer)
	want, err := netip.ParseAddr(host)
	if err != nil {
		return nil // a name: the secret decides
	}
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return nil
	}
	got, _ := netip.AddrFromSlice(ta.IP)
	if got.Unmap() != want.Unmap() {
		return fmt.Errorf("connection from %s, the partner is %s", got, want)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// connected starts a session: the secondary adopts the primary's HBA and
// share, both ask for every binding (RECOVER from STARTUP).
func (e *Engine) connected(c *conn) {
	now := e.o.Now()
	s := &e.st
	s.connected, s.cur, s.remote, s.lastContact, s.lastSent = true, c, c.remote, now, now
	s.partner, s.partnerKnown = c.peer.State, true
	s.peerTimeout = c.peer.ReceiveTimeout
	if e.role == decide.Secondary {
		if c.peer.HBA != s.hba {
			e.log.Warn("adopting the primary's HBA (it is authoritative)", "mine", s.hba.String(), "primary", c.peer.HBA.String())
		}
		s.hba, s.split = c.peer.HBA, c.peer.ShareSplit
	}
	s.resyncing, s.sentDone, s.gotDone, s.doneBatch = true, false, false, 0
	e.q.requeueInflight()
	e.log.Info("partner connected", "remote", c.remote, "partner_state", c.peer.State)
	if s.state == decide.Startup {
		e.setState(decide.Recover, "partner connected: requesting every binding")
	} else {
		e.apply() // the HBA may have changed
	}
	c.send(&Message{Header: Header{Type: MsgUpdReqAll}})
}

func (e *Engine) disconnected(c *conn, err error) {
	s := &e.st
	if !s.connected || s.cur != c {
		return
	}
	s.connected, s.cur, s.resyncing, s.rebalancing = false, nil, false, false
	e.q.requeueInflight()
	e.log.Warn("partner connection lost", "remote", c.remote, "err", err)
	switch s.state {
	case decide.PartnerDown:
	default:
		e.setState(decide.CommunicationsInterrupted, "partner unreachable: "+err.Error())
	}
}

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
		id, batch := e.q.next(maxBatch)
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

func (e *Engine) tick(c *conn) {
	s := &e.st
	now := e.o.Now()
	if c != nil && s.connected {
		every := s.peerTimeout / 3
		if every <= 0 {
			every = e.o.ReceiveTimeout / 3
		}
		if now.Sub(s.lastSent) >= every {
			c.send(&Message{Header: Header{Type: MsgContact}})
			s.lastSent = now
		}
	}
	switch {
	case s.state == decide.Startup && !s.connected && now.Sub(s.since) >= e.o.ReceiveTimeout:
		e.setState(decide.CommunicationsInterrupted, "no partner within the receive timeout")
	case s.state == decide.CommunicationsInterrupted && e.o.AutoPartnerDown > 0 && now.Sub(s.since) >= e.o.AutoPartnerDown:
		e.setState(decide.PartnerDown, fmt.Sprintf("auto partner-down: no partner for %s", e.o.AutoPartnerDown))
	case s.state == decide.PartnerDown && !s.tookShare && now.Sub(s.partnerDownSince) >= e.o.MCLT:
		s.tookShare = true
		e.log.Info("MCLT passed in partner-down: using the partner's free addresses too", "mclt", e.o.MCLT)
		e.apply()
	}
	e.maybeRebalance(now)
}

// setState changes state, rewrites the rule and the share, logs, and
// tells the partner.
func (e *Engine) setState(to decide.State, reason string) {
	s := &e.st
	from := s.state
	s.state, s.since, s.reason = to, e.o.Now(), reason
	if to == decide.PartnerDown && from != decide.PartnerDown {
		s.partnerDownSince, s.tookShare = s.since, false
	}
	e.apply()
	e.log.Info("failover state", "from", from, "to", to, "reason", reason, "buckets_owned", e.bucketsOwned())
	if s.connected && s.cur != nil {
		s.cur.send(&Message{Header: Header{Type: MsgState}, State: to})
	}
}

func (e *Engine) apply() {
	e.applyRule()
	e.o.Bindings.SetShare(e.shareHBA())
}

// applyRule writes State and HBA together: one map update in the daemon.
func (e *Engine) applyRule() {
	cfg := e.o.Rule.Rule()
	cfg.State, cfg.HBA = e.st.state, e.st.hba
	if err := e.o.Rule.SetRule(cfg); err != nil {
		e.log.Error("fast-path rule not written", "state", e.st.state, "err", err)
	}
}

// shareHBA is the address share in force: none while this server does not
// know the partner's bindings (STARTUP, RECOVER), every range after MCLT
// in PARTNER-DOWN, else the agreed split.
func (e *Engine) shareHBA() (decide.HBA, decide.Role) {
	s := &e.st
	switch {
	case s.state == decide.Startup || s.state == decide.Recover:
		return roleAll(e.role.Other()), e.role
	case s.state == decide.PartnerDown && s.tookShare:
		return roleAll(e.role), e.role
	}
	return decide.MustSplit(int(s.split)), e.role
}

func roleAll(r decide.Role) decide.HBA {
	if r == decide.Primary {
		return decide.MustSplit(256)
	}
	return decide.MustSplit(0)
}

// bucketsOwned is how many buckets this server answers at secs 0 now.
func (e *Engine) bucketsOwned() int {
	if e.st.state != decide.Normal {
		return 256
	}
	return e.st.hba.Count(e.role)
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

// LeaseTime applies the MCLT rule to a lease about to be given for ip: it
// may end at most MCLT after what the partner has acknowledged (or after
// now, when the partner knows nothing newer).
func (e *Engine) LeaseTime(ip netip.Addr, want time.Duration) time.Duration {
	e.mu.Lock()
	known := e.q.acked[ip]
	e.mu.Unlock()
	now := e.o.Now()
	base := now
	if known.After(now) {
		base = known
	}
	return min(want, base.Add(e.o.MCLT).Sub(now))
}

// PartnerDown is the operator's assertion that the partner is not running.
func (e *Engine) PartnerDown(ctx context.Context) error {
	done := make(chan error, 1)
	op := func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		switch {
		case e.st.connected:
			done <- fmt.Errorf("the partner is connected (%s, state %s): refusing partner-down", e.st.remote, e.st.partner)
		case e.st.state == decide.PartnerDown:
			done <- nil
		default:
			e.setState(decide.PartnerDown, "operator: partner-down")
			done <- nil
		}
	}
	select {
	case e.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
