package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/daemon"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/metrics"
)

// serveFlags are serve's own flags; the fast-path rule flags come from ruleFlags.
func serveFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "YAML configuration file (flags override it)"},
		&cli.StringSliceFlag{Name: "iface", Usage: "interface to serve, repeatable"},
		&cli.StringFlag{Name: "subnet", Usage: "subnet the flags below describe, CIDR (added, or overriding the file's subnet of that prefix)"},
		&cli.StringSliceFlag{Name: "range", Usage: "dynamic range START-END, repeatable"},
		&cli.StringFlag{Name: "router", Usage: "default gateway (option 3)"},
		&cli.StringSliceFlag{Name: "dns", Usage: "DNS server (option 6), repeatable"},
		&cli.StringFlag{Name: "domain", Usage: "domain name (option 15)"},
		&cli.DurationFlag{Name: "lease-time", Usage: "lease duration (default 1h)"},
		&cli.StringFlag{Name: "db", Usage: "lease store file (default " + config.DefaultDB + ")"},
		&cli.StringFlag{Name: "xdp", Usage: "fast path: auto, off, native or generic (default auto)"},
		&cli.StringFlag{Name: "control", Usage: "control socket for `xdhcp leases` (default DB.sock)"},
		&cli.Float64Flag{Name: "relay-rate", Usage: "new addresses per second per relay (DISCOVER, REQUEST for an address not held); 0: no limit (limits: relay-rate)"},
		&cli.Float64Flag{Name: "client-rate", Usage: "new addresses per second per client; 0: no limit (limits: client-rate)"},
		&cli.StringFlag{Name: "pool-reserve", Usage: "addresses of every pool share kept for known and reserved clients: N or P% (limits: pool-reserve)"},
		&cli.BoolFlag{Name: "debug", Usage: "log every request that gets no reply"},
		&cli.BoolFlag{Name: "keep-xdp", Usage: "leave the fast path attached when serve stops, so the next start replaces it without a gap (remove it with `xdhcp detach --iface IF --unpin`)"},
		pinDirFlag,
	}
}

// withEnv gives every flag an XDHCP_<NAME> environment variable.
func withEnv(flags []cli.Flag) []cli.Flag {
	for _, f := range flags {
		env := "XDHCP_" + strings.ToUpper(strings.ReplaceAll(f.Names()[0], "-", "_"))
		switch f := f.(type) {
		case *cli.StringFlag:
			if len(f.EnvVars) == 0 {
				f.EnvVars = []string{env}
			}
		case *cli.StringSliceFlag:
			f.EnvVars = []string{env}
		case *cli.IntFlag:
			f.EnvVars = []string{env}
		case *cli.UintFlag:
			f.EnvVars = []string{env}
		case *cli.BoolFlag:
			f.EnvVars = []string{env}
		case *cli.DurationFlag:
			f.EnvVars = []string{env}
		case *cli.Float64Flag:
			f.EnvVars = []string{env}
		}
	}
	return flags
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the DHCPv4 server (daemon) with the XDP fast path",
		Description: `Quick start by flags:
  xdhcp serve --iface eth0 --subnet 198.18.0.0/24 --range 198.18.0.100-198.18.0.200 \
    --router 198.18.0.1 --dns 198.18.0.53 --split 256
Full setup by --config FILE (several subnets, options, reservations, T1/T2);
flags override the file. Every flag can also be given as XDHCP_<FLAG>.
The rule flags (--role, --split/--hba, --threshold, --state, ...) set the
load-balancing rule and this server's share of every range: a standalone
server wants --split 256 (primary) so that it answers every client.
SIGHUP re-reads --config (flags still override) and swaps it in; a file
with errors is refused and the running configuration stays. SIGTERM stops
after the lease store's last commit (and, with a partner, after handing it
every bucket).`,
		Flags: withEnv(append(append(serveFlags(), ruleFlags()...), failoverFlags()...)),
		Action: func(c *cli.Context) error {
			// Registered first: a SIGHUP's default action would kill the
			// daemon while it still loads; one arriving early waits here.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			rule, err := ruleFromFlags(c)
			if err != nil {
				return err
			}
			cfg, err := serveConfig(c)
			if err != nil {
				return err
			}
			// The global --log-format/--log-level logger; --debug still
			// turns on debug lines for the daemon.
			log := slog.Default()
			if c.Bool("debug") {
				log = slog.New(debugHandler{log.Handler()})
			}
			m, _ := c.Context.Value(metricsKey{}).(*metrics.Metrics) // serve --metrics
			d, err := daemon.New(daemon.Options{Config: cfg, Rule: rule, PinDir: c.String("pin-dir"), KeepXDP: c.Bool("keep-xdp"), Control: c.String("control"), Logger: log, Metrics: m})
			if err != nil {
				return err
			}
			go reloadOnHUP(c, d, hup, log)
			return runDaemon(c, d, cfg, log) // failover beside it: serve_failover.go
		},
	}
}

