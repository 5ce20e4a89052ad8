package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/rulectl"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:     "state",
		Category: catFastPath,
		Usage:    "read or change the failover state the fast path applies",
		Description: `The failover state the fast path applies. In normal the load-balancing rules
hold; in every other state (communications-interrupted, partner-down,
startup, recover, ...) the fast path passes all DHCP traffic to the daemon,
which answers by that state's rules. In a pair the failover engine sets it.
Without a subcommand it prints the state.`,
		Flags: ruleCmdFlags(),
		Subcommands: []*cli.Command{
			{
				Name: "get", Usage: "print the state", Flags: ruleCmdFlags(), Action: stateGet,
				Description: `Prints the failover state in force: the serving daemon's, else the attached fast path's.`,
			},
			{
				Name: "set", ArgsUsage: "normal|communications-interrupted|partner-down|startup|...",
				Usage: "set the state: normal applies the load-balancing rules, every other state passes all DHCP packets",
				Description: `Sets the failover state. A standalone daemon applies it (not kept across
restarts); in a pair the failover engine owns the state, and the only
state an operator may set is partner-down (as xdhcp partner-down, refused
while the partner is connected). Without a daemon the maps are written.`,
				Flags: ruleCmdFlags(),
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return fmt.Errorf("state set: want one state name, got %d arguments", c.NArg())
					}
					s, err := decide.ParseState(c.Args().First())
					if err != nil {
						return err
					}
					now, err := changeRule(c, control.RuleChange{State: &s})
					if err != nil {
						return err
					}
					return printState(c, now, true)
				},
			},
		},
		Action: stateGet,
	}
}

func stateGet(c *cli.Context) error {
	now, err := readRule(c)
	if err != nil {
		return err
	}
	return printState(c, now, false)
}

func printState(c *cli.Context, now rulectl.Now, changed bool) error {
	s := now.Rule.Rule
	if c.Bool("json") {
		return writeJSON(c.App.Writer, map[string]any{"state": s, "load_balancing": s == decide.Normal, "daemon": now.View})
	}
	fmt.Fprintf(c.App.Writer, "state %s", s)
	if changed {
		fmt.Fprintf(c.App.Writer, ": %s", now.Where(false))
	}
	fmt.Fprintln(c.App.Writer)
	return nil
}
