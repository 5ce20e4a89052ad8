package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"github.com/xdhcp/xdhcp/internal/bench"
)

func benchDropCommand() *cli.Command {
	return &cli.Command{
		Name: "drop",
		Description: `Floods partner-owned DISCOVERs into a veth and measures how many per second
the receiving side drops: a trivial XDP_DROP program, one reading xdhcp's
cache lines and xdhcp take turns on one link in slices of one generator run,
for --rounds; by default in a namespace of its own.`,
		Usage: "partner-owned flood into a veth: rate xdhcp receives and drops against a trivial XDP_DROP program, same run",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "iface", Usage: "veth to send out of; its peer in this network namespace receives (default: a veth pair in a namespace of its own)"},
			&cli.DurationFlag{Name: "phase", Value: bench.DefaultDropSlice, Usage: "length of each receiver's slice of the one generator run"},
			&cli.IntFlag{Name: "rounds", Value: bench.DefaultDropRounds, Usage: "rounds of trivial/reading/xdhcp slices, in turn on one link; the ratio is the rounds' median"},
			&cli.IntFlag{Name: "threads", Value: 1, Usage: "generator threads, one per CPU"},
			&cli.IntFlag{Name: "clients", Value: 65536, Usage: "distinct partner-owned clients"},
			&cli.BoolFlag{Name: "no-relay-stats", Usage: "run xdhcp with its per-relay counters off"},
			&cli.BoolFlag{Name: "same-cpu", Usage: "receive in the generator's softirq on its CPU (the veth default) instead of a threaded-NAPI kernel thread on a CPU of its own"},
			&cli.IntFlag{Name: "rx-cpu", DefaultText: "the last CPU", Usage: "CPU of the receiving NAPI thread"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			for _, n := range []string{"rounds", "threads"} {
				if c.Int(n) < 1 {
					return fmt.Errorf("--%s %d: want at least 1", n, c.Int(n))
				}
			}
			if c.Duration("phase") <= 0 {
				return fmt.Errorf("--phase %v: want a positive duration", c.Duration("phase"))
			}
			o := bench.DropOptions{Iface: c.String("iface"), LabName: fmt.Sprintf("xb-bench-%d", os.Getpid()),
				Phase: c.Duration("phase"), Rounds: c.Int("rounds"), Threads: c.Int("threads"), Clients: c.Int("clients"),
				NoRelayStats: c.Bool("no-relay-stats"), SameCPU: c.Bool("same-cpu"), RxCPU: c.Int("rx-cpu"),
				Progress: func(s string) { fmt.Fprintf(c.App.ErrWriter, "measuring: %s\n", s) }}
			res, err := bench.Drop(c.Context, o)
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
