package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/xdhcp/xdhcp/internal/bench"
	"github.com/xdhcp/xdhcp/internal/loadgen"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

func benchGenCommand() *cli.Command {
	flags := append([]cli.Flag{
		&cli.StringFlag{Name: "iface", Required: true, Usage: "interface to send out of (a veth's peer needs an XDP program, XDP_PASS is enough, for the frames to arrive)"},
		&cli.StringFlag{Name: "pps", Value: "max", Usage: "target packets per second, or max"},
		&cli.Uint64Flag{Name: "count", Usage: "stop after this many packets (0: no limit)"},
		&cli.DurationFlag{Name: "duration", Usage: "stop after this long (0: no limit; with neither --count nor --duration, until Ctrl-C)"},
		&cli.IntFlag{Name: "clients", Value: 65536, Usage: "distinct clients (chaddr) cycled through"},
		&cli.Float64Flag{Name: "peer-share", Value: 0.5, Usage: "fraction of the clients whose chaddr hashes to the partner of --role under --split/--hba"},
		&cli.StringFlag{Name: "secs", Value: "0", Usage: "secs per packet: N or MIN-MAX (uniform)"},
		&cli.StringFlag{Name: "types", Value: "discover", Usage: "message kinds, comma-separated: " + loadgen.JoinTypes(loadgen.Types())},
		&cli.StringFlag{Name: "server-id", Value: "198.18.0.1", Usage: "option 54 of request, decline and release (and their unicast destination)"},
		&cli.StringFlag{Name: "role", Value: "primary", Usage: "the server --peer-share is counted against: primary or secondary"},
		&cli.IntFlag{Name: "threads", Value: 1, Usage: "generator threads, one per CPU"},
		&cli.DurationFlag{Name: "baseline", Value: 2 * time.Second, Usage: "with --pps max: first send the first client's frame unchanged for this long, the baseline rate (0: skip)"},
		jsonFlag,
	}, hbaFlags(false)...)
	return &cli.Command{
		Name: "gen",
		Description: `Sends DHCP requests built from templates out of --iface with BPF live frames,
cycling through --clients chaddrs of which --peer-share hash to the partner,
at --pps or as fast as possible, and reports the rate reached.`,
		Usage: "send DHCP requests from many clients out of an interface at up to millions a second (BPF live frames)",
		Flags: flags,
		Action: func(c *cli.Context) error {
			o, err := benchGenOptions(c)
			if err != nil {
				return err
			}
			role, _ := decide.ParseRole(c.String("role"))
			printed := false
			res, err := bench.Gen(c.Context, o, c.Float64("peer-share"), role, c.Duration("baseline"), func(p loadgen.Progress) {
				printed = true
				fmt.Fprintf(c.App.ErrWriter, "\rsent %12d  %s  %5.1fs ", p.Sent, bench.PPS(p.Rate), p.Elapsed.Seconds())
			})
			if printed {
				fmt.Fprintln(c.App.ErrWriter) // end the progress line
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, res)
			}
			return res.Print(c.App.Writer)
		},
	}
}

func benchGenOptions(c *cli.Context) (loadgen.Options, error) {
	o := loadgen.Options{Iface: c.String("iface"), Count: c.Uint64("count"), Duration: c.Duration("duration"), Threads: c.Int("threads")}
	var err error
	if o.PPS, err = loadgen.ParsePPS(c.String("pps")); err != nil {
		return o, fmt.Errorf("--pps %w", err)
	}
	if o.SecsMin, o.SecsMax, err = loadgen.ParseSecs(c.String("secs")); err != nil {
		return o, fmt.Errorf("--secs %w", err)
	}
	if o.Types, err = loadgen.ParseTypes(c.String("types")); err != nil {
		return o, fmt.Errorf("--types: %w", err)
	}
	if o.ServerID, err = netip.ParseAddr(c.String("server-id")); err != nil || !o.ServerID.Is4() {
		return o, fmt.Errorf("--server-id %q: not an IPv4 address", c.String("server-id"))
	}
	if o.Threads < 1 || o.Threads > 1024 {
		return o, fmt.Errorf("--threads %d: want 1..1024", o.Threads)
	}
	hba, err := hbaFromFlags(c)
	if err != nil {
		return o, err
	}
	role, err := decide.ParseRole(c.String("role"))
	if err != nil {
		return o, fmt.Errorf("--role: %w", err)
	}
	if o.Clients, err = loadgen.Clients(c.Int("clients"), c.Float64("peer-share"), hba, role); err != nil {
		return o, fmt.Errorf("--clients/--peer-share: %w", err)
	}
	return o, nil
}
