package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/rulectl"
)

type bucketsView struct {
	Role     decide.Role       `json:"role"`
	HBA      string            `json:"hba"`
	Owned    int               `json:"owned"`
	Buckets  []uint8           `json:"buckets_owned"`
	PrimaryN int               `json:"primary_buckets"`
	Daemon   *control.RuleView `json:"daemon"`
}

func bucketsCommand() *cli.Command {
	return &cli.Command{
		Name:     "buckets",
		Category: catFastPath,
		Usage:    "show or change the hash bucket assignment and this server's role",
		Description: `The hash bucket assignment (HBA) says which of the 256 buckets of the RFC 3074
hash belongs to the primary; the secondary owns the rest. This server answers
the clients of the buckets its role owns and, after the secs threshold, the
partner's. Without a subcommand it shows the assignment.`,
		Flags: ruleCmdFlags(),
		Subcommands: []*cli.Command{
			{
				Name: "show", Usage: "print the assignment and the buckets this server owns", Flags: ruleCmdFlags(), Action: bucketsShow,
				Description: `Prints the assignment, this server's role and the buckets it owns.`,
			},
			{
				Name:  "set",
				Usage: "change the assignment (--split N or --hba HEX) and/or --role; takes effect on the next packet",
				Description: `Changes the assignment (--split N: buckets 0..N-1 to the primary; --hba: the
raw 256-bit map in hex). When a daemon serves the interface it makes the
change (in a pair on both servers, which must agree) and keeps it across
restarts; a running daemon refuses --role (restart it with --role). Without
a daemon the attached fast path's maps are written, --role included.`,
				Flags: ruleCmdFlags(append(hbaFlags(false),
					&cli.StringFlag{Name: "role", Usage: "primary or secondary"})...),
				Action: func(c *cli.Context) error {
					if !c.IsSet("split") && !c.IsSet("hba") && !c.IsSet("role") {
						return fmt.Errorf("buckets set: give --split, --hba or --role")
					}
					var ch control.RuleChange
					if c.IsSet("split") || c.IsSet("hba") {
						h, err := hbaFromFlags(c)
						if err != nil {
							return err
						}
						ch.HBA = &h
					}
					if c.IsSet("role") {
						r, err := decide.ParseRole(c.String("role"))
						if err != nil {
							return fmt.Errorf("--role: %w", err)
						}
						ch.Role = &r
					}
					now, err := changeRule(c, ch)
					if err != nil {
						return err
					}
					return printBuckets(c, now, true)
				},
			},
		},
		Action: bucketsShow,
	}
}

func bucketsShow(c *cli.Context) error {
	now, err := readRule(c)
	if err != nil {
		return err
	}
	return printBuckets(c, now, false)
}

func printBuckets(c *cli.Context, now rulectl.Now, changed bool) error {
	r := now.Rule
	v := bucketsView{Role: r.Role, HBA: r.HBA.String(), PrimaryN: r.HBA.Count(decide.Primary), Buckets: []uint8{}, Daemon: now.View}
	for b := 0; b < 256; b++ {
		if r.Owns(uint8(b)) {
			v.Buckets = append(v.Buckets, uint8(b))
		}
	}
	v.Owned = len(v.Buckets)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, v)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "role %s owns %d of 256 buckets\nhba %s\nowned: %s\n", v.Role, v.Owned, v.HBA, ranges(v.Buckets))
	if changed {
		fmt.Fprintln(w, now.Where(true))
	}
	return nil
}

// ranges prints 0,1,2,3,7 as 0-3,7.
func ranges(bs []uint8) string {
	var out []string
	for i := 0; i < len(bs); {
		j := i
		for j+1 < len(bs) && bs[j+1] == bs[j]+1 {
			j++
		}
		if i == j {
			out = append(out, fmt.Sprint(bs[i]))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", bs[i], bs[j]))
		}
		i = j + 1
	}
	if out == nil {
		return "none"
	}
	return strings.Join(out, ",")
}
