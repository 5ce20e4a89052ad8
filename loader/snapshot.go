package loader

// The counters behind xdhcp stats: one Snapshot of the verdict, interface
// and bucket counters, rates between two, and the table an operator reads.

import (
	"fmt"
	"io"
	"net"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Snapshot is the fast path's counters at one time (xdhcp stats).
type Snapshot struct {
	Time       time.Time          `json:"time"`
	Total      uint64             `json:"total"`
	Dropped    uint64             `json:"dropped"`
	Verdicts   map[string]uint64  `json:"verdicts"`
	Rates      map[string]float64 `json:"rates_per_second,omitempty"`
	Interfaces []IfaceVerdicts    `json:"interfaces"`
	Buckets    []BucketRow        `json:"buckets,omitempty"`
}

// IfaceVerdicts is one receiving interface's verdicts (as the fast path saw them).
type IfaceVerdicts struct {
	Ifindex  int               `json:"ifindex"`
	Name     string            `json:"name"`
	Total    uint64            `json:"total"`
	Dropped  uint64            `json:"dropped"`
	Verdicts map[string]uint64 `json:"verdicts"`
	Rate     float64           `json:"rate_per_second,omitempty"`
}

// BucketRow is one bucket's counters and owner.
type BucketRow struct {
	Bucket uint8       `json:"bucket"`
	Owner  decide.Role `json:"owner"`
	BucketStats
}

// Snapshot reads the counters (per bucket too, with withBuckets).
func (m *Maps) Snapshot(withBuckets bool) (*Snapshot, error) {
	vs, err := m.Verdicts()
	if err != nil {
		return nil, err
	}
	v := &Snapshot{Time: time.Now(), Total: vs.Total(), Dropped: vs.Dropped(), Verdicts: map[string]uint64{}}
	for r, n := range vs {
		v.Verdicts[decide.Reason(r).String()] = n
	}
	per, err := m.InterfaceVerdicts()
	if err != nil {
		return nil, err
	}
	v.Interfaces = []IfaceVerdicts{}
	for idx, iv := range per {
		row := IfaceVerdicts{Ifindex: idx, Name: fmt.Sprintf("ifindex %d", idx), Total: iv.Total(), Dropped: iv.Dropped(), Verdicts: map[string]uint64{}}
		if ifi, err := net.InterfaceByIndex(idx); err == nil {
			row.Name = ifi.Name
		}
		for r, n := range iv {
			if n > 0 {
				row.Verdicts[decide.Reason(r).String()] = n
			}
		}
		v.Interfaces = append(v.Interfaces, row)
	}
	sort.Slice(v.Interfaces, func(i, j int) bool { return v.Interfaces[i].Ifindex < v.Interfaces[j].Ifindex })
	if withBuckets {
		cfg, err := m.Rule()
		if err != nil {
			return nil, err
		}
		bs, err := m.Buckets()
		if err != nil {
			return nil, err
		}
		for b, s := range bs {
			v.Buckets = append(v.Buckets, BucketRow{Bucket: uint8(b), Owner: cfg.HBA.Owner(uint8(b)), BucketStats: s})
		}
	}
	return v, nil
}

// SetRates fills the rates per second since prev.
func (v *Snapshot) SetRates(prev *Snapshot) {
	dt := v.Time.Sub(prev.Time).Seconds()
	v.Rates = map[string]float64{}
	for k, n := range v.Verdicts {
		v.Rates[k] = float64(n-prev.Verdicts[k]) / dt
	}
	for i, r := range v.Interfaces {
		for _, p := range prev.Interfaces {
			if p.Ifindex == r.Ifindex {
				v.Interfaces[i].Rate = float64(r.Total-p.Total) / dt
			}
		}
	}
}

// Print writes the counters as xdhcp stats shows them.
func (v *Snapshot) Print(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "verdict\tpackets\trate/s\taction\t\n")
	for _, r := range decide.Reasons() {
		action := "pass"
		if r.Drops() {
			action = "drop"
		}
		rate := "-"
		if v.Rates != nil {
			rate = fmt.Sprintf("%.0f", v.Rates[r.String()])
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t\n", r, v.Verdicts[r.String()], rate, action)
	}
	fmt.Fprintf(w, "total\t%d\t\t\t\n", v.Total)
	fmt.Fprintf(w, "dropped\t%d\t\t\t\n", v.Dropped)
	if err := w.Flush(); err != nil {
		return err
	}
	if len(v.Interfaces) > 0 {
		w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(w, "\ninterface\tpackets\tdropped\trate/s\t\n")
		for _, r := range v.Interfaces {
			rate := "-"
			if v.Rates != nil {
				rate = fmt.Sprintf("%.0f", r.Rate)
			}
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t\n", r.Name, r.Total, r.Dropped, rate)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if len(v.Buckets) > 0 {
		w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(w, "\nbucket\towner\tseen\tdropped\toverridden\t\n")
		for _, b := range v.Buckets {
			if b.Seen == 0 {
				continue
			}
			fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%d\t\n", b.Bucket, b.Owner, b.Seen, b.Dropped, b.Overridden)
		}
		return w.Flush()
	}
	return nil
}
