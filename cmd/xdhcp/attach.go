package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/rulectl"
)

func attachCommand() *cli.Command {
	return &cli.Command{
		Name:     "attach",
		Category: catFastPath,
		Usage:    "load the XDP fast path, configure it and attach it to interfaces",
		Description: `Loads the program once and attaches it to every --iface. An xdhcp program
already attached is replaced atomically and its counters and maps are kept.
The attachment outlives this command: a pinned bpf_link when /sys/fs/bpf is
the host's bpffs, a netlink attachment under ip netns exec.`,
		Flags: append(ruleFlags(),
			&cli.StringSliceFlag{Name: "iface", Required: true, Usage: "interface to attach to, repeatable"},
			&cli.StringFlag{Name: "mode", Value: "auto", Usage: "auto, native (driver) or generic (skb)"},
			pinDirFlag, controlFlag, jsonFlag),
		Action: func(c *cli.Context) error {
			cfg, err := ruleFromFlags(c, "server-id")
			if err != nil {
				return err
			}
			mode, err := loader.ParseMode(c.String("mode"))
			if err != nil {
				return fmt.Errorf("--mode: %w", err)
			}
			// The daemon attaches its own fast path and is then the rule's
			// one writer; other writers take the maps' lock.
			if cl, err := rulectl.DaemonServing(c.Context, c.String("control"), c.StringSlice("iface")); err != nil || cl != nil {
				if err == nil {
					err = fmt.Errorf("attach: the daemon on %s serves these interfaces and attaches the fast path itself (xdhcp threshold|buckets|state set change its rule)", cl.Path())
				}
				return err
			}
			unlock, err := rulectl.LockMaps(c.String("pin-dir"))
			if err != nil {
				return err
			}
			defer unlock()
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
