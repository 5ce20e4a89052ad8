package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/internal/bench"
	"github.com/xdhcp/xdhcp/internal/loadgen"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:     "bench",
		Category: catLab,
		Description: `Measurements of the fast path on this machine, each against a baseline taken
in the same run so the figure is a ratio, not a guess: gen (a load
generator), xdp (in-kernel cost per verdict path), drop (drop rate into a veth).`,
		Usage: "measure the fast path: a DHCP load generator, per-path cost, drop rate (each against a baseline in the same run)",
		Subcommands: []*cli.Command{
			benchGenCommand(),
			benchXDPCommand(),
			benchDropCommand(),
			benchClientsCommand(),
			benchPassCommand(),
		},
	}
}

// benchGenView is `bench gen --json`.
type benchGenView struct {
	Iface    string         `json:"iface"`
	Types    []loadgen.Type `json:"types"`
	Clients  int            `json:"clients"`
	Share    float64        `json:"peer_share"`
	Secs     [2]uint16      `json:"secs"`
	Baseline benchRate      `json:"baseline"`
	Gen      loadgen.Result `json:"gen"`
	Ratio    float64        `json:"ratio"`
	Role     decide.Role    `json:"role"`
}

type benchRate struct {
	What string  `json:"what"`
	Rate float64 `json:"rate_pps"`
	Sent uint64  `json:"sent,omitempty"`
}

func benchGenCommand() *cli.Command {
	flags := append([]cli.Flag{
		&cli.StringFlag{Name: "iface", Required: true, Usage: "interface to send out of (a veth's peer needs an XDP program, XDP_PASS is enough, for the frames to arrive)"},
		&cli.StringFlag{Name: "pps", Value: "max", Usage: "target packets per second, or max"},
		&cli.Uint64Flag{Name: "count", Usage: "stop after this many packets (0: no limit)"},
		&cli.DurationFlag{Name: "duration", Usage: "stop after this long (0: no limit; with neither --count nor --duration, until Ctrl-C)"},
		&cli.IntFlag{Name: "clients", Value: 65536, Usage: "distinct clients (chaddr) cycled through"},
		&cli.Float64Flag{Name: "peer-share", Value: 0.5, Usage: "fraction of the clients whose chaddr hashes to the partner of --role under --split/--hba"},
		&cli.StringFlag{Name: "secs", Value: "0", Usage: "secs per packet: N or MIN-MAX (uniform)"},
		&cli.StringFlag{Name: "types", Value: "discover", Usage: "message kinds, comma-separated: " + benchTypeNames()},
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
			view := benchGenView{Iface: o.Iface, Types: o.Types, Clients: len(o.Clients), Share: c.Float64("peer-share"),
				Secs: [2]uint16{o.SecsMin, o.SecsMax}}
			view.Role, _ = decide.ParseRole(c.String("role"))
			if o.PPS == 0 && c.Duration("baseline") > 0 {
				bo := o
				bo.Plain, bo.Count, bo.Duration, bo.Progress = true, 0, c.Duration("baseline"), nil
				r, err := loadgen.Run(c.Context, bo)
				if err != nil {
					return fmt.Errorf("baseline run: %w", err)
				}
				view.Baseline = benchRate{What: "first client's frame sent unchanged, no per-packet rewrite", Rate: r.Rate, Sent: r.Sent}
			} else if o.PPS > 0 {
				view.Baseline = benchRate{What: "requested rate", Rate: float64(o.PPS)}
			}
			printed := false
			line := benchProgressLine(c.App.ErrWriter)
			o.Progress = func(p loadgen.Progress) { printed = true; line(p) }
			res, err := loadgen.Run(c.Context, o)
			if printed {
				fmt.Fprintln(c.App.ErrWriter) // end the progress line
			}
			if err != nil {
				return err
			}
			view.Gen = res
			view.Ratio = benchRatio(res.Rate, view.Baseline.Rate)
			if c.Bool("json") {
				return writeJSON(c.App.Writer, view)
			}
			w := c.App.Writer
			if view.Baseline.Rate > 0 {
				fmt.Fprintf(w, "baseline (%s): %s\n", view.Baseline.What, benchPPS(view.Baseline.Rate))
			}
			fmt.Fprintf(w, "xdhcp gen (%d clients, %.0f%% partner's, secs %d-%d, %s): sent %d in %.2fs = %s\n",
				view.Clients, 100*view.Share, o.SecsMin, o.SecsMax, benchJoinTypes(o.Types), res.Sent, res.Elapsed.Seconds(), benchPPS(res.Rate))
			if view.Baseline.Rate > 0 {
				fmt.Fprintf(w, "ratio gen/baseline: %.2f\n", view.Ratio)
			}
			return nil
		},
	}
}

