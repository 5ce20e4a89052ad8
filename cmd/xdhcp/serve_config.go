package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

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

// readSecret reads the shared secret file (white space trimmed).
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
