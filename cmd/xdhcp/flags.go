package main

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/rulectl"
)

// env is a flag's environment variable, the one way xdhcp binds them:
// XDHCP_ and the flag's name in capitals (--lease-time: XDHCP_LEASE_TIME),
// declared with the flag.
func env(flag string) []string {
	return []string{"XDHCP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

// Flags shared by several commands.
var (
	jsonFlag   = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}
	pinDirFlag = &cli.StringFlag{Name: "pin-dir", Value: loader.DefaultPinDir, EnvVars: env("pin-dir"),
		Usage: "bpffs directory for xdhcp's pinned maps and links"}
	ifaceFlag = &cli.StringFlag{Name: "iface", Usage: "interface whose xdhcp program to use (default: the pins, else the first interface that has one)"}
	// controlFlag: every command that talks to a daemon, and serve itself.
	controlFlag = &cli.StringFlag{Name: "control", Value: control.DefaultSocket, EnvVars: env("control"),
		Usage: "the daemon's control socket"}
)

// hbaFlags are --split and --hba, shared by the commands that take an
// assignment; withEnv for the ones that configure a server (serve, attach).
func hbaFlags(withEnv bool) []cli.Flag {
	e := func(string) []string { return nil }
	if withEnv {
		e = env
	}
	return []cli.Flag{
		&cli.IntFlag{Name: "split", Value: 128, EnvVars: e("split"), Usage: "buckets 0..N-1 belong to the primary (ISC split; 128 is 50:50, 256 all)"},
		&cli.StringFlag{Name: "hba", EnvVars: e("hba"), Usage: "raw hash bucket assignment, 64 hex digits (a set bit: the primary owns the bucket)"},
	}
}

// hbaFromFlags reads --hba if given, else --split.
func hbaFromFlags(c *cli.Context) (decide.HBA, error) {
	if c.IsSet("hba") {
		if c.IsSet("split") {
			return decide.HBA{}, fmt.Errorf("--split and --hba: give one, not both")
		}
		h, err := decide.ParseHBA(c.String("hba"))
		if err != nil {
			return h, fmt.Errorf("--hba: %w", err)
		}
		return h, nil
	}
	h, err := decide.Split(c.Int("split"))
	if err != nil {
		return h, fmt.Errorf("--split: %w", err)
	}
	return h, nil
}

// ruleFlags set the fast path's rule; attach and serve share them.
func ruleFlags() []cli.Flag {
	return append(hbaFlags(true),
		&cli.StringFlag{Name: "role", Value: "primary", EnvVars: env("role"), Usage: "this server's role: primary or secondary"},
		&cli.UintFlag{Name: "threshold", Value: decide.DefaultThreshold, EnvVars: env("threshold"), Usage: "answer the partner's clients from this secs value (ISC max seconds M is M+1; 0 turns load balancing off)"},
		&cli.StringSliceFlag{Name: "server-id", EnvVars: env("server-id"), Usage: "this server's identifier (option 54), repeatable, at most 8"},
		&cli.StringFlag{Name: "state", Value: "normal", EnvVars: env("state"), Usage: "failover state: normal applies the rules, any other passes everything"},
		&cli.BoolFlag{Name: "chaddr-only", EnvVars: env("chaddr-only"), Usage: "hash chaddr even when option 61 is present (Windows behaviour)"},
		&cli.BoolFlag{Name: "swap-secs", EnvVars: env("swap-secs"), Usage: "read secs > 255 with a zero low byte as byte-swapped (ISC check-secs-byte-order)"},
		&cli.BoolFlag{Name: "drop-malformed", EnvVars: env("drop-malformed"), Usage: "drop unparseable packets to port 67 instead of passing them"},
		&cli.BoolFlag{Name: "no-relay-stats", EnvVars: env("no-relay-stats"), Usage: "do not count requests per relay in the fast path"},
	)
}

// ruleFromFlags builds the rule from ruleFlags; serverIDs names the flag
// of this server's identifiers (explain's --server-id is the packet's).
func ruleFromFlags(c *cli.Context, serverIDs string) (decide.Rule, error) {
	cfg := decide.DefaultRule()
	var err error
	if cfg.HBA, err = hbaFromFlags(c); err != nil {
		return cfg, err
	}
	if cfg.Role, err = decide.ParseRole(c.String("role")); err != nil {
		return cfg, fmt.Errorf("--role: %w", err)
	}
	if cfg.Threshold, err = threshold(c.Uint("threshold")); err != nil {
		return cfg, err
	}
	if cfg.Rule, err = decide.ParseState(c.String("state")); err != nil {
		return cfg, fmt.Errorf("--state: %w", err)
	}
	for _, s := range c.StringSlice(serverIDs) {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return cfg, fmt.Errorf("--%s %q: not an IPv4 address", serverIDs, s)
		}
		cfg.ServerIDs = append(cfg.ServerIDs, a)
	}
	cfg.ChaddrOnly, cfg.SwapSecs, cfg.DropMalformed = c.Bool("chaddr-only"), c.Bool("swap-secs"), c.Bool("drop-malformed")
	cfg.RelayStats = !c.Bool("no-relay-stats")
	return cfg, cfg.Validate()
}

func threshold(t uint) (uint16, error) {
	if t > 65535 {
		return 0, fmt.Errorf("--threshold %d: want 0..65535", t)
	}
	return uint16(t), nil
}

// openMaps finds the fast path's maps (rulectl.OpenMaps: a reader that
// creates no pin dir).
func openMaps(c *cli.Context) (*loader.Maps, error) {
	return rulectl.OpenMaps(c.String("iface"), c.String("pin-dir"))
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}
