package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
)

func mapsCommand() *cli.Command {
	return &cli.Command{
		Name:     "maps",
		Category: catFastPath,
		Usage:    "list what xdhcp pinned and the XDP programs and maps attached per interface",
		Description: `Lists every object under the pin dir (maps with their kernel ID, type and
sizes; bpf_links with the program and interface they hold) and, for every
interface in this network namespace with an XDP program, the program (ID,
name, tag, xdhcp or not, attach mode, link ID when a bpf_link holds it) and
the maps it uses.

The maps carry BTF, so bpftool prints their entries as structs:
  bpftool map dump pinned /sys/fs/bpf/xdhcp/xdhcp_cfg
  bpftool map dump id ID     (an ID from this listing, e.g. under ip netns exec)
Under ip netns exec the host's bpffs is not visible: the pinned list is empty
and the interfaces' programs are the way in.`,
		Flags: []cli.Flag{pinDirFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			// A reader: an existing pin dir is opened, a missing one not made.
			pins := &loader.PinDir{Path: c.String("pin-dir")}
			if dirExists(pins.Path) {
				var err error
				if pins, err = loader.OpenPinDir(pins.Path); err != nil {
					return err
				}
			}
			rep, err := loader.TakeInventory(pins)
			if err != nil {
				return fmt.Errorf("maps: %w", err)
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, rep)
			}
			return rep.Print(c.App.Writer)
		},
	}
}
