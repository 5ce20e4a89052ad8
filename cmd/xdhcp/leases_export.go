package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
	"github.com/xdhcp/xdhcp/userspace/migrate/kea"
)

func leasesExportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write every lease of the store file as CSV (Kea's memfile columns) or JSON, without a daemon",
		Description: `Reads the store file read-only (it fails while a daemon holds it: stop it,
or use xdhcp leases --json against the running daemon). The CSV has the
columns Kea 2.x writes to kea-leases4.csv, so tools that read Kea's lease
file read it; subnet_id is the subnet's place in --config (1 for the
first), 0 without --config. A released lease is written expired-reclaimed
(state 2), a declined one with state 1.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Value: config.DefaultDB, Usage: "lease store `FILE`"},
			&cli.StringFlag{Name: "format", Value: "csv", Usage: "csv (Kea memfile columns) or json"},
			&cli.StringFlag{Name: "config", Usage: "configuration `FILE` that numbers the subnets for subnet_id"},
			&cli.StringFlag{Name: "out", Usage: "write to `FILE` (whole or not at all) instead of standard output"},
		},
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if format != "csv" && format != "json" {
				return fmt.Errorf("leases export: --format %q: want csv or json", format)
			}
			ls, err := lease.ReadFile(c.String("db"), time.Second)
			if err != nil {
				return fmt.Errorf("leases export: %w", err)
			}
			lease.SortByIP(ls)
			subnetID := func(netip.Addr) uint32 { return 0 }
			if f := c.String("config"); f != "" {
				cfg, err := config.Load(f)
				if err != nil {
					return fmt.Errorf("leases export: %w", err)
				}
				subnetID = func(a netip.Addr) uint32 {
					for i, s := range cfg.Subnets {
						if s.Prefix.Contains(a) {
							return uint32(i + 1)
						}
					}
					return 0
				}
			}
			var buf bytes.Buffer
			if format == "json" {
				if ls == nil {
					ls = []lease.Lease{}
				}
				err = writeJSON(&buf, ls)
			} else {
				var n int
				n, err = kea.WriteCSV(&buf, ls, subnetID)
				if err == nil && n < len(ls) {
					fmt.Fprintf(c.App.ErrWriter, "leases export: %d leases with neither hardware address nor client id left out (Kea refuses such rows)\n", len(ls)-n)
				}
			}
			if err != nil {
				return fmt.Errorf("leases export: %w", err)
			}
			if out := c.String("out"); out != "" {
				return migrate.WriteFile(out, buf.Bytes())
			}
			_, err = c.App.Writer.Write(buf.Bytes())
			return err
		},
	}
}
