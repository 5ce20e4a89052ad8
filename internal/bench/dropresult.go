package bench

import (
	"slices"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// DropPhase is one receiver's totals over its slices.
type DropPhase struct {
	Program      string  `json:"program"`
	Sent         uint64  `json:"sent"`
	Received     uint64  `json:"received_and_dropped"`
	Seconds      float64 `json:"seconds"`
	SentRate     float64 `json:"sent_pps"`
	ReceivedRate float64 `json:"received_and_dropped_pps"`
	// RxBusy is the share of the slices the receiving NAPI threads were on
	// a CPU (summed over queues; threaded receiver only): near the number
	// of queues the receiver is saturated and ReceivedRate is its capacity;
	// well below, the generator is the limit.
	RxBusy float64 `json:"rx_cpu_busy,omitempty"`
	// RxPerCPUSecond is Received over the receivers' CPU time: the rate
	// one receiving CPU sustains when kept busy.
	RxPerCPUSecond float64 `json:"received_per_rx_cpu_second,omitempty"`
	rxSeconds      float64
}

func (p *DropPhase) add(s DropSlice) {
	p.Sent += s.Sent
	p.Received += s.Received
	p.Seconds += s.Seconds
	p.rxSeconds += s.RxSeconds
	p.SentRate = float64(p.Sent) / p.Seconds
	p.ReceivedRate = float64(p.Received) / p.Seconds
	if p.rxSeconds > 0 {
		p.RxBusy = p.rxSeconds / p.Seconds
		p.RxPerCPUSecond = float64(p.Received) / p.rxSeconds
	}
}

func (p *DropPhase) slice() DropSlice {
	return DropSlice{Sent: p.Sent, Received: p.Received, Seconds: p.Seconds, RxSeconds: p.rxSeconds}
}

// Spread is a ratio's distribution over the rounds of one run.
type Spread struct {
	Median float64 `json:"median"`
	Q1     float64 `json:"q1"`
	Q3     float64 `json:"q3"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Pooled is the same ratio over all slices of the run pooled.
	Pooled float64 `json:"pooled"`
}

func spreadOf(xs []float64, pooled float64) Spread {
	return Spread{Median: median(xs), Q1: quantile(xs, 0.25), Q3: quantile(xs, 0.75),
		Min: slices.Min(xs), Max: slices.Max(xs), Pooled: pooled}
}

// DropRound is one round: each receiver's slice, in the order they ran,
// and xdhcp's ratios. The rates keep their flat names for scripts.
type DropRound struct {
	Order       []string `json:"order"`
	Trivial     float64  `json:"trivial_pps"`
	Reader      float64  `json:"trivial_reading_pps"`
	XDHCP       float64  `json:"xdhcp_pps"`
	TrivialSent float64  `json:"trivial_sent_pps"`
	ReaderSent  float64  `json:"trivial_reading_sent_pps"`
	XDHCPSent   float64  `json:"xdhcp_sent_pps"`
	// Per receiving CPU-second (receivers on CPUs of their own).
	TrivialPerCPU float64 `json:"trivial_per_rx_cpu_second,omitempty"`
	ReaderPerCPU  float64 `json:"trivial_reading_per_rx_cpu_second,omitempty"`
	XDHCPPerCPU   float64 `json:"xdhcp_per_rx_cpu_second,omitempty"`
	// RatioToReading and RatioToTrivial compare xdhcp with each baseline
	// by the run's metric (DropResult.Metric); Ratio is the one the goal
	// reads (DropResult.RatioBaseline).
	Ratio          float64 `json:"ratio"`
	RatioToReading float64 `json:"ratio_to_reading"`
	RatioToTrivial float64 `json:"ratio_to_trivial"`
	// At the same offered load: each rate over the generator's rate in its
	// own slice (receivers on CPUs of their own only).
	RatioToTrivialAtLoad float64 `json:"ratio_to_trivial_at_offered_load,omitempty"`
	RatioToReadingAtLoad float64 `json:"ratio_to_reading_at_offered_load,omitempty"`
	// RatioRates is xdhcp's received-and-dropped rate over the trivial
	// program's, as measured.
	RatioRates float64 `json:"ratio_of_rates"`
	// Candidates: each candidate's ratio to xdhcp, and to the goal's
	// baseline, by the run's metric.
	Candidates       map[string]float64 `json:"candidate_to_xdhcp,omitempty"`
	CandidatesToGoal map[string]float64 `json:"candidate_ratio,omitempty"`
	slices           map[string]DropSlice
}

// Names of the receivers.
const (
	recvTrivial = "trivial"
	recvReader  = "trivial_reading"
	recvXDHCP   = "xdhcp"
)

// metric is the figure a run compares: per receiving CPU-second when the
// receivers have CPUs of their own, else the received rate.
func metric(perCPU bool) func(DropSlice) float64 {
	if perCPU {
		return DropSlice.PerCPUSecond
	}
	return DropSlice.Rate
}

// newRound fills a round from its slices.
func newRound(order []string, sl map[string]DropSlice, perCPU bool, candidates []string) DropRound {
	t, r, x := sl[recvTrivial], sl[recvReader], sl[recvXDHCP]
	m := metric(perCPU)
	rd := DropRound{Order: order, Trivial: t.Rate(), Reader: r.Rate(), XDHCP: x.Rate(),
		TrivialSent: t.SentRate(), ReaderSent: r.SentRate(), XDHCPSent: x.SentRate(),
		RatioToReading: m(x) / m(r), RatioToTrivial: m(x) / m(t), RatioRates: x.Rate() / t.Rate(), slices: sl}
	rd.Ratio = rd.RatioToTrivial
	if perCPU {
		rd.TrivialPerCPU, rd.ReaderPerCPU, rd.XDHCPPerCPU = t.PerCPUSecond(), r.PerCPUSecond(), x.PerCPUSecond()
		rd.Ratio = rd.RatioToReading
		rd.RatioToTrivialAtLoad = x.Share() / t.Share()
		rd.RatioToReadingAtLoad = x.Share() / r.Share()
	}
	base := t
	if perCPU {
		base = r
	}
	for _, c := range candidates {
		if rd.Candidates == nil {
			rd.Candidates, rd.CandidatesToGoal = map[string]float64{}, map[string]float64{}
		}
		rd.Candidates[c] = m(sl[c]) / m(x)
		rd.CandidatesToGoal[c] = m(sl[c]) / m(base)
	}
	return rd
}

// DropResult compares the receivers.
type DropResult struct {
	Iface   string `json:"iface"`
	Peer    string `json:"peer"`
	Clients int    `json:"clients"`
	Threads int    `json:"threads"`
	// RxQueues is the receiving veth's queue count; RxCPUs the CPUs of its
	// NAPI threads, queue by queue, GeneratorCPUs those of the generator
	// threads. SharedCPUs: some receiver shares a CPU with a generator.
	RxQueues      int   `json:"rx_queues"`
	RxCPUs        []int `json:"rx_cpus,omitempty"`
	GeneratorCPUs []int `json:"generator_cpus"`
	SharedCPUs    bool  `json:"shared_cpus"`
	// Receiver says where the receiving program ran.
	Receiver string `json:"receiver"`
	// Slice is how long each receiver ran in turn.
	Slice   time.Duration `json:"slice_ns"`
	Trivial DropPhase     `json:"trivial"`
	// Reader is the trivial program reading one byte in each cache line
	// xdhcp's verdict reads: what is left between it and xdhcp is the
	// program's own work.
	Reader     DropPhase   `json:"trivial_reading"`
	XDHCP      DropPhase   `json:"xdhcp"`
	Candidates []DropPhase `json:"candidates,omitempty"`
	Config     decide.Rule `json:"xdhcp_config"`
	Rounds     []DropRound `json:"rounds"`
	// RoundsSkipped had a slice in which the generator or the receiver
	// got no CPU (a loaded host): they compare nothing and are left out.
	RoundsSkipped int `json:"rounds_skipped"`
	// Metric is what the ratios compare: "received per receiving
	// CPU-second" (receivers on CPUs of their own: the capacity a user
	// gets from a receiving CPU) or "received per second" (receiver in the
	// generator's softirq: its cost comes out of the generator's rate).
	Metric string `json:"metric"`
	// Ratio is the goal's figure, the median over rounds of xdhcp over
	// RatioBaseline by Metric ("trivial_reading" per CPU-second, or
	// "trivial"); RatioQ1..RatioPooled its spread. The median: this host
	// slows the guest for seconds at a time, and the rounds it hits should
	// not stand for the program.
	Ratio         float64 `json:"ratio"`
	RatioBaseline string  `json:"ratio_baseline"`
	RatioMin      float64 `json:"ratio_min"`
	RatioQ1       float64 `json:"ratio_q1"`
	RatioQ3       float64 `json:"ratio_q3"`
	RatioMax      float64 `json:"ratio_max"`
	RatioPooled   float64 `json:"ratio_pooled"`
	// RatioToReading and RatioToTrivial: xdhcp over each baseline by Metric
	// (medians over rounds), with their spreads.
	RatioToReading       float64 `json:"ratio_to_reading"`
	RatioToReadingSpread Spread  `json:"ratio_to_reading_spread"`
	RatioToTrivial       float64 `json:"ratio_to_trivial"`
	RatioToTrivialSpread Spread  `json:"ratio_to_trivial_spread"`
	// AtOfferedLoad: the receivers had CPUs of their own, and the ratios at
	// the same offered load (each rate over the generator's rate in its own
	// slice: a secondary figure) are given.
	AtOfferedLoad        bool    `json:"at_offered_load"`
	RatioToTrivialAtLoad *Spread `json:"ratio_to_trivial_at_offered_load,omitempty"`
	RatioToReadingAtLoad *Spread `json:"ratio_to_reading_at_offered_load,omitempty"`
	// RatioRates is the median over rounds of the plain ratio of rates,
	// xdhcp over trivial.
	RatioRates float64 `json:"ratio_of_rates"`
	// CandidateToXDHCP: each candidate over xdhcp by Metric (A/B);
	// CandidateRatio: each candidate's Ratio (over RatioBaseline).
	CandidateToXDHCP map[string]Spread `json:"candidate_to_xdhcp,omitempty"`
	CandidateRatio   map[string]Spread `json:"candidate_ratio,omitempty"`
	// XDHCPJIT says where xdhcp's program was JITed in this run (for
	// bench jit: perf samples to source lines).
	XDHCPJIT *JITInfo `json:"xdhcp_jit,omitempty"`
	Goal     float64  `json:"goal_ratio_at_least"`
	GoalMet  bool     `json:"goal_met"`
}

// summarize fills the run's figures from its rounds and phases.
func (res *DropResult) summarize(perCPU bool) {
	res.AtOfferedLoad = perCPU
	res.Metric, res.RatioBaseline = "received per second", recvTrivial
	if perCPU {
		res.Metric, res.RatioBaseline = "received per receiving CPU-second", recvReader
	}
	col := func(f func(DropRound) float64) []float64 {
		xs := make([]float64, len(res.Rounds))
		for i, r := range res.Rounds {
			xs[i] = f(r)
		}
		return xs
	}
	pooled := map[string]DropSlice{recvTrivial: res.Trivial.slice(), recvReader: res.Reader.slice(), recvXDHCP: res.XDHCP.slice()}
	var names []string
	for _, c := range res.Candidates {
		pooled[c.Program] = c.slice()
		names = append(names, c.Program)
	}
	all := newRound(nil, pooled, perCPU, names)
	res.RatioToReadingSpread = spreadOf(col(func(r DropRound) float64 { return r.RatioToReading }), all.RatioToReading)
	res.RatioToTrivialSpread = spreadOf(col(func(r DropRound) float64 { return r.RatioToTrivial }), all.RatioToTrivial)
	res.RatioToReading, res.RatioToTrivial = res.RatioToReadingSpread.Median, res.RatioToTrivialSpread.Median
	res.RatioRates = median(col(func(r DropRound) float64 { return r.RatioRates }))
	head := res.RatioToTrivialSpread
	if perCPU {
		head = res.RatioToReadingSpread
		t := spreadOf(col(func(r DropRound) float64 { return r.RatioToTrivialAtLoad }), all.RatioToTrivialAtLoad)
		r := spreadOf(col(func(r DropRound) float64 { return r.RatioToReadingAtLoad }), all.RatioToReadingAtLoad)
		res.RatioToTrivialAtLoad, res.RatioToReadingAtLoad = &t, &r
	}
	res.Ratio, res.RatioMin, res.RatioQ1, res.RatioQ3, res.RatioMax, res.RatioPooled =
		head.Median, head.Min, head.Q1, head.Q3, head.Max, head.Pooled
	for _, c := range names {
		if res.CandidateToXDHCP == nil {
			res.CandidateToXDHCP, res.CandidateRatio = map[string]Spread{}, map[string]Spread{}
		}
		res.CandidateToXDHCP[c] = spreadOf(col(func(r DropRound) float64 { return r.Candidates[c] }), all.Candidates[c])
		res.CandidateRatio[c] = spreadOf(col(func(r DropRound) float64 { return r.CandidatesToGoal[c] }), all.CandidatesToGoal[c])
	}
	res.Goal = DropGoal
	res.GoalMet = res.Ratio >= DropGoal
}

// quantile is the q-quantile of xs, interpolated between the nearest ranks.
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}
