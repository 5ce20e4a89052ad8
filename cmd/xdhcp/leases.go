package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

func leasesCommand() *cli.Command {
	return &cli.Command{
		Name:     "leases",
		Category: catLeases,
		Usage:    "list the leases of a running daemon, or from the store file",
		Description: `Asks the daemon on its control socket (GET /v1/leases: the daemon holds the
store's lock); when no daemon answers there, reads the store file --db
read-only. "xdhcp leases check" looks for damage; "xdhcp leases export"
writes them as Kea memfile CSV or JSON.`,
		Subcommands: []*cli.Command{leasesCheckCommand(), leasesExportCommand()},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Value: config.DefaultDB, EnvVars: env("db"), Usage: "lease store `FILE`, read when no daemon answers"},
			controlFlag,
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			ls, err := control.Dial(c.String("control")).Leases(c.Context)
			if errors.Is(err, control.ErrNoDaemon) {
				if ls, err = lease.ReadFile(c.String("db"), time.Second); err != nil {
					err = fmt.Errorf("%w (no daemon answers on %s: give the running daemon's --control)", err, c.String("control"))
				}
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if ls == nil {
					ls = []lease.Lease{}
				}
				return writeJSON(c.App.Writer, ls)
			}
			w := table(c.App.Writer)
			fmt.Fprintln(w, "IP\tSTATE\tEXPIRY\tHWADDR\tCLIENT-ID\tHOSTNAME\tISSUED-BY")
			for _, l := range ls {
				fmt.Fprintf(w, "%v\t%v\t%s\t%s\t%v\t%s\t%v %v\n", l.IP, l.State, l.Expiry.Local().Format(time.DateTime),
					l.HWAddr, l.Client, l.Hostname, l.IssuedBy.Role, l.IssuedBy.ServerID)
			}
			return w.Flush()
		},
	}
}
