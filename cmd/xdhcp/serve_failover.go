package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/daemon"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/metrics"
)

// failoverFlags are serve's failover partner flags (issue 4).
func failoverFlags() []cli.Flag {
	env := func(n string) []string { return []string{envName(n)} }
	return []cli.Flag{
		&cli.StringFlag{Name: "peer", EnvVars: env("peer"), Usage: "failover partner ADDR[:PORT] (default port 647); the primary connects to it, the secondary accepts only this address"},
		&cli.StringFlag{Name: "listen-peer", EnvVars: env("listen-peer"), Usage: "accept the failover partner on ADDR[:PORT] (default :647 when --peer is set)"},
		&cli.StringFlag{Name: "secret-file", EnvVars: env("secret-file"), Usage: "file holding the pair's shared secret (at least 16 bytes; surrounding white space ignored)"},
		&cli.DurationFlag{Name: "mclt", EnvVars: env("mclt"), Value: failover.DefaultMCLT, Usage: "maximum client lead time (both servers must agree)"},
		&cli.DurationFlag{Name: "receive-timeout", EnvVars: env("receive-timeout"), Value: failover.DefaultReceiveTimeout, Usage: "no message from the partner for this long: communications-interrupted"},
		&cli.DurationFlag{Name: "auto-partner-down", EnvVars: env("auto-partner-down"), Usage: "move from communications-interrupted to partner-down after this long (0: only on the partner's goodbye or xdhcp partner-down)"},
		&cli.StringFlag{Name: "failover-control", EnvVars: env("failover-control"), Value: failover.DefaultControl, Usage: "unix socket for xdhcp status and xdhcp partner-down"},
	}
}

// peerAddr reads ADDR or ADDR:PORT (default port 647) for flag.
func peerAddr(flag, a string) (string, error) {
	if a == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		if strings.Count(a, ":") > 1 && net.ParseIP(strings.Trim(a, "[]")) == nil {
			return "", fmt.Errorf("--%s %q: not ADDR or ADDR:PORT", flag, a)
		}
		host, port = strings.Trim(a, "[]"), strconv.Itoa(failover.DefaultPort)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("--%s %q: port %q is not 0..65535", flag, a, port)
	}
	return net.JoinHostPort(host, port), nil
}

// runDaemon runs d, and beside it the failover engine when --peer or
// --listen-peer is given: the engine drives d's rule and lease share and
// sends d's leases to the partner. On SIGTERM the engine tells the partner
// first (it takes every client at once), then both stop.
func runDaemon(c *cli.Context, d *daemon.Daemon, cfg *config.Config, log *slog.Logger) error {
	peer, err := peerAddr("peer", c.String("peer"))
	if err != nil {
		d.Store().Close()
		return err
	}
	listen, err := peerAddr("listen-peer", c.String("listen-peer"))
	if err != nil {
		d.Store().Close()
		return err
	}
	if peer == "" && listen == "" {
		return d.Run(c.Context)
	}
	if listen == "" {
		listen = ":" + strconv.Itoa(failover.DefaultPort)
	}
	e, err := newEngine(c, d, cfg, log, peer, listen)
	if err != nil {
		d.Store().Close() // d.Run never started: it would have closed it
		return err
	}
	return runPair(c, d, cfg, e)
}