func benchGenOptions(c *cli.Context) (loadgen.Options, error) {
	o := loadgen.Options{Iface: c.String("iface"), Count: c.Uint64("count"), Duration: c.Duration("duration"), Threads: c.Int("threads")}
	var err error
	if o.PPS, err = benchParsePPS(c.String("pps")); err != nil {
		return o, err
	}
	if o.SecsMin, o.SecsMax, err = benchParseSecs(c.String("secs")); err != nil {
		return o, err
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

// benchParsePPS reads a packet rate or "max" (0).
func benchParsePPS(s string) (uint64, error) {
	if strings.EqualFold(strings.TrimSpace(s), "max") {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("--pps %q: want a positive number of packets per second or max", s)
	}
	return n, nil
}

// benchParseSecs reads "N" or "MIN-MAX" (0..65535).
func benchParseSecs(s string) (uint16, uint16, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		hi = lo
	}
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("--secs %q: want N or MIN-MAX, whole numbers 0..65535", s)
	}
	if a > b {
		return 0, 0, fmt.Errorf("--secs %q: MIN is above MAX", s)
	}
	return uint16(a), uint16(b), nil
}

func benchTypeNames() string {
	var names []string
	for _, t := range loadgen.Types() {
		names = append(names, string(t))
	}
	return strings.Join(names, ",")
}

func benchJoinTypes(ts []loadgen.Type) string {
	var names []string
	for _, t := range ts {
		names = append(names, string(t))
	}
	return strings.Join(names, ",")
}

// benchProgressLine rewrites one status line on w (stderr) while a run lasts.
func benchProgressLine(w io.Writer) func(loadgen.Progress) {
	return func(p loadgen.Progress) {
		fmt.Fprintf(w, "\rsent %12d  %s  %5.1fs ", p.Sent, benchPPS(p.Rate), p.Elapsed.Seconds())
	}
}

func benchPPS(r float64) string {
	if r >= 1e6 {
		return fmt.Sprintf("%.2f Mpps", r/1e6)
	}
	return fmt.Sprintf("%.0f pps", r)
}

