package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// leasesCheckCommand is `xdhcp leases check`: the lease file's damage,
// and with --repair the file rewritten without it.
func leasesCheckCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check the lease file for damaged records; --repair rewrites it without them",
		Description: `Reads the lease file (a running daemon may hold it) and lists every record
that does not decode, with its offset and address, and a record cut short at
the end by a crash. Exits 1 when a record is damaged. The daemon skips such
records at start (quarantine: logged, counted, saved to FILE.quarantine);
--repair does the same on a stopped daemon's file and rewrites it (an
earlier version's bbolt file is migrated to the journal).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Value: config.DefaultDB, EnvVars: env("db"), Usage: "lease store `FILE`"},
			&cli.BoolFlag{Name: "repair", Usage: "rewrite the file without the damaged records (the daemon must be stopped)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			db := c.String("db")
			check := lease.Check
			if c.Bool("repair") {
				check = func(path string) (lease.Report, error) { return lease.Repair(path, time.Second) }
			}
			r, err := check(db)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := writeJSON(c.App.Writer, r); err != nil {
					return err
				}
			} else {
				printCheck(c, r)
			}
			if !r.OK() && !c.Bool("repair") {
				return fmt.Errorf("%s: %d damaged records", db, len(r.Bad)) // exit 1
			}
			return nil
		},
	}
}

func printCheck(c *cli.Context, r lease.Report) {
	w := c.App.Writer
	fmt.Fprintf(w, "%s: %s, %d good records, %d leases\n", r.Path, r.Format, r.Records, r.Leases)
	if r.TornTail > 0 {
		fmt.Fprintf(w, "  a record cut short at the end (%d bytes): a crash during a write; never acknowledged, dropped at open\n", r.TornTail)
	}
	for _, b := range r.Bad {
		fmt.Fprintf(w, "  damaged record at offset %d, key %s: %s\n", b.Offset, b.Key, b.Err)
	}
	switch {
	case r.OK():
		fmt.Fprintln(w, "  no damaged record")
	case c.Bool("repair"):
		fmt.Fprintf(w, "  repaired: %d damaged records removed (kept in %s.quarantine)\n", len(r.Bad), r.Path)
	default:
		fmt.Fprintf(w, "  %d damaged records: the daemon skips them at start; `xdhcp leases check --repair` removes them now\n", len(r.Bad))
	}
}
