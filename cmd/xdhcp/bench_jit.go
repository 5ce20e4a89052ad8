package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/internal/bench"
)

func benchJITCommand() *cli.Command {
	return &cli.Command{
		Name:  "jit",
		Usage: "where perf's samples fall in the JITed xdhcp program, by source line",
		Description: `Record the receiving CPU during a drop bench and give the program's address
from the bench's JSON (xdhcp_jit):
  perf record -C 1 -e cpu-clock -F 20000 -o p.data -- xdhcp bench drop --json >drop.json
  xdhcp bench jit --perf p.data --ksym $(jq -r .xdhcp_jit.ksym drop.json) --tag $(jq -r .xdhcp_jit.tag drop.json)`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "perf", Required: true, Usage: "perf.data of the receiving CPU (read with perf script -F ip)"},
			&cli.StringFlag{Name: "ksym", Required: true, Usage: "address of the program's first instruction in that run (xdhcp_jit.ksym of bench drop --json)"},
			&cli.StringFlag{Name: "tag", Usage: "the program's tag in that run (xdhcp_jit.tag): checked against this build's"},
			&cli.IntFlag{Name: "top", Value: 25, Usage: "lines to print"},
			&cli.StringFlag{Name: "image", Usage: "also write the JITed code here (objdump -D -b binary -m i386:x86-64 FILE)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			ksym, err := strconv.ParseUint(strings.TrimPrefix(c.String("ksym"), "0x"), 16, 64)
			if err != nil {
				return fmt.Errorf("--ksym %q: want a hex address", c.String("ksym"))
			}
			p, err := bench.JITLines(nil)
			if err != nil {
				return err
			}
			if t := c.String("tag"); t != "" && t != p.Tag {
				return fmt.Errorf("--tag %s: this build's program is %s: profile the same build", t, p.Tag)
			}
			out, err := exec.CommandContext(c.Context, "perf", "script", "-F", "ip", "-i", c.String("perf")).Output()
			if err != nil {
				return fmt.Errorf("perf script -i %s: %w", c.String("perf"), err)
			}
			samples, err := bench.ReadPerfOffsets(bytes.NewReader(out), ksym, p.Size)
			if err != nil {
				return err
			}
			if p, err = bench.JITLines(samples); err != nil {
				return err
			}
			if f := c.String("image"); f != "" {
				if err := os.WriteFile(f, p.Image, 0o644); err != nil {
					return err
				}
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, p)
			}
			return p.Print(c.App.Writer, c.Int("top"))
		},
	}
}
