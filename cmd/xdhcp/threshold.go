package main

import (
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

func thresholdCommand() *cli.Command {
	return &cli.Command{
		Name:  "threshold",
		Usage: "read or change the secs threshold from which the partner's clients are answered",
		Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag},
		Subcommands: []*cli.Command{
			{
				Name: "get", Usage: "print the threshold", Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag},
				Action: thresholdGet,
			},
			{
				Name: "set", Usage: "set the threshold (0 turns load balancing off); takes effect on the next packet",
				ArgsUsage: "T", Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return fmt.Errorf("threshold set: want one value T (0..65535)")
					}
					t, err := strconv.ParseUint(c.Args().First(), 10, 16)
					if err != nil {
						return fmt.Errorf("threshold %q: want a whole number 0..65535", c.Args().First())
					}
					m, err := openMaps(c)
					if err != nil {
						return err
					}
					defer m.Close()
					if err := m.UpdateRule(func(cfg *decide.Rule) error { cfg.Threshold = uint16(t); return nil }); err != nil {
						return err
					}
					return thresholdGet(c)
				},
			},
		},
		Action: thresholdGet,
	}
}

func thresholdGet(c *cli.Context) error {
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
		return writeJSON(c.App.Writer, map[string]any{"threshold": cfg.Threshold, "load_balancing": cfg.Threshold != 0})
	}
	if cfg.Threshold == 0 {
		fmt.Fprintln(c.App.Writer, "threshold 0 (load balancing off: every client answered)")
		return nil
	}
	fmt.Fprintf(c.App.Writer, "threshold %d (partner's clients answered from secs %d)\n", cfg.Threshold, cfg.Threshold)
	return nil
}
