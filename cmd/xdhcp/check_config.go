package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
)

func checkConfigCommand() *cli.Command {
	return &cli.Command{
		Name:     "check-config",
		Category: catServe,
		Description: `Loads FILE the way serve does and reports every error with its line, or a
one-line summary (subnets, ranges, reservations). --json prints the parsed
configuration. The systemd unit runs it before starting the daemon.`,
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
			if l := cfg.Limits; l.RelayRate > 0 || l.ClientRate > 0 || !l.PoolReserve.IsZero() {
				fmt.Fprintf(c.App.Writer, "limits: relay %s, client %s, pool reserve %s, %d clients tracked\n",
					rateText(l.RelayRate, config.Burst(l.RelayRate, l.RelayBurst)), rateText(l.ClientRate, config.Burst(l.ClientRate, l.ClientBurst)),
					l.PoolReserve, l.Tracked)
			}
			return nil
		},
	}
}

func rateText(r, burst float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g/s (burst %g)", r, burst)
}
