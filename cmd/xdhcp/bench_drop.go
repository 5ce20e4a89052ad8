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
		Description: `Floods partner-owned DISCOVERs into a veth (--rx-queues N: N queues, a NAPI
thread and a generator thread each) and measures what the receiving side drops
per receiving CPU-second: a trivial XDP_DROP program, one reading xdhcp's cache
lines and xdhcp take turns on one link in slices of one generator run, for
--rounds, the order rotated each round; every ratio is named by its baseline.
By default in a namespace of its own.`,
		Usage: "partner-owned flood into a veth: what xdhcp receives and drops per receiving CPU-second against trivial XDP_DROP programs, same run",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "iface", Usage: "veth to send out of; its peer in this network namespace receives (default: a veth pair in a namespace of its own)"},
			&cli.DurationFlag{Name: "phase", Value: bench.DefaultDropSlice, Usage: "length of each receiver's slice of the one generator run"},
			&cli.IntFlag{Name: "rounds", Value: bench.DefaultDropRounds, Usage: "rounds of trivial/reading/xdhcp slices, in turn on one link, order rotated each round; the ratio is the rounds' median"},
			&cli.IntFlag{Name: "threads", DefaultText: "one per receive queue", Usage: "generator threads, one per CPU"},
			&cli.StringFlag{Name: "rx-queues", Value: "1", Usage: "receive queues of the veth, one NAPI thread and one generator thread each: N, or a list (1,2) to run each in turn and report the scaling"},
			&cli.IntFlag{Name: "clients", Value: 65536, Usage: "distinct partner-owned clients"},
			&cli.BoolFlag{Name: "no-relay-stats", Usage: "run xdhcp with its per-relay counters off"},
			&cli.BoolFlag{Name: "same-cpu", Usage: "receive in the generator's softirq on its CPU (the veth default) instead of threaded-NAPI kernel threads on CPUs of their own"},
			&cli.IntFlag{Name: "rx-cpu", DefaultText: "after the generators", Usage: "CPU of queue 0's receiving NAPI thread, queue i on the next ones"},
			benchCandidateFlag,
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.Int("rounds") < 1 {
				return fmt.Errorf("--rounds %d: want at least 1", c.Int("rounds"))
			}
			if c.Int("threads") < 0 {
				return fmt.Errorf("--threads %d: want at least 1 (or 0: one per receive queue)", c.Int("threads"))
			}
			if c.Duration("phase") <= 0 {
				return fmt.Errorf("--phase %v: want a positive duration", c.Duration("phase"))
			}
			queues, err := bench.ParseQueues(c.String("rx-queues"))
			if err != nil {
				return fmt.Errorf("--rx-queues: %w", err)
			}
			cands, err := benchCandidates(c)
			if err != nil {
				return err
			}
			o := bench.DropOptions{Iface: c.String("iface"), LabName: fmt.Sprintf("xb-bench-%d", os.Getpid()),
				Phase: c.Duration("phase"), Rounds: c.Int("rounds"), Threads: c.Int("threads"), Clients: c.Int("clients"),
				NoRelayStats: c.Bool("no-relay-stats"), SameCPU: c.Bool("same-cpu"), RxCPU: c.Int("rx-cpu"), Candidates: cands,
				Progress: func(s string) { fmt.Fprintf(c.App.ErrWriter, "measuring: %s\n", s) }}
			if len(queues) > 1 {
				res, err := bench.DropScaling(c.Context, o, queues)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(c.App.Writer, res)
				}
				return res.Print(c.App.Writer)
			}
			o.RxQueues = queues[0]
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
