package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
)

func detachCommand() *cli.Command {
	return &cli.Command{
		Name:     "detach",
		Category: catFastPath,
		Usage:    "remove the XDP fast path from interfaces",
		Description: `Removes the xdhcp program from every --iface: the pinned bpf_link when one
holds it, else the netlink attachment. Another XDP program is never removed.
With --unpin the pinned maps go too, and with them the counters and the
configuration; without it a later attach finds and keeps them.`,
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
