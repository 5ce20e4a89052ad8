package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
	"github.com/xdhcp/xdhcp/internal/bench"
)

func benchXDPCommand() *cli.Command {
	return &cli.Command{
		Name: "xdp",
		Description: `Times each verdict path of the xdhcp program (owned, partner-dropped,
secs-override, not-dhcp, ...) with BPF_PROG_TEST_RUN and compares it with a
trivial XDP_PASS program timed in the same rounds; reports medians.`,
		Usage: "in-kernel cost per packet of each verdict path of the xdhcp program against a trivial XDP_PASS program (test-run timing)",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "repeat", Value: 1_000_000, Usage: "test-run repetitions per measurement (the kernel reports whole ns: keep >= 1e6)"},
			&cli.IntFlag{Name: "rounds", Value: 5, Usage: "measurements per path, interleaved; the median is reported"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.Int("repeat") < 1 || c.Int("repeat") > 1<<31 || c.Int("rounds") < 1 || c.Int("rounds") > 1000 {
				return fmt.Errorf("--repeat %d / --rounds %d: want 1..2^31 and 1..1000", c.Int("repeat"), c.Int("rounds"))
			}
			res, err := bench.Cost(c.Context, c.Int("repeat"), c.Int("rounds"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, res)
			}
			return res.Print(c.App.Writer)
		},
	}
}
