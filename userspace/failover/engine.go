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
	Rule() decide.Rule
	SetRule(decide.Rule) error
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
