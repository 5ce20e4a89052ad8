package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/node"
)

// serveFlags are serve's own flags; the rule flags come from ruleFlags.
// Every one is also XDHCP_<FLAG> (systemd's EnvironmentFile).
func serveFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", EnvVars: env("config"), Usage: "YAML configuration `FILE` (flags override it)"},
		&cli.StringSliceFlag{Name: "iface", EnvVars: env("iface"), Usage: "interface to serve, repeatable"},
		&cli.StringFlag{Name: "subnet", EnvVars: env("subnet"), Usage: "subnet the flags below describe, `CIDR` (added, or overriding the file's subnet of that prefix)"},
		&cli.StringSliceFlag{Name: "range", EnvVars: env("range"), Usage: "dynamic range `START-END`, repeatable"},
		&cli.StringFlag{Name: "router", EnvVars: env("router"), Usage: "default gateway (option 3)"},
		&cli.StringSliceFlag{Name: "dns", EnvVars: env("dns"), Usage: "DNS server (option 6), repeatable"},
		&cli.StringFlag{Name: "domain", EnvVars: env("domain"), Usage: "domain name (option 15)"},
		&cli.DurationFlag{Name: "lease-time", EnvVars: env("lease-time"), DefaultText: config.DefaultLeaseTime.String(), Usage: "lease duration"},
		&cli.StringFlag{Name: "db", EnvVars: env("db"), DefaultText: config.DefaultDB, Usage: "lease store `FILE`"},
		&cli.StringFlag{Name: "xdp", EnvVars: env("xdp"), DefaultText: "auto", Usage: "fast path: auto, off, native or generic"},
		controlFlag,
		&cli.StringFlag{Name: "control-group", EnvVars: env("control-group"), Usage: "make the control socket 0660 for this `GROUP` (default: 0600, root only)"},
		&cli.StringFlag{Name: "metrics", EnvVars: env("metrics"), Usage: "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9167); empty: off"},
		&cli.Float64Flag{Name: "relay-rate", EnvVars: env("relay-rate"), Usage: "new addresses per second per relay; 0: no limit (limits: relay-rate)"},
		&cli.Float64Flag{Name: "client-rate", EnvVars: env("client-rate"), Usage: "new addresses per second per client; 0: no limit (limits: client-rate)"},
		&cli.StringFlag{Name: "pool-reserve", EnvVars: env("pool-reserve"), Usage: "addresses of every pool share kept for known and reserved clients: N or P% (limits: pool-reserve)"},
		&cli.BoolFlag{Name: "debug", EnvVars: env("debug"), Usage: "log every request that gets no reply"},
		&cli.BoolFlag{Name: "keep-xdp", EnvVars: env("keep-xdp"), Usage: "leave the fast path attached when serve stops, so the next start replaces it without a gap"},
		pinDirFlag,
		&cli.StringFlag{Name: "peer", EnvVars: env("peer"), Usage: "failover partner `ADDR[:PORT]` (default port 647); the primary connects to it, the secondary accepts only this address"},
		&cli.StringFlag{Name: "listen-peer", EnvVars: env("listen-peer"), Usage: "accept the failover partner on `ADDR[:PORT]` (default :647 when --peer is set)"},
		&cli.StringFlag{Name: "secret-file", EnvVars: env("secret-file"), Usage: "`FILE` holding the pair's shared secret (at least 16 bytes; surrounding white space ignored)"},
		&cli.DurationFlag{Name: "mclt", EnvVars: env("mclt"), Value: failover.DefaultMCLT, Usage: "maximum client lead time (both servers must agree)"},
		&cli.DurationFlag{Name: "receive-timeout", EnvVars: env("receive-timeout"), Value: failover.DefaultReceiveTimeout, Usage: "no message from the partner for this long: communications-interrupted"},
		&cli.DurationFlag{Name: "auto-partner-down", EnvVars: env("auto-partner-down"), Usage: "move from communications-interrupted to partner-down after this long (0: only on the partner's goodbye or xdhcp partner-down)"},
	}
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:     "serve",
		Category: catServe,
		Usage:    "run the DHCPv4 server (daemon) with the XDP fast path",
		Description: `Quick start by flags (a standalone server answers every client):
  xdhcp serve --iface eth0 --subnet 198.18.0.0/24 --range 198.18.0.100-198.18.0.200 \
    --router 198.18.0.1 --dns 198.18.0.53
Full setup by --config FILE (several subnets, options, reservations, T1/T2);
flags override the file. Every flag can also be given as XDHCP_<FLAG>.

Without --peer or --listen-peer the server runs standalone and owns every
bucket, unless --split, --hba or --role says otherwise. With a partner the
default is split 128 (50:50) and the failover engine runs beside it.

Live changes (xdhcp threshold|buckets|state set) go through the daemon and
are kept in DB.tuning across restarts (docs/configuration.md).
SIGHUP re-reads --config (flags still override) and swaps it in; a file
with errors is refused and the running configuration stays. SIGTERM stops
after the lease store's last commit (and, with a partner, after handing it
every bucket).`,
		Flags: append(serveFlags(), ruleFlags()...),
		Action: func(c *cli.Context) error {
			// Registered first: a SIGHUP's default action would kill the
			// daemon while it still loads; one arriving early waits here.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			o, err := nodeOptions(c)
			if err != nil {
				return err
			}
			n, err := node.Start(c.Context, o)
			if err != nil {
				return err
			}
			for {
				select {
				case <-n.Done():
					return n.Wait()
				case <-hup:
					// A file that does not parse or validate leaves the running
					// configuration, with the error (file:line:column) in the log.
					cfg, err := serveConfig(c)
					if err == nil {
						err = n.Reload(cfg, c.String("config"))
					}
					if err != nil {
						o.Logger.Error("reload refused: the running configuration stays", "file", c.String("config"), "err", err)
					}
				}
			}
		},
	}
}

