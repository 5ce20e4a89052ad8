package main

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

type hashResult struct {
	Key    string      `json:"key"`
	Source string      `json:"source"`
	Bucket uint8       `json:"bucket"`
	Owner  decide.Role `json:"owner"`
	HBA    string      `json:"hba"`
}

func hashCommand() *cli.Command {
	return &cli.Command{
		Name:      "hash",
		Category:  catFastPath,
		Usage:     "print a client's RFC 3074 bucket and which server owns it",
		ArgsUsage: "MAC",
		Description: `Hashes the client key as the fast path does: the client identifier (option 61,
type byte included) when given with --client-id, otherwise the hardware address.
Example: xdhcp hash --json 00:00:01:02:03:05 gives bucket 45, owner primary under split 128.`,
		Flags: append(hbaFlags(false),
			&cli.StringFlag{Name: "client-id", Usage: "option 61 payload in hex, type byte first (e.g. 01000c2967427a)"},
			jsonFlag),
		Action: func(c *cli.Context) error {
			hba, err := hbaFromFlags(c)
			if err != nil {
				return err
			}
			var key []byte
			res := hashResult{HBA: hba.String()}
			switch {
			case c.IsSet("client-id"):
				if c.NArg() > 0 {
					return fmt.Errorf("give a MAC or --client-id, not both")
				}
				key, err = hex.DecodeString(strings.NewReplacer(":", "", "-", "").Replace(c.String("client-id")))
				if err != nil {
					return fmt.Errorf("--client-id %q: %w", c.String("client-id"), err)
				}
				res.Source = "client-id"
			case c.NArg() == 1:
				key, err = net.ParseMAC(c.Args().First())
				if err != nil {
					return fmt.Errorf("MAC %q: %w", c.Args().First(), err)
				}
				res.Source = "chaddr"
			default:
				return fmt.Errorf("want one MAC argument or --client-id HEX")
			}
			res.Key = hex.EncodeToString(key)
			res.Bucket = decide.Bucket(key)
			res.Owner = hba.Owner(res.Bucket)
			if c.Bool("json") {
				return writeJSON(c.App.Writer, res)
			}
			fmt.Fprintf(c.App.Writer, "key %s (%s)  bucket %d  owner %s\n", res.Key, res.Source, res.Bucket, res.Owner)
			return nil
		},
	}
}