// reloadOnHUP re-reads --config with the flags laid over it on every
// SIGHUP and swaps it in; a file that does not parse or validate leaves
// the running configuration in place and the error (file:line:column)
// in the log.
func reloadOnHUP(c *cli.Context, d *daemon.Daemon, hup <-chan os.Signal, log *slog.Logger) {
	file := c.String("config")
	for {
		select {
		case <-c.Context.Done():
			return
		case <-hup:
		}
		cfg, err := serveConfig(c)
		if err == nil {
			var changed []string
			if changed, err = d.Reload(cfg); err == nil {
				log.Info("configuration reloaded", "file", file, "changes", len(changed))
				for _, ch := range changed {
					log.Info("reload changed", "setting", ch)
				}
				continue
			}
		}
		log.Error("reload refused: the running configuration stays", "file", file, "err", err)
	}
}

// debugHandler enables debug records on top of any handler.
type debugHandler struct{ slog.Handler }

func (debugHandler) Enabled(context.Context, slog.Level) bool { return true }

// serveConfig reads --config (if any) and lays the flags over it.
func serveConfig(c *cli.Context) (*config.Config, error) {
	cfg := config.Default()
	file := "flags"
	if p := c.String("config"); p != "" {
		var err error
		if cfg, err = config.Load(p); err != nil {
			return nil, err
		}
		file = p
	}
	if c.IsSet("iface") {
		cfg.Interfaces = c.StringSlice("iface")
	}
	if c.IsSet("db") {
		cfg.DB = c.String("db")
	}
	if c.IsSet("lease-time") {
		cfg.LeaseTime = c.Duration("lease-time")
	}
	if c.IsSet("xdp") {
		cfg.XDP = c.String("xdp")
	}
	if ids := c.StringSlice("server-id"); len(ids) > 0 {
		a, err := netip.ParseAddr(ids[0])
		if err != nil {
			return nil, fmt.Errorf("--server-id %q: %w", ids[0], err)
		}
		cfg.ServerID = a
	}
	if c.IsSet("relay-rate") {
		cfg.Limits.RelayRate = c.Float64("relay-rate")
	}
	if c.IsSet("client-rate") {
		cfg.Limits.ClientRate = c.Float64("client-rate")
	}
	if c.IsSet("pool-reserve") {
		r, err := config.ParseReserve(c.String("pool-reserve"))
		if err != nil {
			return nil, fmt.Errorf("--pool-reserve: %w", err)
		}
		cfg.Limits.PoolReserve = r
	}
	if err := subnetFromFlags(c, cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(file); err != nil {
		return nil, err
	}
	return cfg, nil
}

// subnetFromFlags applies --subnet, --range, --router, --dns and --domain.
func subnetFromFlags(c *cli.Context, cfg *config.Config) error {
	if !c.IsSet("subnet") && !c.IsSet("range") && !c.IsSet("router") && !c.IsSet("dns") && !c.IsSet("domain") {
		return nil
	}
	var sn *config.Subnet
	switch {
	case c.IsSet("subnet"):
		p, err := netip.ParsePrefix(c.String("subnet"))
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("--subnet %q: not an IPv4 prefix like 198.18.0.0/24", c.String("subnet"))
		}
		p = p.Masked()
		for _, s := range cfg.Subnets {
			if s.Prefix == p {
				sn = s
			}
		}
		if sn == nil {
			sn = &config.Subnet{Prefix: p}
			cfg.Subnets = append(cfg.Subnets, sn)
		}
	case len(cfg.Subnets) == 1:
		sn = cfg.Subnets[0]
	default:
		return fmt.Errorf("--range, --router, --dns and --domain need --subnet (the configuration has %d subnets)", len(cfg.Subnets))
	}
	if c.IsSet("range") {
		sn.Ranges = nil
		for _, s := range c.StringSlice("range") {
			r, err := lease.ParseRange(s)
			if err != nil {
				return fmt.Errorf("--range: %w", err)
			}
			sn.Ranges = append(sn.Ranges, r)
		}
	}
	if c.IsSet("router") {
		a, err := netip.ParseAddr(c.String("router"))
		if err != nil || !a.Is4() {
			return fmt.Errorf("--router %q: not an IPv4 address", c.String("router"))
		}
		sn.Routers = []netip.Addr{a}
	}
	if c.IsSet("dns") {
		sn.DNS = nil
		for _, s := range c.StringSlice("dns") {
			a, err := netip.ParseAddr(s)
			if err != nil || !a.Is4() {
				return fmt.Errorf("--dns %q: not an IPv4 address", s)
			}
			sn.DNS = append(sn.DNS, a)
		}
	}
	if c.IsSet("domain") {
		sn.Domain = c.String("domain")
	}
	return nil
}
