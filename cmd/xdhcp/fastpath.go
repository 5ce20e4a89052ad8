package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
)

// Flags shared by the commands that work on the attached program's maps.
var (
	pinDirFlag = &cli.StringFlag{Name: "pin-dir", Value: loader.DefaultPinDir, EnvVars: []string{"XDHCP_PIN_DIR"},
		Usage: "bpffs directory for xdhcp's pinned maps and links"}
	ifaceFlag = &cli.StringFlag{Name: "iface", Usage: "interface whose xdhcp program to use (default: the pins, else the first interface that has one)"}
)

// openMaps finds the fast path's maps from pins or the interface, so the
// command works with or without a daemon and under `ip netns exec`.
func openMaps(c *cli.Context) (*loader.Maps, error) {
	pins, err := loader.OpenPinDir(c.String("pin-dir"))
	if err != nil {
		return nil, err
	}
	m, err := loader.Open(c.String("iface"), pins)
	if err != nil {
		return nil, fmt.Errorf("find the fast path: %w", err)
	}
	return m, nil
}
