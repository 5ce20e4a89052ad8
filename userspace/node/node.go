// Package node is `xdhcp serve`: one Options value in, and everything a
// server runs started and stopped in order: the lease store and the
// daemon (sockets, XDP fast path), the control socket, the failover
// engine, the metrics endpoint. cmd/xdhcp only turns flags into Options.
//
// Start order: control socket (claimed first, so a second daemon on the
// same path stops before touching anything), metrics listener, lease
// store, failover engine checked; then the daemon opens its interfaces
// and attaches the fast path; once it serves, the engine runs and Ready
// closes. Stop order: the engine tells the partner it is going (the
// partner takes every client at once), the daemon stops reading and the
// store commits what it has, then the control socket and metrics close.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/daemon"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/metrics"
)

// Options are everything serve needs.
type Options struct {
	Config *config.Config
	// Rule is the fast-path rule from the flags; a tuning file made
	// against the same flags overrides its threshold and assignment.
	Rule decide.Rule
	// RuleSource says how the rule was chosen, for the log ("flags",
	// "standalone default: this server owns every bucket").
	RuleSource string
	// Failover makes this server one of a pair; nil runs it standalone.
	// Node fills Pools, OfferHold, Bindings, Rule and Logger.
	Failover *failover.Options
	// Metrics is the Prometheus listen address ("" = off).
	Metrics string
	// Control is the control socket (default control.DefaultSocket);
	// ControlGroup makes it 0660 for that group.
	Control      string
	ControlGroup string
	// Tuning keeps live changes across restarts (default Config.DB + ".tuning").
	Tuning  string
	PinDir  string
	KeepXDP bool
	Logger  *slog.Logger
}

// Node is a running server.
type Node struct {
	o       Options
	log     *slog.Logger
	d       *daemon.Daemon
	engine  *failover.Engine // nil: standalone
	tuner   *tuner
	metrics *metrics.Metrics
	fp      *liveFastPath
	ctl     net.Listener
	mln     net.Listener // metrics
	started time.Time
	netns   string

	ready chan struct{}
	done  chan struct{}
	err   error
	// stopping is set once shutdown began (health says not serving).
	mu       sync.Mutex
	stopping bool
}

// Start checks o, claims the control socket and the metrics address,
// opens the store and starts serving in the background. The error is
// for what fails at once; later failures come from Wait.
func Start(ctx context.Context, o Options) (_ *Node, err error) {
	if o.Config == nil {
		return nil, errors.New("node: no configuration")
	}
	// Checked before anything is claimed or opened.
	if err := o.Config.Validate(""); err != nil {
		return nil, err
	}
	if len(o.Config.Interfaces) == 0 {
		return nil, errors.New("no interface to serve: give --iface or interfaces:")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Control == "" {
		o.Control = control.DefaultSocket
	}
	if o.Tuning == "" {
		o.Tuning = o.Config.DB + ".tuning"
	}
	n := &Node{o: o, log: o.Logger, started: time.Now(), ready: make(chan struct{}), done: make(chan struct{})}
	n.netns, _ = os.Readlink("/proc/thread-self/ns/net")
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	rule, source, err := applyTuningFile(o.Tuning, o.Rule, o.RuleSource, n.log)
	if err != nil {
		return nil, err
	}
	n.log.Info("fast-path rule", "source", source, "role", rule.Role, "buckets_owned", rule.HBA.Count(rule.Role),
		"threshold", rule.Threshold, "state", rule.Rule, "pair", o.Failover != nil)
	if n.ctl, err = control.Listen(o.Control, o.ControlGroup); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { n.ctl.Close() })
	if o.Metrics != "" {
		if n.mln, err = net.Listen("tcp", o.Metrics); err != nil {
			return nil, fmt.Errorf("metrics: listen on %s: %w", o.Metrics, err)
		}
		cleanup = append(cleanup, func() { n.mln.Close() })
		n.fp = &liveFastPath{pinDir: o.PinDir}
		n.metrics = metrics.New(metrics.Options{FastPath: n.fp, Runtime: true, Logger: n.log})
	}
	if o.Failover != nil {
		// Until the partner is heard the daemon starts in STARTUP: it
		// answers every client the fast path passes and offers nothing new.
		rule.Rule = decide.Startup
	}
	n.d, err = daemon.New(daemon.Options{Config: o.Config, Rule: rule, PinDir: o.PinDir, KeepXDP: o.KeepXDP, Logger: n.log, Metrics: n.metrics})
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { n.d.Store().Close() })
	n.tuner = &tuner{rules: n.d, share: n.d.Store().SetShare, file: o.Tuning,
		base: Tuning{Threshold: o.Rule.Threshold, HBA: o.Rule.HBA}, source: source, log: n.log}
	if o.Failover != nil {
		if err := n.newEngine(*o.Failover); err != nil {
			return nil, err
		}
	}
	go n.run(ctx)
	return n, nil
}