// newEngine checks the failover flags and builds the engine over d.
func newEngine(c *cli.Context, d *daemon.Daemon, cfg *config.Config, log *slog.Logger, peer, listen string) (*failover.Engine, error) {
	secret, err := readSecret(c.String("secret-file"))
	if err != nil {
		return nil, err
	}
	var ranges []lease.Range
	for _, p := range cfg.Pools() {
		ranges = append(ranges, p.Ranges...)
	}
	e, err := failover.New(failover.Options{
		Peer: peer, Listen: listen, Secret: secret,
		MCLT: c.Duration("mclt"), ReceiveTimeout: c.Duration("receive-timeout"), AutoPartnerDown: c.Duration("auto-partner-down"),
		OfferHold: cfg.OfferHold, Pools: ranges, Bindings: d.Store(), Rule: d, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	// The MCLT rule: no lease outlasts what the partner acknowledged by more than MCLT.
	d.SetLeaseLimit(e.LeaseTime)
	// Until the partner is heard the daemon starts in STARTUP (answers
	// every client the fast path passes, offers nothing new).
	r := d.Rule()
	r.Rule = decide.Startup
	return e, d.SetRule(r)
}

// runPair runs the daemon and the engine until either ends or c's context does.
func runPair(c *cli.Context, d *daemon.Daemon, cfg *config.Config, e *failover.Engine) error {
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	// The daemon stops after the engine said goodbye, so the partner
	// takes over before this server goes silent.
	dctx, stopDaemon := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDaemon()
	daemonDone := make(chan error, 1)
	go func() { daemonDone <- d.Run(dctx) }()
	// The engine starts once the daemon serves (XDP attached, server ids
	// set), so their rule writes do not cross.
	if err := waitServing(ctx, controlPath(c, cfg), daemonDone); err != nil {
		stopDaemon()
		return err
	}
	if err := e.ServeControl(ctx, c.String("failover-control")); err != nil {
		stopDaemon()
		return joinErr(err, <-daemonDone)
	}
	feedMetrics(c.Context, e)
	engineDone := make(chan error, 1)
	go func() { engineDone <- e.Run(ctx) }()
	select {
	case err := <-engineDone:
		stopDaemon()
		return joinErr(err, <-daemonDone)
	case err := <-daemonDone:
		cancel()
		return joinErr(err, <-engineDone)
	}
}

type metricsKey struct{}

// withMetrics hands serve --metrics' registry to the failover wiring.
func withMetrics(ctx context.Context, m *metrics.Metrics) context.Context {
	return context.WithValue(ctx, metricsKey{}, m)
}

// feedMetrics registers the engine's state and the address shares as the
// failover and pool gauges, when --metrics is on.
func feedMetrics(ctx context.Context, e *failover.Engine) {
	m, _ := ctx.Value(metricsKey{}).(*metrics.Metrics)
	if m == nil {
		return
	}
	m.SetFailover(func() metrics.Failover {
		st := e.Status()
		f := metrics.Failover{State: st.State.String()}
		if st.PartnerState != nil {
			f.PartnerState = st.PartnerState.String()
		}
		if st.LastContact != nil {
			f.LastContact = *st.LastContact
		}
		return f
	})
	m.SetPools(func() []metrics.Pool {
		var out []metrics.Pool
		for _, sh := range e.Status().Shares {
			share := "partner"
			if sh.Mine {
				share = "local"
			}
			out = append(out, metrics.Pool{Name: sh.Range.String(), Share: share, Free: int(sh.Free), Total: int(sh.Size)})
		}
		return out
	})
}

// controlPath is the daemon's own control socket (serve --control).
func controlPath(c *cli.Context, cfg *config.Config) string {
	if p := c.String("control"); p != "" {
		return p
	}
	return cfg.DB + ".sock"
}

// waitServing waits until the daemon answers on its control socket (it
// opens it once its interfaces and fast path are set up).
func waitServing(ctx context.Context, ctl string, daemonDone chan error) error {
	for {
		if _, err := daemon.Dial(ctl).Stats(); err == nil {
			return nil
		}
		select {
		case err := <-daemonDone:
			if err == nil {
				err = fmt.Errorf("daemon stopped before serving")
			}
			return err
		case <-ctx.Done():
			return <-daemonDone
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func joinErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func readSecret(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("failover: --secret-file is required with --peer/--listen-peer (every peer message is authenticated)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--secret-file: %w", err)
	}
	s := []byte(strings.TrimSpace(string(b)))
	if len(s) < failover.MinSecret {
		return nil, fmt.Errorf("--secret-file %s: %d bytes, at least %d", path, len(s), failover.MinSecret)
	}
	return s, nil
}

// controlFlag is the failover control socket of status and partner-down.
var controlFlag = &cli.StringFlag{Name: "control", Value: failover.DefaultControl, EnvVars: []string{"XDHCP_FAILOVER_CONTROL"},
	Usage: "the daemon's failover control socket (serve --failover-control)"}

func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmt.Sprintf("%s (%s ago)", t.Local().Format(time.DateTime), time.Since(*t).Round(time.Millisecond))
}
