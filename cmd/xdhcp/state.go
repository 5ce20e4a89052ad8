package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:  "state",
		Usage: "read or change the failover state the fast path applies",
		Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag},
		Subcommands: []*cli.Command{
			{Name: "get", Usage: "print the state", Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag}, Action: stateGet},
			{
				Name: "set", ArgsUsage: "normal|communications-interrupted|partner-down|startup|...",
				Usage: "set the state: normal applies the load-balancing rules, every other state passes all DHCP packets",
				Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return fmt.Errorf("state set: want one state name")
					}
					s, err := decide.ParseState(c.Args().First())
					if err != nil {
						return err
					}
					m, err := openMaps(c)
					if err != nil {
						return err
					}
					defer m.Close()
					if err := m.UpdateRule(func(cfg *decide.Rule) error { cfg.Rule = s; return nil }); err != nil {
						return err
					}
					return stateGet(c)
				},
			},
		},
		Action: stateGet,
	}
}

func stateGet(c *cli.Context) error {
	m, err := openMaps(c)
	if err != nil {
		return err
	}
	defer m.Close()
	cfg, err := m.Rule()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, map[string]any{"state": cfg.Rule, "load_balancing": cfg.Rule == decide.Normal})
	}
	fmt.Fprintf(c.App.Writer, "state %s\n", cfg.Rule)
	return nil
}
