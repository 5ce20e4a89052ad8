package bench

// What the bench commands print: each result as an operator reads it,
// with the baseline and the ratio to it.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
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

// Print writes the cost bench's table: every figure in fractional
// nanoseconds, every ratio named by its baseline.
func (res *CostResult) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tPATH\tREASON\tACTION\tBPF INSNS\tNS/PACKET\tKERNEL NS\tRATIO TO TRIVIAL (ROUNDS' SPREAD)")
	fmt.Fprintf(tw, "trivial\tXDP_PASS (baseline)\t-\tpass\t2\t%.1f\t%.0f\t1.00\n", res.TrivialNs, res.TrivialKernelNs)
	for _, p := range res.Paths {
		action := "pass"
		if p.Drop {
			action = "drop"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.1f\t%.0f\t%.2f (%.2f-%.2f)", p.Program, p.Path, p.Reason, action,
			p.Insns, p.NsPerPacket, p.KernelNs, p.RatioToTrivial, p.RatioToTrivialMin, p.RatioToTrivialMax)
		if p.RatioToXDHCP > 0 {
			fmt.Fprintf(tw, "  ratio_to_xdhcp %.3f", p.RatioToXDHCP)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "goal: every DISCOVER path of xdhcp at most %.0fx the trivial program: %s (medians of %d rounds of %d test runs, order rotated each round; ns/packet is the thread's CPU time, the kernel's own figure is whole ns)\n",
		res.Goal, met(res.GoalMet), res.Rounds, res.Repeat)
	return err
}

// Print writes the drop bench's figures, the headline first.
func (res *DropResult) Print(w io.Writer) error {
	fmt.Fprintf(w, "flood: %d partner-owned clients, DISCOVER secs 0, %d generator thread(s) on CPU(s) %v, %s -> %s, %d receive queue(s)\nreceiver: %s\n",
		res.Clients, res.Threads, res.GeneratorCPUs, res.Iface, res.Peer, res.RxQueues, res.Receiver)
	if res.SharedCPUs {
		fmt.Fprintln(w, "  (receivers share CPUs with generators: compare per receiving CPU-second, not rates)")
	}
	phases := append([]DropPhase{res.Trivial, res.Reader, res.XDHCP}, res.Candidates...)
	for _, p := range phases {
		fmt.Fprintf(w, "%-32s sent %s, received and dropped %s (%d of %d)", p.Program+":", PPS(p.SentRate), PPS(p.ReceivedRate), p.Received, p.Sent)
		if p.RxBusy > 0 {
			fmt.Fprintf(w, ", receiver CPU busy %.0f%%, %s per receiving CPU-second", 100*p.RxBusy, PPS(p.RxPerCPUSecond))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "rounds, xdhcp/%s %s:", res.RatioBaseline, res.Metric)
	for _, r := range res.Rounds {
		fmt.Fprintf(w, " %.2f", r.Ratio)
	}
	fmt.Fprintln(w)
	sp := func(s Spread) string {
		return fmt.Sprintf("%.3f (quartiles %.2f-%.2f, spread %.2f-%.2f, pooled %.3f)", s.Median, s.Q1, s.Q3, s.Min, s.Max, s.Pooled)
	}
	n := len(res.Rounds)
	head, other, otherName := res.RatioToReadingSpread, res.RatioToTrivialSpread, recvTrivial
	if res.RatioBaseline == recvTrivial {
		head, other, otherName = res.RatioToTrivialSpread, res.RatioToReadingSpread, recvReader
	}
	skipped := ""
	if res.RoundsSkipped > 0 {
		skipped = fmt.Sprintf(", %d more skipped: a slice got no CPU", res.RoundsSkipped)
	}
	fmt.Fprintf(w, "ratio_to_%s, %s: %s, median of %d rounds of %v slices%s (goal >= %.1f: %s)\n",
		baselineName(res.RatioBaseline), res.Metric, sp(head), n, res.Slice, skipped, res.Goal, met(res.GoalMet))
	fmt.Fprintf(w, "ratio_to_%s, %s: %s\n", baselineName(otherName), res.Metric, sp(other))
	if res.RatioToTrivialAtLoad != nil {
		fmt.Fprintf(w, "at the same offered load (each rate over the generator's in its own slice): ratio_to_trivial %s; ratio_to_reading %s\n",
			sp(*res.RatioToTrivialAtLoad), sp(*res.RatioToReadingAtLoad))
	}
	fmt.Fprintf(w, "plain ratio of rates, xdhcp/trivial (the generator's swings between slices in it): median %.3f\n", res.RatioRates)
	names := make([]string, 0, len(res.CandidateToXDHCP))
	for c := range res.CandidateToXDHCP {
		names = append(names, c)
	}
	slices.Sort(names)
	for _, c := range names {
		fmt.Fprintf(w, "candidate %s / xdhcp, %s: %s; candidate / %s: %s\n", c, res.Metric, sp(res.CandidateToXDHCP[c]),
			res.RatioBaseline, sp(res.CandidateRatio[c]))
	}
	return nil
}

// baselineName is the baseline as the JSON ratio fields name it.
func baselineName(receiver string) string {
	return strings.TrimPrefix(receiver, "trivial_")
}
