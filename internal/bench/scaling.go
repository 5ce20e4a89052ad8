package bench

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// MaxRxQueues bounds --rx-queues (a veth takes up to 4096; a bench beyond
// the CPUs it has measures the scheduler).
const MaxRxQueues = 256

// ParseQueues reads "N" or a comma-separated list of queue counts.
func ParseQueues(s string) ([]int, error) {
	var qs []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > MaxRxQueues {
			return nil, fmt.Errorf("%q: want queue counts 1..%d, comma-separated", s, MaxRxQueues)
		}
		qs = append(qs, n)
	}
	return qs, nil
}

// QueueScaling is the drop bench run at several receive-queue counts, one
// after the other, each run with its own baselines.
type QueueScaling struct {
	Runs []*DropResult `json:"runs"`
	Rows []ScalingRow  `json:"scaling"`
}

// ScalingRow is one receiver at one queue count: its rate and capacity, and
// both over the same receiver's at the first queue count. The runs are
// minutes apart on a host whose speed moves: the ratios within a run
// (xdhcp over the baselines) are the steadier figures.
type ScalingRow struct {
	Queues       int     `json:"rx_queues"`
	Program      string  `json:"program"`
	ReceivedRate float64 `json:"received_and_dropped_pps"`
	PerCPUSecond float64 `json:"received_per_rx_cpu_second,omitempty"`
	RxBusy       float64 `json:"rx_cpu_busy,omitempty"`
	// RateScaling is ReceivedRate over the first run's; CapacityScaling
	// PerCPUSecond over the first run's (1.0: each queue's CPU does as
	// much as the one queue's did).
	RateScaling     float64 `json:"rate_scaling"`
	CapacityScaling float64 `json:"capacity_scaling,omitempty"`
}

// DropScaling runs Drop at each queue count in turn (with as many
// generator threads, unless o.Threads says otherwise).
func DropScaling(ctx context.Context, o DropOptions, queues []int) (*QueueScaling, error) {
	out := &QueueScaling{}
	for _, q := range queues {
		ro := o
		ro.RxQueues = q
		if o.LabName != "" {
			ro.LabName = fmt.Sprintf("%s-q%d", o.LabName, q)
		}
		if o.Progress != nil {
			o.Progress(fmt.Sprintf("%d receive queue(s)", q))
		}
		res, err := Drop(ctx, ro)
		if err != nil {
			return nil, fmt.Errorf("%d receive queues: %w", q, err)
		}
		out.Runs = append(out.Runs, res)
	}
	first := out.Runs[0]
	for _, res := range out.Runs {
		for i, p := range []DropPhase{res.Trivial, res.Reader, res.XDHCP} {
			base := []DropPhase{first.Trivial, first.Reader, first.XDHCP}[i]
			row := ScalingRow{Queues: res.RxQueues, Program: p.Program, ReceivedRate: p.ReceivedRate,
				PerCPUSecond: p.RxPerCPUSecond, RxBusy: p.RxBusy, RateScaling: p.ReceivedRate / base.ReceivedRate}
			if base.RxPerCPUSecond > 0 {
				row.CapacityScaling = p.RxPerCPUSecond / base.RxPerCPUSecond
			}
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// Print prints each run and the scaling table.
func (s *QueueScaling) Print(w io.Writer) error {
	for _, res := range s.Runs {
		fmt.Fprintf(w, "== %d receive queue(s)\n", res.RxQueues)
		if err := res.Print(w); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "== scaling (each run against the first, %d queue(s); runs minutes apart)\n", s.Runs[0].RxQueues)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUES\tPROGRAM\tRECEIVED\tPER RX CPU-SECOND\tRX CPUS BUSY\tRATE SCALING\tCAPACITY SCALING")
	for _, r := range s.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\n", r.Queues, r.Program, PPS(r.ReceivedRate), PPS(r.PerCPUSecond), r.RxBusy, r.RateScaling, r.CapacityScaling)
	}
	return tw.Flush()
}
