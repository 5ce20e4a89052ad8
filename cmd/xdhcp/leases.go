package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/daemon"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

func leasesCommand() *cli.Command {
	return &cli.Command{
		Name:  "leases",
		Usage: "list the leases of a running daemon, or from the store file",
		Description: `Asks the daemon on its control socket (it holds the store's lock); when no
daemon answers, reads the store file read-only.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Value: config.DefaultDB, EnvVars: []string{"XDHCP_DB"}, Usage: "lease store file"},
			&cli.StringFlag{Name: "control", EnvVars: []string{"XDHCP_CONTROL"}, Usage: "daemon control socket (default DB.sock)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			ctl := c.String("control")
			if ctl == "" {
				ctl = c.String("db") + ".sock"
			}
			ls, err := daemon.Dial(ctl).Leases()
			if err != nil {
				if ls, err = lease.ReadFile(c.String("db"), time.Second); err != nil {
					return err
				}
			}
			if c.Bool("json") {
				if ls == nil {
					ls = []lease.Lease{}
				}
				return writeJSON(c.App.Writer, ls)
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "IP\tSTATE\tEXPIRY\tHWADDR\tCLIENT-ID\tHOSTNAME\tISSUED-BY")
			for _, l := range ls {
				fmt.Fprintf(w, "%v\t%v\t%s\t%s\t%v\t%s\t%v %v\n", l.IP, l.State, l.Expiry.Local().Format(time.DateTime),
					l.HWAddr, l.Client, l.Hostname, l.IssuedBy.Role, l.IssuedBy.ServerID)
			}
			return w.Flush()
		},
	}
}
