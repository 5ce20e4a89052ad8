package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/control"
)

// errUnhealthy makes the exit status 1 after the report was printed.
var errUnhealthy = errors.New("not healthy")

func healthCommand() *cli.Command {
	return &cli.Command{
		Name:     "health",
		Category: catDiag,
		Usage:    "is the daemon doing its job: serving, fast path attached, store writable, partner connected (exit 0 or 1)",
		Description: `Asks the daemon on its control socket (GET /v1/health) and prints what it
found: serving or not, the fast path on each interface (read from the
kernel), whether the lease store is writable, and in a pair the failover
state, the partner's state and the last contact. Exits 0 when healthy, 1
with every problem named otherwise (also when no daemon answers).`,
		Flags: []cli.Flag{controlFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			h, err := control.Dial(c.String("control")).Health(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := writeJSON(c.App.Writer, h); err != nil {
					return err
				}
			} else {
				printHealth(c, h)
			}
			if !h.OK {
				return errUnhealthy
			}
			return nil
		},
	}
}

func printHealth(c *cli.Context, h control.Health) {
	w := table(c.App.Writer)
	verdict := "healthy"
	if !h.OK {
		verdict = "NOT healthy"
	}
	fmt.Fprintf(w, "%s\tpid %d, started %s\n", verdict, h.PID, ago(&h.Started))
	fmt.Fprintf(w, "serving\t%v\n", h.Serving)
	for _, it := range h.Interfaces {
		fp := "not attached"
		if it.XDP {
			fp = fmt.Sprintf("attached (program %d)", it.ProgramID)
		}
		fmt.Fprintf(w, "fast path on %s\t%s (xdp %s)\n", it.Name, fp, h.FastPath)
	}
	store := "writable"
	if !h.Store.Writable {
		store = "NOT writable: " + h.Store.Fault
	}
	fmt.Fprintf(w, "lease store\t%s, %s\n", h.Store.Path, store)
	if p := h.Partner; p != nil {
		ps, conn := "unknown", "not connected"
		if p.PartnerState != nil {
			ps = p.PartnerState.String()
		}
		if p.Connected {
			conn = "connected"
		}
		fmt.Fprintf(w, "failover\t%s; partner %s, %s, last contact %s\n", p.State, ps, conn, ago(p.LastContact))
	} else {
		fmt.Fprintf(w, "failover\tstandalone\n")
	}
	w.Flush()
	for _, p := range h.Problems {
		fmt.Fprintf(c.App.Writer, "! %s\n", p)
	}
}
