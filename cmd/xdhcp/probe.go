package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/internal/probe"
)

func probeCommand() *cli.Command {
	return &cli.Command{
		Name:     "probe",
		Category: catLab,
		Usage:    "send DISCOVERs with chosen secs and print who offered what",
		Description: `A client that never sends REQUEST: it sends --count DISCOVERs for one client,
one every --interval, with secs counting up from --secs-start and one xid, and
prints a row per DISCOVER: its secs, the servers that offered (by server
identifier) and the addresses offered. Needs root (a packet socket).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "iface", Required: true, Usage: "interface to send on"},
			&cli.StringFlag{Name: "mac", Usage: "client hardware address (default: random, locally administered)"},
			&cli.IntFlag{Name: "count", Value: 10, Usage: "DISCOVERs to send"},
			&cli.UintFlag{Name: "secs-start", Value: 0, Usage: "secs of the first DISCOVER"},
			&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "time between DISCOVERs (and to wait for offers)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			mac, err := macFlag(c.String("mac"))
			if err != nil {
				return err
			}
			if c.Int("count") < 1 {
				return fmt.Errorf("--count %d: want at least 1", c.Int("count"))
			}
			if c.Uint("secs-start") > 65535 {
				return fmt.Errorf("--secs-start %d: want 0..65535", c.Uint("secs-start"))
			}
			conn, err := probe.Open(c.String("iface"))
			if err != nil {
				return err
			}
			defer conn.Close()
			var xid [4]byte
			_, _ = rand.Read(xid[:])
			asJSON := c.Bool("json")
			if !asJSON {
				fmt.Fprintf(c.App.Writer, "client %s, xid %#08x\n%s\n", mac, binary.BigEndian.Uint32(xid[:]), probe.Header)
			}
			rows, err := conn.Series(c.Context, mac, binary.BigEndian.Uint32(xid[:]), uint16(c.Uint("secs-start")), c.Int("count"), c.Duration("interval"),
				func(r probe.Row) {
					if !asJSON {
						fmt.Fprintln(c.App.Writer, r) // a row as it comes, in fixed columns
					}
				})
			if err != nil && c.Context.Err() == nil {
				return err
			}
			if asJSON {
				return writeJSON(c.App.Writer, map[string]any{"mac": mac.String(), "rows": rows})
			}
			return nil
		},
	}
}

// macFlag parses a MAC or makes a random locally administered unicast one.
func macFlag(s string) (net.HardwareAddr, error) {
	if s == "" {
		mac := make(net.HardwareAddr, 6)
		_, _ = rand.Read(mac)
		mac[0] = mac[0]&0xfc | 0x02
		return mac, nil
	}
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("--mac %q: want an Ethernet address like 00:00:01:02:03:05", s)
	}
	return mac, nil
}
