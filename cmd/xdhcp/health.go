package main

import (
	"errors"

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
			} else if err := control.WriteHealth(c.App.Writer, h); err != nil {
				return err
			}
			if !h.OK {
				return errUnhealthy
			}
			return nil
		},
	}
}
