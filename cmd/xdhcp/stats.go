package main

import (
	"fmt"
	"net"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

type statsView struct {
	Time       time.Time          `json:"time"`
	Total      uint64             `json:"total"`
	Dropped    uint64             `json:"dropped"`
	Verdicts   map[string]uint64  `json:"verdicts"`
	Rates      map[string]float64 `json:"rates_per_second,omitempty"`
	Interfaces []ifaceRow         `json:"interfaces"`
	Buckets    []bucketRow        `json:"buckets,omitempty"`
}

// ifaceRow is one receiving interface's verdicts (as the fast path saw them).
type ifaceRow struct {
	Ifindex  int               `json:"ifindex"`
	Name     string            `json:"name"`
	Total    uint64            `json:"total"`
	Dropped  uint64            `json:"dropped"`
	Verdicts map[string]uint64 `json:"verdicts"`
	Rate     float64           `json:"rate_per_second,omitempty"`
}

type bucketRow struct {
	Bucket uint8       `json:"bucket"`
	Owner  decide.Role `json:"owner"`
	loader.BucketStats
}

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:     "stats",
		Category: catFastPath,
		Description: `Prints the fast path's verdict counters: one per reason (owned,
partner-dropped, secs-override, renew-rebind, not-dhcp, ...), summed over CPUs,
with the action each reason takes, in total and per receiving interface.
--watch prints again every --interval with rates per second; --buckets adds
per-bucket load (seen, dropped, overridden) and owner, so a lopsided split
or a hot bucket is visible.`,
		Usage: "print the fast path's verdict counters",
		Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag,
			&cli.BoolFlag{Name: "watch", Usage: "print again every --interval with rates"},
			&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "refresh interval for --watch"},
			&cli.BoolFlag{Name: "buckets", Usage: "also show per-bucket load and owner"},
		},
		Action: func(c *cli.Context) error {
			m, err := openMaps(c)
			if err != nil {
				return err
			}
			defer m.Close()
			var prev *statsView
			for {
				v, err := readStats(m, c.Bool("buckets"))
				if err != nil {
					return err
				}
				if prev != nil {
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
				if err := printStats(c, v); err != nil {
					return err
				}
				if !c.Bool("watch") {
					return nil
				}
				prev = v
				select {
				case <-c.Context.Done():
					return nil
				case <-time.After(c.Duration("interval")):
				}
			}
		},
	}
}

func readStats(m *loader.Maps, withBuckets bool) (*statsView, error) {
	vs, err := m.Verdicts()
	if err != nil {
		return nil, err
	}
	v := &statsView{Time: time.Now(), Total: vs.Total(), Dropped: vs.Dropped(), Verdicts: map[string]uint64{}}
	for r, n := range vs {
		v.Verdicts[decide.Reason(r).String()] = n
	}
	per, err := m.InterfaceVerdicts()
	if err != nil {
		return nil, err
	}
	v.Interfaces = []ifaceRow{}
	for idx, iv := range per {
		row := ifaceRow{Ifindex: idx, Name: fmt.Sprintf("ifindex %d", idx), Total: iv.Total(), Dropped: iv.Dropped(), Verdicts: map[string]uint64{}}
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
			v.Buckets = append(v.Buckets, bucketRow{Bucket: uint8(b), Owner: cfg.HBA.Owner(uint8(b)), BucketStats: s})
		}
	}
	return v, nil
}

func printStats(c *cli.Context, v *statsView) error {
	if c.Bool("json") {
		return writeJSON(c.App.Writer, v)
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', tabwriter.AlignRight)
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
		w = tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', tabwriter.AlignRight)
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
		w = tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', tabwriter.AlignRight)
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