// newEngine builds the failover engine over the daemon and its store.
func (n *Node) newEngine(fo failover.Options) error {
	var ranges []lease.Range
	for _, p := range n.o.Config.Pools() {
		ranges = append(ranges, p.Ranges...)
	}
	fo.Pools, fo.OfferHold, fo.Bindings, fo.Rule, fo.Logger = ranges, n.o.Config.OfferHold, n.d.Store(), n.d, n.log
	e, err := failover.New(fo)
	if err != nil {
		return err
	}
	n.engine = e
	// The MCLT rule: no lease outlasts what the partner acknowledged by more than MCLT.
	n.d.SetLeaseLimit(e.LeaseTime)
	n.tuner.fo, n.tuner.pair = e, engineTuner{e}
	feedMetrics(n.metrics, e)
	return nil
}

// Ready is closed once the node serves (and, in a pair, the engine runs).
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Done is closed when the node has stopped; Wait then returns at once.
func (n *Node) Done() <-chan struct{} { return n.done }

// Wait blocks until the node has stopped (its context ended, or a part
// failed) and returns why, nil for a clean stop.
func (n *Node) Wait() error {
	<-n.done
	return n.err
}

// Reload swaps in a new configuration (SIGHUP; see daemon.Reload) and logs
// each change, then a summary (a reader waiting for it has every change).
// On error nothing changed.
func (n *Node) Reload(cfg *config.Config, file string) error {
	changed, err := n.d.Reload(cfg)
	if err != nil {
		return err
	}
	for _, ch := range changed {
		n.log.Info("reload changed", "setting", ch)
	}
	n.log.Info("configuration reloaded", "file", file, "changes", len(changed))
	return nil
}

// Daemon is the running daemon (tests, and what node does not wrap).
func (n *Node) Daemon() *daemon.Daemon { return n.d }

// run starts the parts in order and stops them in reverse once ctx ends
// or one of them fails.
func (n *Node) run(ctx context.Context) {
	defer close(n.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Each part ends on its own context; an end before ctx's is a failure.
	ctlCtx, stopCtl := context.WithCancel(context.WithoutCancel(ctx))
	ctl := start("control socket", ctlCtx, func() error {
		return control.NewServer(control.Services{Leases: n.d.Store(), Stats: n.d, Rules: n.tuner,
			Failover: n.failoverService(), Health: n}, n.log).Serve(ctlCtx, n.ctl)
	})
	var met, eng *part // nil: not run
	if n.mln != nil {
		n.log.Info("metrics: serving", "addr", n.mln.Addr(), "path", metrics.Path)
		met = start("metrics", ctlCtx, func() error { return metrics.ServeListener(ctlCtx, n.mln, n.metrics) })
	}
	// The daemon stops after the engine said goodbye, so the partner
	// takes over before this server goes silent.
	dctx, stopDaemon := context.WithCancel(context.WithoutCancel(ctx))
	dmn := start("daemon", dctx, func() error { return n.d.Run(dctx) })
	select {
	case <-n.d.Serving():
		if n.engine != nil {
			eng = start("failover engine", ctx, func() error { return n.engine.Run(ctx) })
		}
		close(n.ready)
		n.log.Info("node ready", "control", n.o.Control)
		select {
		case <-ctx.Done():
		case <-dmn.ended:
		case <-eng.endedCh():
		case <-met.endedCh():
		case <-ctl.ended:
		}
	case <-dmn.ended:
	case <-ctx.Done():
	}
	n.mu.Lock()
	n.stopping = true
	n.mu.Unlock()
	cancel()
	engErr := eng.wait()
	stopDaemon()
	dmnErr := dmn.wait()
	stopCtl()
	ctlErr, metErr := ctl.wait(), met.wait()
	if n.fp != nil {
		n.fp.close()
	}
	n.err = errors.Join(engErr, dmnErr, ctlErr, metErr)
}

// part is one goroutine of the node and how it ended.
type part struct {
	ended chan struct{}
	err   error
}

// start runs fn; a nil return while ctx still runs is an error too: a
// part must not stop on its own.
func start(name string, ctx context.Context, fn func() error) *part {
	p := &part{ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		p.err = fn()
		if p.err == nil && ctx.Err() == nil {
			p.err = fmt.Errorf("%s stopped on its own", name)
		}
	}()
	return p
}

// endedCh is closed when p ends; nil (never ready in a select) when the
// node does not run p.
func (p *part) endedCh() <-chan struct{} {
	if p == nil {
		return nil
	}
	return p.ended
}

// wait waits for p to end and returns its error (nil when not run).
func (p *part) wait() error {
	if p == nil {
		return nil
	}
	<-p.ended
	return p.err
}

// failoverService is the engine for the control API (a nil interface, not
// a nil pointer, when standalone).
func (n *Node) failoverService() control.Failover {
	if n.engine == nil {
		return nil
	}
	return n.engine
}
