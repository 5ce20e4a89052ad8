package bench

// What the bench commands print: each result as an operator reads it,
// with the baseline and the ratio to it.

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/xdhcp/xdhcp/internal/loadgen"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// PPS prints a packet rate.
func PPS(r float64) string {
	if r >= 1e6 {
		return fmt.Sprintf("%.2f Mpps", r/1e6)
	}
	return fmt.Sprintf("%.0f pps", r)
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Rate is a measured or requested rate.
type Rate struct {
	What string  `json:"what"`
	Rate float64 `json:"rate_pps"`
	Sent uint64  `json:"sent,omitempty"`
}

// GenResult is `bench gen`: the generator's rate against its baseline.
type GenResult struct {
	Iface    string         `json:"iface"`
	Types    []loadgen.Type `json:"types"`
	Clients  int            `json:"clients"`
	Share    float64        `json:"peer_share"`
	Secs     [2]uint16      `json:"secs"`
	Baseline Rate           `json:"baseline"`
	Gen      loadgen.Result `json:"gen"`
	Ratio    float64        `json:"ratio"`
	Role     decide.Role    `json:"role"`
}

// Gen runs the generator, first (with PPS max and baseline > 0) sending the
// first client's frame unchanged for baseline: the rate without the
// per-packet rewrite. progress gets the run's progress lines.
func Gen(ctx context.Context, o loadgen.Options, share float64, role decide.Role, baseline time.Duration, progress func(loadgen.Progress)) (*GenResult, error) {
	res := &GenResult{Iface: o.Iface, Types: o.Types, Clients: len(o.Clients), Share: share, Secs: [2]uint16{o.SecsMin, o.SecsMax}, Role: role}
	switch {
	case o.PPS == 0 && baseline > 0:
		bo := o
		bo.Plain, bo.Count, bo.Duration, bo.Progress = true, 0, baseline, nil
		r, err := loadgen.Run(ctx, bo)
		if err != nil {
			return nil, fmt.Errorf("baseline run: %w", err)
		}
		res.Baseline = Rate{What: "first client's frame sent unchanged, no per-packet rewrite", Rate: r.Rate, Sent: r.Sent}
	case o.PPS > 0:
		res.Baseline = Rate{What: "requested rate", Rate: float64(o.PPS)}
	}
	o.Progress = progress
	r, err := loadgen.Run(ctx, o)
	if err != nil {
		return nil, err
	}
	res.Gen, res.Ratio = r, ratio(r.Rate, res.Baseline.Rate)
	return res, nil
}

// Print writes the generator's report.
func (v *GenResult) Print(w io.Writer) error {
	if v.Baseline.Rate > 0 {
		fmt.Fprintf(w, "baseline (%s): %s\n", v.Baseline.What, PPS(v.Baseline.Rate))
	}
	fmt.Fprintf(w, "xdhcp gen (%d clients, %.0f%% partner's, secs %d-%d, %s): sent %d in %.2fs = %s\n",
		v.Clients, 100*v.Share, v.Secs[0], v.Secs[1], loadgen.JoinTypes(v.Types), v.Gen.Sent, v.Gen.Elapsed.Seconds(), PPS(v.Gen.Rate))
	if v.Baseline.Rate > 0 {
		fmt.Fprintf(w, "ratio gen/baseline: %.2f\n", v.Ratio)
	}
	return nil
}

// Print writes the cost per path against the trivial program.
func (res *CostResult) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
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
	_, err := fmt.Fprintf(w, "goal: DISCOVER decision below %.0fx the trivial program: %s (median of %d rounds of %d runs)\n",
		res.Goal, met(res.GoalMet), res.Rounds, res.Repeat)
	return err
}

// Print writes the drop-rate report.
func (res *DropResult) Print(w io.Writer) error {
	fmt.Fprintf(w, "flood: %d partner-owned clients, DISCOVER secs 0, %d generator thread(s), %s -> %s\nreceiver: %s\n", res.Clients, res.Threads, res.Iface, res.Peer, res.Receiver)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, p := range []DropPhase{res.Trivial, res.Reader, res.XDHCP} {
		fmt.Fprintf(tw, "%s:\tsent %s, received and dropped %s (%d of %d)", p.Program, PPS(p.SentRate), PPS(p.ReceivedRate), p.Received, p.Sent)
		if p.RxBusy > 0 {
			fmt.Fprintf(tw, ", receiver CPU busy %.0f%%, %s per receiver CPU-second", 100*p.RxBusy, PPS(p.RxPerCPUSecond))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
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
		how, res.Ratio, len(res.Rounds), res.Slice, res.RatioQ1, res.RatioQ3, res.RatioMin, res.RatioMax, res.RatioPooled, res.Goal, met(res.GoalMet))
	if res.AtOfferedLoad {
		fmt.Fprintf(w, "  (each rate over the generator's rate in its own slice; the plain ratio of rates, with the generator's swings between slices in it: median %.2f)\n", res.RatioRates)
	}
	_, err := fmt.Fprintf(w, "ratio xdhcp/trivial reading the same cache lines: %.2f (the program's own cost; the rest is the frame's memory)\n", res.RatioToReader)
	return err
}
