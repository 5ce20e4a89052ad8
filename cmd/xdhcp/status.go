package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/failover"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:     "status",
		Category: catFailover,
		Usage:    "failover status of the running daemon: state, partner, last contact, buckets, unacked updates, free addresses",
		Description: `Asks the running daemon (xdhcp serve --peer ...) on its control socket
(GET /v1/failover); the state lives in the daemon.`,
		Flags: []cli.Flag{controlFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			st, err := control.Dial(c.String("control")).Failover(c.Context)
			if err != nil {
				return err
			}
			return printStatus(c, st)
		},
	}
}

func printStatus(c *cli.Context, st failover.Status) error {
	if c.Bool("json") {
		return writeJSON(c.App.Writer, st)
	}
	return writeStatus(c.App.Writer, st)
}

func writeStatus(out io.Writer, st failover.Status) error {
	w := table(out)
	partner := "unknown"
	if st.PartnerState != nil {
		partner = st.PartnerState.String()
	}
	conn := "not connected"
	if st.Connected {
		conn = "connected " + st.Partner
	}
	fmt.Fprintf(w, "role\t%s\n", st.Role)
	fmt.Fprintf(w, "state\t%s since %s: %s\n", st.State, ago(&st.StateSince), st.Reason)
	fmt.Fprintf(w, "partner\t%s, %s\n", partner, conn)
	fmt.Fprintf(w, "last contact\t%s\n", ago(st.LastContact))
	fmt.Fprintf(w, "buckets owned now\t%d of 256\n", st.BucketsOwned)
	fmt.Fprintf(w, "unacked updates\t%d\n", st.Unacked)
	fmt.Fprintf(w, "mclt\t%s\n", st.MCLT)
	if st.PartnerDownSince != nil {
		fmt.Fprintf(w, "partner down since\t%s (partner's free addresses in use: %v)\n", ago(st.PartnerDownSince), st.UsingPartnerFree)
	}
	fmt.Fprintln(w, "\nSHARE\tOWNER\tSIZE\tFREE")
	for _, s := range st.Shares {
		owner := s.Owner.String()
		if s.Mine {
			owner += " (this server)"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\n", s.Range, owner, s.Size, s.Free)
	}
	return w.Flush()
}
