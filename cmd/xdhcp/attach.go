package main

import (
	"fmt"
	"net/netip"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// ruleFlags set the fast path's decision config; serve shares them.
func ruleFlags() []cli.Flag {
	return append(hbaFlags(),
		&cli.StringFlag{Name: "role", Value: "primary", Usage: "this server's role: primary or secondary"},
		&cli.UintFlag{Name: "threshold", Value: decide.DefaultThreshold, Usage: "answer the partner's clients from this secs value (ISC max seconds M is M+1; 0 turns load balancing off)"},
		&cli.StringSliceFlag{Name: "server-id", Usage: "this server's identifier (option 54), repeatable, at most 8"},
		&cli.StringFlag{Name: "state", Value: "normal", Usage: "failover state: normal applies the rules, any other passes everything"},
		&cli.BoolFlag{Name: "chaddr-only", Usage: "hash chaddr even when option 61 is present (Windows behaviour)"},
		&cli.BoolFlag{Name: "swap-secs", Usage: "read secs > 255 with a zero low byte as byte-swapped (ISC check-secs-byte-order)"},
		&cli.BoolFlag{Name: "drop-malformed", Usage: "drop unparseable packets to port 67 instead of passing them"},
		&cli.BoolFlag{Name: "no-relay-stats", Usage: "do not count requests per relay in the fast path"},
	)
}

// ruleFromFlags builds the decision config from ruleFlags.
func ruleFromFlags(c *cli.Context) (decide.Rule, error) {
	cfg := decide.DefaultRule()
	var err error
	if cfg.HBA, err = hbaFromFlags(c); err != nil {
		return cfg, err
	}
	if cfg.Role, err = decide.ParseRole(c.String("role")); err != nil {
		return cfg, fmt.Errorf("--role: %w", err)
	}
	t := c.Uint("threshold")
	if t > 65535 {
		return cfg, fmt.Errorf("--threshold %d: want 0..65535", t)
	}
	cfg.Threshold = uint16(t)
	if cfg.Rule, err = decide.ParseState(c.String("state")); err != nil {
		return cfg, fmt.Errorf("--state: %w", err)
	}
	for _, s := range c.StringSlice("server-id") {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return cfg, fmt.Errorf("--server-id %q: not an IPv4 address", s)
		}
		cfg.ServerIDs = append(cfg.ServerIDs, a)
	}
	cfg.ChaddrOnly, cfg.SwapSecs, cfg.DropMalformed = c.Bool("chaddr-only"), c.Bool("swap-secs"), c.Bool("drop-malformed")
	cfg.RelayStats = !c.Bool("no-relay-stats")
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func attachCommand() *cli.Command {
	return &cli.Command{
		Name:  "attach",
		Usage: "load the XDP fast path, configure it and attach it to interfaces",
		Description: `Loads the program once and attaches it to every --iface. An xdhcp program
already attached is replaced atomically and its counters and maps are kept.
The attachment outlives this command: a pinned bpf_link when /sys/fs/bpf is
the host's bpffs, a netlink attachment under ip netns exec.`,
		Flags: append(ruleFlags(),
			&cli.StringSliceFlag{Name: "iface", Required: true, Usage: "interface to attach to, repeatable"},
			&cli.StringFlag{Name: "mode", Value: "auto", Usage: "auto, native (driver) or generic (skb)"},
			pinDirFlag, jsonFlag),
		Action: func(c *cli.Context) error {
			cfg, err := ruleFromFlags(c)
			if err != nil {
				return err
			}
			mode, err := loader.ParseMode(c.String("mode"))
			if err != nil {
				return fmt.Errorf("--mode: %w", err)
			}
			atts, err := attachAll(c.StringSlice("iface"), mode, c.String("pin-dir"), cfg)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, map[string]any{"attachments": atts, "config": cfg})
			}
			for _, a := range atts {
				fmt.Fprintf(c.App.Writer, "attached to %s (ifindex %d, program %d, %s mode, via %s)\n", a.Iface, a.Ifindex, a.ProgramID, a.Mode, a.Via)
			}
			fmt.Fprintf(c.App.Writer, "role %s, threshold %d, state %s, %d buckets owned\n", cfg.Role, cfg.Threshold, cfg.Rule, cfg.HBA.Count(cfg.Role))
			return nil
		},
	}
}

// attachAll loads the program (sharing the maps of one already attached),
// writes cfg, pins the maps and attaches to each interface.
func attachAll(ifaces []string, mode loader.Mode, pinDir string, cfg decide.Rule) ([]*loader.Attachment, error) {
	pins, err := loader.OpenPinDir(pinDir)
	if err != nil {
		return nil, err
	}
	var reuse *loader.Maps
	for _, ifname := range append([]string{""}, ifaces...) {
		if m, err := loader.Open(ifname, pins); err == nil {
			reuse = m
			break
		}
	}
	prog, err := loader.Load(loader.LoadOptions{Reuse: reuse})
	if reuse != nil {
		reuse.Close()
	}
	if err != nil {
		return nil, err
	}
	defer prog.Close()
	if err := prog.SetRule(cfg); err != nil {
		return nil, err
	}
	if err := pins.PinMaps(prog.Maps); err != nil {
		return nil, err
	}
	var atts []*loader.Attachment
	for _, ifname := range ifaces {
		a, err := prog.Attach(ifname, mode, pins)
		if err != nil {
			return atts, err
		}
		atts = append(atts, a)
	}
	return atts, nil
}

func detachCommand() *cli.Command {
	return &cli.Command{
		Name:  "detach",
		Usage: "remove the XDP fast path from interfaces",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "iface", Required: true, Usage: "interface to detach from, repeatable"},
			&cli.BoolFlag{Name: "unpin", Usage: "also remove the pinned maps (counters and config are lost)"},
			pinDirFlag,
		},
		Action: func(c *cli.Context) error {
			pins, err := loader.OpenPinDir(c.String("pin-dir"))
			if err != nil {
				return err
			}
			for _, ifname := range c.StringSlice("iface") {
				if err := loader.Detach(ifname, pins); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "detached from %s\n", ifname)
			}
			if c.Bool("unpin") {
				return pins.RemoveAll()
			}
			return nil
		},
	}
}
