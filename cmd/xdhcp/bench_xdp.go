package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/xdhcp/xdhcp/internal/bench"
)

func benchXDPCommand() *cli.Command {
	return &cli.Command{
		Name: "xdp",
		Description: `Times each verdict path of the xdhcp program (owned, partner-dropped,
secs-override, not-dhcp, ...) with BPF_PROG_TEST_RUN and compares it with a
trivial XDP_PASS program timed in the same rounds (order rotated each round);
reports medians in fractional nanoseconds (the thread's CPU time) and the BPF
instructions each path executes. --candidate times another build beside it.`,
		Usage: "in-kernel cost per packet of each verdict path of the xdhcp program against a trivial XDP_PASS program (test-run timing)",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "repeat", Value: bench.DefaultCostRepeat, Usage: "test-run repetitions per measurement"},
			&cli.IntFlag{Name: "rounds", Value: bench.DefaultCostRounds, Usage: "measurements per path, order rotated each round; the median is reported"},
			benchCandidateFlag,
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.Int("repeat") < 1 || c.Int("repeat") > 1<<31 || c.Int("rounds") < 1 || c.Int("rounds") > 1000 {
				return fmt.Errorf("--repeat %d / --rounds %d: want 1..2^31 and 1..1000", c.Int("repeat"), c.Int("rounds"))
			}
			cands, err := benchCandidates(c)
			if err != nil {
				return err
			}
			res, err := bench.Cost(c.Context, bench.CostOptions{Repeat: c.Int("repeat"), Rounds: c.Int("rounds"), Candidates: cands})
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

// benchCandidateFlag names other builds of bpf/xdhcp.c to measure beside the committed program.
var benchCandidateFlag = &cli.StringSliceFlag{Name: "candidate", Usage: "another build of bpf/xdhcp.c (a clang or bpf2go .o) measured beside the committed program in the same run, NAME=FILE or FILE (repeatable)"}

func benchCandidates(c *cli.Context) ([]bench.Candidate, error) {
	var out []bench.Candidate
	for _, arg := range c.StringSlice("candidate") {
		name, file, ok := strings.Cut(arg, "=")
		if !ok {
			name, file = filepath.Base(arg), arg
		}
		obj, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--candidate %s: %w", arg, err)
		}
		out = append(out, bench.Candidate{Name: name, Object: obj})
	}
	return out, nil
}