func benchRatio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func benchXDPCommand() *cli.Command {
	return &cli.Command{
		Name: "xdp",
		Description: `Times each verdict path of the xdhcp program (owned, partner-dropped,
secs-override, not-dhcp, ...) with BPF_PROG_TEST_RUN and compares it with a
trivial XDP_PASS program timed in the same rounds; reports medians.`,
		Usage: "in-kernel cost per packet of each verdict path of the xdhcp program against a trivial XDP_PASS program (test-run timing)",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "repeat", Value: 1_000_000, Usage: "test-run repetitions per measurement (the kernel reports whole ns: keep >= 1e6)"},
			&cli.IntFlag{Name: "rounds", Value: 5, Usage: "measurements per path, interleaved; the median is reported"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.Int("repeat") < 1 || c.Int("repeat") > 1<<31 || c.Int("rounds") < 1 || c.Int("rounds") > 1000 {
				return fmt.Errorf("--repeat %d / --rounds %d: want 1..2^31 and 1..1000", c.Int("repeat"), c.Int("rounds"))
			}
			res, err := bench.Cost(c.Context, c.Int("repeat"), c.Int("rounds"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, res)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PATH\tREASON\tACTION\tNS/PACKET\tRATIO")
			fmt.Fprintf(tw, "trivial XDP_PASS (baseline)\t-\tpass\t%.0f\t1.00\n", res.TrivialNs)
			for _, p := range res.Paths {
				action := "pass"
				if p.Drop {
					action = "drop"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.2f\n", p.Path, p.Reason, action, p.NsPerPacket, p.Ratio)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "goal: DISCOVER decision below %.0fx the trivial program: %s (median of %d rounds of %d runs)\n",
				res.Goal, benchMet(res.GoalMet), res.Rounds, res.Repeat)
			return nil
		},
	}
}

func benchMet(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func benchDropCommand() *cli.Command {
	return &cli.Command{
		Name: "drop",
		Description: `Floods partner-owned DISCOVERs into a veth and measures how many per second
the receiving side drops: a trivial XDP_DROP program, one reading xdhcp's
cache lines and xdhcp take turns on one link in slices of one generator run,
for --rounds; by default in a namespace of its own.`,
		Usage: "partner-owned flood into a veth: rate xdhcp receives and drops against a trivial XDP_DROP program, same run",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "iface", Usage: "veth to send out of; its peer in this network namespace receives (default: a veth pair in a namespace of its own)"},
			&cli.DurationFlag{Name: "phase", Value: bench.DefaultDropSlice, Usage: "length of each receiver's slice of the one generator run"},
			&cli.IntFlag{Name: "rounds", Value: bench.DefaultDropRounds, Usage: "rounds of trivial/reading/xdhcp slices, in turn on one link; the ratio is the rounds' median"},
			&cli.IntFlag{Name: "threads", Value: 1, Usage: "generator threads, one per CPU"},
			&cli.IntFlag{Name: "clients", Value: 65536, Usage: "distinct partner-owned clients"},
			&cli.BoolFlag{Name: "no-relay-stats", Usage: "run xdhcp with its per-relay counters off"},
			&cli.BoolFlag{Name: "same-cpu", Usage: "receive in the generator's softirq on its CPU (the veth default) instead of a threaded-NAPI kernel thread on a CPU of its own"},
			&cli.IntFlag{Name: "rx-cpu", DefaultText: "the last CPU", Usage: "CPU of the receiving NAPI thread"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			for _, n := range []string{"rounds", "threads"} {
				if c.Int(n) < 1 {
					return fmt.Errorf("--%s %d: want at least 1", n, c.Int(n))
				}
			}
			if c.Duration("phase") <= 0 {
				return fmt.Errorf("--phase %v: want a positive duration", c.Duration("phase"))
			}
			o := bench.DropOptions{Iface: c.String("iface"), LabName: fmt.Sprintf("xb-bench-%d", os.Getpid()),
				Phase: c.Duration("phase"), Rounds: c.Int("rounds"), Threads: c.Int("threads"), Clients: c.Int("clients"),
				NoRelayStats: c.Bool("no-relay-stats"), SameCPU: c.Bool("same-cpu"), RxCPU: c.Int("rx-cpu"),
				Progress: func(s string) { fmt.Fprintf(c.App.ErrWriter, "measuring: %s\n", s) }}
			res, err := bench.Drop(c.Context, o)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, res)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "flood: %d partner-owned clients, DISCOVER secs 0, %d generator thread(s), %s -> %s\nreceiver: %s\n", res.Clients, res.Threads, res.Iface, res.Peer, res.Receiver)
			for _, p := range []bench.DropPhase{res.Trivial, res.Reader, res.XDHCP} {
				fmt.Fprintf(w, "%-32s sent %s, received and dropped %s (%d of %d)", p.Program+":", benchPPS(p.SentRate), benchPPS(p.ReceivedRate), p.Received, p.Sent)
				if p.RxBusy > 0 {
					fmt.Fprintf(w, ", receiver CPU busy %.0f%%, %s per receiver CPU-second", 100*p.RxBusy, benchPPS(p.RxPerCPUSecond))
				}
				fmt.Fprintln(w)
			}
			how := ""
			if res.AtOfferedLoad {
				how = " at the same offered load"
			}
			fmt.Fprintf(w, "rounds xdhcp/trivial%s:", how)
			for _, r := range res.Rounds {
				fmt.Fprintf(w, " %.2f", r.Ratio)
			}
			fmt.Fprintln(w)
			fmt.Fprintf(w, "ratio xdhcp/trivial%s: %.2f, median of %d rounds of %v slices (quartiles %.2f-%.2f, spread %.2f-%.2f, all slices pooled %.2f) (goal >= %.1f: %s)\n",
				how, res.Ratio, len(res.Rounds), res.Slice, res.RatioQ1, res.RatioQ3, res.RatioMin, res.RatioMax, res.RatioPooled, res.Goal, benchMet(res.GoalMet))
			if res.AtOfferedLoad {
				fmt.Fprintf(w, "  (each rate over the generator's rate in its own slice; the plain ratio of rates, with the generator's swings between slices in it: median %.2f)\n", res.RatioRates)
			}
			fmt.Fprintf(w, "ratio xdhcp/trivial reading the same cache lines: %.2f (the program's own cost; the rest is the frame's memory)\n", res.RatioToReader)
			return nil
		},
	}
}

