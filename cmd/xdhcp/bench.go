package main

import (
	"github.com/urfave/cli/v2"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:     "bench",
		Category: catLab,
		Description: `Measurements of the fast path on this machine, each against a baseline taken
in the same run so the figure is a ratio, not a guess: gen (a load
generator), xdp (in-kernel cost per verdict path), drop (what a receiving CPU
drops into a veth), jit (where perf's samples fall in the JITed program).`,
		Usage: "measure the fast path: a DHCP load generator, per-path cost, drop rate (each against a baseline in the same run)",
		Subcommands: []*cli.Command{
			benchGenCommand(),
			benchXDPCommand(),
			benchDropCommand(),
			benchJITCommand(),
			benchClientsCommand(),
			benchPassCommand(),
		},
	}
}
