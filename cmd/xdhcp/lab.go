package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/internal/lab"
)

func labCommand() *cli.Command {
	return &cli.Command{
		Name:     "lab",
		Category: catLab,
		Usage:    "reproduce the failover experiment in network namespaces, then remove everything",
		Description: `Builds a client segment, a relay and two xdhcp servers in a failover pair
(XDP attached, split 128) in network namespaces (198.18.0.0/15 only), and runs:
  Act 1: one client sends DISCOVERs with secs 0, 1, 2, ... and never a REQUEST;
         a row per DISCOVER shows who offered: the owner always, the partner
         from --threshold on.
  Act 2: the relay forwards to one server only; the other server's clients
         get an answer only once their secs reach the threshold, and the
         fast path's relay diagnostics name the relay.
  Act 3: one server is killed; the survivor answers its clients at secs 0;
         it comes back and the pair returns to NORMAL.
Everything the lab creates is removed at the end, also on Ctrl-C or failure.
Needs root and iproute2; nothing else.`,
		Flags: []cli.Flag{
			&cli.UintFlag{Name: "threshold", Value: 6, Usage: "secs from which the partner answers"},
			&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "time between a client's DISCOVERs"},
			&cli.IntFlag{Name: "count", DefaultText: "threshold+4", Usage: "DISCOVERs in act 1"},
			&cli.IntFlag{Name: "clients", Value: 4, Usage: "clients per server in act 2"},
			&cli.BoolFlag{Name: "keep", Usage: "leave the lab up after the acts until Ctrl-C, and print how to explore it"},
			&cli.StringFlag{Name: "prefix", Usage: "namespace name prefix (default: random xlNNNN)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("lab: needs root (network namespaces and XDP)")
			}
			if c.Uint("threshold") > 65535 {
				return fmt.Errorf("--threshold %d: want 0..65535", c.Uint("threshold"))
			}
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("lab: find own binary: %w", err)
			}
			o := lab.Options{
				Binary: bin, Prefix: c.String("prefix"), Threshold: uint16(c.Uint("threshold")),
				Interval: c.Duration("interval"), Count: c.Int("count"), Clients: c.Int("clients"),
				Keep: c.Bool("keep"), Log: slog.Default(),
			}
			if !c.Bool("json") {
				o.Out = c.App.Writer
			}
			res, err := lab.Run(c.Context, o)
			if c.Bool("json") && res != nil {
				if jerr := writeJSON(c.App.Writer, res); jerr != nil && err == nil {
					err = jerr
				}
			}
			return err
		},
	}
}
