package main

import (
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/rulectl"
)

func thresholdCommand() *cli.Command {
	return &cli.Command{
		Name:     "threshold",
		Category: catFastPath,
		Usage:    "read or change the secs threshold from which the partner's clients are answered",
		Description: `The threshold T is the secs value from which this server answers a client
whose bucket the partner owns: a DISCOVER with secs >= T means the partner has
not answered in time. ISC's "load balance max seconds M" is T = M+1, Windows
Server answers from secs 6 (T = 6). T = 0 turns load balancing off: every
client is answered. Changes take effect on the next packet.`,
		Flags: ruleCmdFlags(),
		Subcommands: []*cli.Command{
			{
				Name: "get", Usage: "print the threshold", Flags: ruleCmdFlags(), Action: thresholdGet,
				Description: `Prints the threshold in force: the serving daemon's, else the attached fast path's.`,
			},
			{
				Name: "set", Usage: "set the threshold (0 turns load balancing off); takes effect on the next packet",
				ArgsUsage: "T", Flags: ruleCmdFlags(),
				Description: `Sets the threshold to T (0..65535). When a daemon serves the interface it
makes the change (in a pair on both servers) and keeps it across restarts;
otherwise the attached fast path's maps are written. Prints what is in force.`,
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return fmt.Errorf("threshold set: want one value T (0..65535), got %d arguments", c.NArg())
					}
					t, err := strconv.ParseUint(c.Args().First(), 10, 16)
					if err != nil {
						return fmt.Errorf("threshold %q: want a whole number 0..65535", c.Args().First())
					}
					v := uint16(t)
					now, err := changeRule(c, control.RuleChange{Threshold: &v})
					if err != nil {
						return err
					}
					return printThreshold(c, now, true)
				},
			},
		},
		Action: thresholdGet,
	}
}

func thresholdGet(c *cli.Context) error {
	now, err := readRule(c)
	if err != nil {
		return err
	}
	return printThreshold(c, now, false)
}

func printThreshold(c *cli.Context, now rulectl.Now, changed bool) error {
	t := now.Rule.Threshold
	if c.Bool("json") {
		return writeJSON(c.App.Writer, map[string]any{"threshold": t, "load_balancing": t != 0, "daemon": now.View})
	}
	if t == 0 {
		fmt.Fprint(c.App.Writer, "threshold 0 (load balancing off: every client answered)")
	} else {
		fmt.Fprintf(c.App.Writer, "threshold %d (partner's clients answered from secs %d)", t, t)
	}
	if changed {
		fmt.Fprintf(c.App.Writer, ": %s", now.Where(true))
	}
	fmt.Fprintln(c.App.Writer)
	return nil
}
