package main

import (
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
	return control.WriteStatus(c.App.Writer, st)
}
