package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
)

func checkConfigCommand() *cli.Command {
	return &cli.Command{
		Name:      "check-config",
		Usage:     "validate a configuration file, naming every error with its line",
		ArgsUsage: "FILE",
		Flags:     []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("check-config: want one FILE argument, got %d", c.NArg())
			}
			cfg, err := config.Load(c.Args().First())
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, cfg)
			}
			ranges, res := 0, 0
			for _, s := range cfg.Subnets {
				ranges += len(s.Ranges)
				res += len(s.Reservations)
			}
			fmt.Fprintf(c.App.Writer, "%s: ok (%d subnets, %d ranges, %d reservations)\n", c.Args().First(), len(cfg.Subnets), ranges, res)
			return nil
		},
	}
}
