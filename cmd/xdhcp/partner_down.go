package main

import (
	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/control"
)

func partnerDownCommand() *cli.Command {
	return &cli.Command{
		Name:     "partner-down",
		Category: catFailover,
		Usage:    "tell the running daemon its failover partner is down: it answers every client, and after MCLT uses the partner's free addresses",
		Description: `Only for a partner known to be stopped: the daemon refuses while the
partner is connected. The partner's clients are renewed at once; its free
addresses are used only after MCLT, when no lease it gave can still be unknown.
Asks the daemon on its control socket (POST /v1/failover/partner-down).`,
		Flags: []cli.Flag{controlFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			st, err := control.Dial(c.String("control")).PartnerDown(c.Context)
			if err != nil {
				return err
			}
			return printStatus(c, st)
		},
	}
}