// nodeOptions turns serve's flags into node.Options.
func nodeOptions(c *cli.Context) (node.Options, error) {
	var o node.Options
	cfg, err := serveConfig(c)
	if err != nil {
		return o, err
	}
	fo, err := failoverOptions(c)
	if err != nil {
		return o, err
	}
	rule, err := ruleFromFlags(c, "server-id")
	if err != nil {
		return o, err
	}
	source := "flags"
	if fo == nil && !c.IsSet("split") && !c.IsSet("hba") && !c.IsSet("role") {
		// Standalone: nobody else answers, so this server owns every bucket.
		rule.HBA, source = decide.MustSplit(256), "standalone default (no --peer): this server owns every bucket"
	}
	// The global --log-format/--log-level logger; --debug adds debug lines.
	log := slog.Default()
	if c.Bool("debug") {
		log = slog.New(debugHandler{log.Handler()})
	}
	return node.Options{Config: cfg, Rule: rule, RuleSource: source, Failover: fo, Metrics: c.String("metrics"),
		Control: c.String("control"), ControlGroup: c.String("control-group"), PinDir: c.String("pin-dir"),
		KeepXDP: c.Bool("keep-xdp"), Logger: log}, nil
}

// failoverOptions reads the failover flags: nil without --peer and
// --listen-peer (standalone).
func failoverOptions(c *cli.Context) (*failover.Options, error) {
	peer, err := peerAddr("peer", c.String("peer"))
	if err != nil {
		return nil, err
	}
	listen, err := peerAddr("listen-peer", c.String("listen-peer"))
	if err != nil {
		return nil, err
	}
	if peer == "" && listen == "" {
		return nil, nil
	}
	if listen == "" {
		listen = fmt.Sprintf(":%d", failover.DefaultPort)
	}
	secret, err := readSecret(c.String("secret-file"))
	if err != nil {
		return nil, err
	}
	return &failover.Options{Peer: peer, Listen: listen, Secret: secret, MCLT: c.Duration("mclt"),
		ReceiveTimeout: c.Duration("receive-timeout"), AutoPartnerDown: c.Duration("auto-partner-down")}, nil
}
