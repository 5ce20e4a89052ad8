package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
)

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:     "stats",
		Category: catFastPath,
		Description: `Prints the fast path's verdict counters: one per reason (owned,
partner-dropped, secs-override, renew-rebind, not-dhcp, ...), summed over CPUs,
with the action each reason takes, in total and per receiving interface.
--watch prints again every --interval with rates per second; --buckets adds
per-bucket load (seen, dropped, overridden) and owner, so a lopsided split
or a hot bucket is visible.`,
		Usage: "print the fast path's verdict counters",
		Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag,
			&cli.BoolFlag{Name: "watch", Usage: "print again every --interval with rates"},
			&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "refresh interval for --watch"},
			&cli.BoolFlag{Name: "buckets", Usage: "also show per-bucket load and owner"},
		},
		Action: func(c *cli.Context) error {
			m, err := openMaps(c)
			if err != nil {
				return err
			}
			defer m.Close()
			var prev *loader.Snapshot
			for {
				v, err := m.Snapshot(c.Bool("buckets"))
				if err != nil {
					return err
				}
				if prev != nil {
					v.SetRates(prev)
				}
				if c.Bool("json") {
					err = writeJSON(c.App.Writer, v)
				} else {
					err = v.Print(c.App.Writer)
				}
				if err != nil {
					return err
				}
				if !c.Bool("watch") {
					return nil
				}
				prev = v
				select {
				case <-c.Context.Done():
					return nil
				case <-time.After(c.Duration("interval")):
				}
			}
		},
	}
}
