package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/failover"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "failover status of the running daemon: state, partner, last contact, buckets, unacked updates, free addresses",
		Description: `Asks the running daemon (xdhcp serve --peer ...) on its failover control
socket; the state lives in the daemon.`,
		Flags:  []cli.Flag{controlFlag, jsonFlag},
		Action: controlAction((*failover.Control).Status),
	}
}

// controlAction asks the daemon's failover control socket and prints the
// status it returns.
func controlAction(ask func(*failover.Control, context.Context) (failover.Status, error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		st, err := ask(failover.DialControl(c.String("control")), c.Context)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return writeJSON(c.App.Writer, st)
		}
		return printStatus(c.App.Writer, st)
	}
}

func printStatus(out io.Writer, st failover.Status) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
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