func benchClientsCommand() *cli.Command {
	return &cli.Command{
		Name: "clients",
		Description: `Prints client MACs, one a line, of which --peer-share hash to the partner of
--role under --split/--hba: input for perfdhcp -M, so an external load
generator sends a known owned/partner mix.`,
		Usage: "print client MACs, one a line, of which --peer-share hash to the partner (for perfdhcp -M)",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "count", Value: 1000, Usage: "how many MACs"},
			&cli.Float64Flag{Name: "peer-share", Usage: "fraction whose key hashes to the partner of --role"},
			&cli.StringFlag{Name: "role", Value: "primary", Usage: "primary or secondary"},
			&cli.StringFlag{Name: "key", Value: "chaddr", Usage: "what the servers hash: chaddr, or client-id (option 61 = 01 + MAC, as perfdhcp sends)"},
		}, hbaFlags(false)...),
		Action: func(c *cli.Context) error {
			hba, err := hbaFromFlags(c)
			if err != nil {
				return err
			}
			role, err := decide.ParseRole(c.String("role"))
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			pick := loadgen.Clients
			switch c.String("key") {
			case "chaddr":
			case "client-id":
				pick = loadgen.ClientIDClients
			default:
				return fmt.Errorf("--key %q: want chaddr or client-id", c.String("key"))
			}
			macs, err := pick(c.Int("count"), c.Float64("peer-share"), hba, role)
			if err != nil {
				return err
			}
			for _, m := range macs {
				fmt.Fprintln(c.App.Writer, m)
			}
			return nil
		},
	}
}

func benchPassCommand() *cli.Command {
	return &cli.Command{
		Name: "pass",
		Description: `Attaches a trivial XDP_PASS program to --iface through netlink. A veth only
receives BPF live frames when its peer has an XDP program, so this lets a
veth receive generated frames without xdhcp; it stays until
ip link set dev IF xdp off.`,
		Usage: "attach a trivial XDP_PASS program to --iface (netlink; stays until ip link set dev IF xdp off) so a veth receives generated frames without xdhcp",
		Flags: []cli.Flag{&cli.StringFlag{Name: "iface", Required: true, Usage: "interface"}},
		Action: func(c *cli.Context) error {
			return bench.AttachPass(c.String("iface"))
		},
	}
}
