package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

type bucketsView struct {
	Role     decide.Role `json:"role"`
	HBA      string      `json:"hba"`
	Owned    int         `json:"owned"`
	Buckets  []uint8     `json:"buckets_owned"`
	PrimaryN int         `json:"primary_buckets"`
}

func bucketsCommand() *cli.Command {
	common := []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag}
	return &cli.Command{
		Name:  "buckets",
		Usage: "show or change the hash bucket assignment and this server's role",
		Flags: common,
		Subcommands: []*cli.Command{
			{Name: "show", Usage: "print the assignment and the buckets this server owns", Flags: common, Action: bucketsShow},
			{
				Name:  "set",
				Usage: "change the assignment (--split N or --hba HEX) and/or --role; takes effect on the next packet",
				Flags: append([]cli.Flag{
					&cli.IntFlag{Name: "split", Usage: "buckets 0..N-1 to the primary"},
					&cli.StringFlag{Name: "hba", Usage: "raw assignment, 64 hex digits"},
					&cli.StringFlag{Name: "role", Usage: "primary or secondary"},
				}, common...),
				Action: func(c *cli.Context) error {
					if !c.IsSet("split") && !c.IsSet("hba") && !c.IsSet("role") {
						return fmt.Errorf("buckets set: give --split, --hba or --role")
					}
					m, err := openMaps(c)
					if err != nil {
						return err
					}
					defer m.Close()
					err = m.UpdateRule(func(cfg *decide.Rule) error {
						if c.IsSet("split") || c.IsSet("hba") {
							h, err := hbaFromFlags(c)
							if err != nil {
								return err
							}
							cfg.HBA = h
						}
						if c.IsSet("role") {
							r, err := decide.ParseRole(c.String("role"))
							if err != nil {
								return fmt.Errorf("--role: %w", err)
							}
							cfg.Role = r
						}
						return nil
					})
					if err != nil {
						return err
					}
					return bucketsShow(c)
				},
			},
		},
		Action: bucketsShow,
	}
}

func bucketsShow(c *cli.Context) error {
	m, err := openMaps(c)
	if err != nil {
		return err
	}
	defer m.Close()
	cfg, err := m.Rule()
	if err != nil {
		return err
	}
	v := bucketsView{Role: cfg.Role, HBA: cfg.HBA.String(), PrimaryN: cfg.HBA.Count(decide.Primary), Buckets: []uint8{}}
	for b := 0; b < 256; b++ {
		if cfg.Owns(uint8(b)) {
			v.Buckets = append(v.Buckets, uint8(b))
		}
	}
	v.Owned = len(v.Buckets)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, v)
	}
	fmt.Fprintf(c.App.Writer, "role %s owns %d of 256 buckets\nhba %s\nowned: %s\n", v.Role, v.Owned, v.HBA, ranges(v.Buckets))
	return nil
}

// ranges prints 0,1,2,3,7 as 0-3,7.
func ranges(bs []uint8) string {
	out := ""
	for i := 0; i < len(bs); {
		j := i
		for j+1 < len(bs) && bs[j+1] == bs[j]+1 {
			j++
		}
		if out != "" {
			out += ","
		}
		if i == j {
			out += fmt.Sprint(bs[i])
		} else {
			out += fmt.Sprintf("%d-%d", bs[i], bs[j])
		}
		i = j + 1
	}
	if out == "" {
		return "none"
	}
	return out
}
