package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"

	"github.com/xdhcp/xdhcp/internal/loadgen"
	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// DropGoal is the goal: xdhcp receives and drops a partner flood
// at no less than this fraction of a trivial XDP_DROP program's rate.
const DropGoal = 0.9

// DropOptions configure the drop bench.
type DropOptions struct {
	// Iface is a veth to send out of; its peer, in the same network
	// namespace, receives. Empty: the bench builds a lab namespace LabName.
	Iface   string
	LabName string
	// Phase is how long each receiver's slice lasts (default 200ms);
	// Rounds how many trivial/reading/xdhcp triples of slices run (30).
	Phase   time.Duration
	Rounds  int
	Threads int
	Clients int // distinct partner-owned clients (default 65536)
	// NoRelayStats turns xdhcp's per-relay counters off (they cost an LRU
	// hash update per hash-gated packet).
	NoRelayStats bool
	// SameCPU keeps the veth's default receive path: the receiving program
	// runs in the generator's softirq, on the generator's CPU. Otherwise
	// (the default) the receiving end polls in a threaded-NAPI kernel
	// thread pinned to RxCPU, as the receive side of a NIC runs on a CPU
	// of its own (napi.go).
	SameCPU bool
	// RxCPU is the receiver's CPU (default: the last CPU; it must differ
	// from the generator threads' CPUs 0..Threads-1).
	RxCPU int
	// Progress, when set, is told which phase runs.
	Progress func(string)
}

// DropPhase is one receiver's totals over its phases.
type DropPhase struct {
	Program      string  `json:"program"`
	Sent         uint64  `json:"sent"`
	Received     uint64  `json:"received_and_dropped"`
	Seconds      float64 `json:"seconds"`
	SentRate     float64 `json:"sent_pps"`
	ReceivedRate float64 `json:"received_and_dropped_pps"`
	// RxBusy is the share of the phase the receiving NAPI thread was on
	// its CPU (threaded receiver only): near 1 the receiver is saturated
	// and ReceivedRate is its capacity; well below 1 the generator is the
	// limit.
	RxBusy float64 `json:"rx_cpu_busy,omitempty"`
	// RxPerCPUSecond is Received over the receiver's CPU time: the rate
	// one receiving CPU would sustain if kept busy.
	RxPerCPUSecond float64 `json:"received_per_rx_cpu_second,omitempty"`
	rxSeconds      float64
}

func (p *DropPhase) add(sent, received uint64, d time.Duration, rxSeconds float64) {
	p.Sent += sent
	p.Received += received
	p.Seconds += d.Seconds()
	p.rxSeconds += rxSeconds
	p.SentRate = float64(p.Sent) / p.Seconds
	p.ReceivedRate = float64(p.Received) / p.Seconds
	if p.rxSeconds > 0 {
		p.RxBusy = p.rxSeconds / p.Seconds
		p.RxPerCPUSecond = float64(p.Received) / p.rxSeconds
	}
}

// DropResult compares the two receivers.
type DropResult struct {
	Iface   string `json:"iface"`
	Peer    string `json:"peer"`
	Clients int    `json:"clients"`
	Threads int    `json:"threads"`
	// Receiver says where the receiving program ran: "napi thread on CPU N"
	// or "generator's CPU (softirq)".
	Receiver string `json:"receiver"`
	// Slice is how long each receiver ran in turn.
	Slice   time.Duration `json:"slice_ns"`
	Trivial DropPhase     `json:"trivial"`
	// Reader is the trivial program reading one byte in each cache line
	// xdhcp's verdict reads (a second, informative baseline): what is
	// left between it and xdhcp is the program's own work.
	Reader DropPhase   `json:"trivial_reading"`
	XDHCP  DropPhase   `json:"xdhcp"`
	Config decide.Rule `json:"xdhcp_config"`
	// Rounds are the per-round rates and ratios, each from three slices
	// run one after the other.
	Rounds []DropRound `json:"rounds"`
	// Ratio is the median over rounds of xdhcp's received-and-dropped rate
	// over the trivial program's in the same round, at the same offered
	// load (DropRound.Ratio). The median: this machine's host slows the
	// guest by up to half for seconds at a time, and the rounds it hits
	// should not stand for the program.
	Ratio float64 `json:"ratio"`
	// AtOfferedLoad says whether the ratios compare the rates at the same
	// offered load (the receiver on a CPU of its own) or as they are (the
	// receiver in the generator's softirq, where its cost is the
	// generator's rate).
	AtOfferedLoad bool `json:"at_offered_load"`
	// RatioMin and RatioMax are the spread of the rounds' ratios, RatioQ1
	// and RatioQ3 their quartiles; RatioPooled is the same ratio over all
	// slices pooled.
	RatioMin    float64 `json:"ratio_min"`
	RatioQ1     float64 `json:"ratio_q1"`
	RatioQ3     float64 `json:"ratio_q3"`
	RatioMax    float64 `json:"ratio_max"`
	RatioPooled float64 `json:"ratio_pooled"`
	// RatioToReader is the median over rounds of xdhcp's rate over the
	// reading baseline's, taken as Ratio is.
	RatioToReader float64 `json:"ratio_to_reading"`
	// RatioRates is the median over rounds of the received-and-dropped
	// rates' plain ratio (DropRound.RatioRates).
	RatioRates float64 `json:"ratio_of_rates"`
	Goal       float64 `json:"goal_ratio_at_least"`
	GoalMet    bool    `json:"goal_met"`
}

// DropRound is one round: each receiver's received-and-dropped rate, the
// generator's rate in its slice, and xdhcp's ratios.
type DropRound struct {
	Trivial     float64 `json:"trivial_pps"`
	Reader      float64 `json:"trivial_reading_pps"`
	XDHCP       float64 `json:"xdhcp_pps"`
	TrivialSent float64 `json:"trivial_sent_pps"`
	ReaderSent  float64 `json:"trivial_reading_sent_pps"`
	XDHCPSent   float64 `json:"xdhcp_sent_pps"`
	// Ratio compares xdhcp with the trivial program at the same offered
	// load: each rate over the generator's rate in its own slice. With the
	// receiver on a CPU of its own the generator's rate does not depend on
	// the receiver (on average the same in every receiver's slices), but
	// it swings by 10-20% from one slice to the next on this host, and far
	// more in its slow episodes, which the plain ratio of rates would
	// count against whichever program held the link. With the receiver in
	// the generator's softirq every frame sent is received and the
	// receiver's cost shows as the generator's rate: Ratio is RatioRates.
	Ratio float64 `json:"ratio"`
	// RatioRates is xdhcp's received-and-dropped rate over the trivial
	// program's, as measured.
	RatioRates    float64 `json:"ratio_of_rates"`
	RatioToReader float64 `json:"ratio_to_reading"`
}

// ratios fills the round's ratios; atLoad: compare at the same offered load.
func (r *DropRound) ratios(atLoad bool) {
	r.RatioRates = r.XDHCP / r.Trivial
	r.Ratio, r.RatioToReader = r.RatioRates, r.XDHCP/r.Reader
	if atLoad {
		r.Ratio = (r.XDHCP / r.XDHCPSent) / (r.Trivial / r.TrivialSent)
		r.RatioToReader = (r.XDHCP / r.XDHCPSent) / (r.Reader / r.ReaderSent)
	}
}

// touchedBytes are one byte in each cache line xdhcp's verdict reads for
// the flood's DISCOVERs (Ethernet + IPv4 + UDP = 42 bytes, then BOOTP):
// secs (line 0), chaddr (line 1), the first option after the cookie
// (line 4; the message type, then END). The generator writes lines 0 and
// 1 of every frame just before the receiver reads them.
var touchedBytes = []int16{42 + 8, 42 + 28, 42 + 240}

// dropTarget is where the generator sends and the receivers attach.
type dropTarget struct {
	out, in string
	inIndex int
	enter   func() error
	do      func(func() error) error
}

func (o *DropOptions) target() (*dropTarget, func(), error) {
	if o.Iface == "" {
		l, err := NewLab(o.LabName)
		if err != nil {
			return nil, nil, err
		}
		return &dropTarget{out: l.Out, in: l.In, inIndex: l.InIndex, enter: l.Enter, do: l.Do}, func() { l.Close() }, nil
	}
	lk, err := netlink.LinkByName(o.Iface)
	if err != nil {
		return nil, nil, fmt.Errorf("drop bench: interface %s: %w", o.Iface, err)
	}
	veth, ok := lk.(*netlink.Veth)
	if !ok {
		return nil, nil, fmt.Errorf("drop bench: %s is a %s, want a veth whose peer is in this network namespace", o.Iface, lk.Type())
	}
	peerIdx, err := netlink.VethPeerIndex(veth)
	if err != nil {
		return nil, nil, fmt.Errorf("drop bench: peer of %s: %w", o.Iface, err)
	}
	peer, err := netlink.LinkByIndex(peerIdx)
	if err != nil || peer.Attrs().Name == "" {
		return nil, nil, fmt.Errorf("drop bench: the peer of %s (index %d) is not in this network namespace; run the bench where both ends are, or without --iface", o.Iface, peerIdx)
	}
	if x := peer.Attrs().Xdp; x != nil && x.Attached {
		return nil, nil, fmt.Errorf("drop bench: %s already has an XDP program (id %d); the bench attaches its own", peer.Attrs().Name, x.ProgId)
	}
	direct := func(f func() error) error { return f() }
	return &dropTarget{out: o.Iface, in: peer.Attrs().Name, inIndex: peerIdx, do: direct}, func() {}, nil
}

// Drop floods partner-owned DISCOVERs (secs 0, a primary at 50:50 whose
// partner owns every generated client) into the receiving end, which runs a
// trivial counting XDP_DROP program, the same reading xdhcp's cache lines,
// and xdhcp's program in turn, and compares the rates at which each
// received and dropped them.
//
// One generator run feeds all of it; the receivers take turns on one XDP
// link (an atomic program swap, no gap), a Phase-long slice each, Rounds
// times. Slices a fraction of a second apart see the same host: this VM's
// host slows the guest for seconds at a time, and measurements a few
// seconds apart compared the weather more than the programs.
func Drop(ctx context.Context, o DropOptions) (*DropResult, error) {
	if o.Phase <= 0 {
		o.Phase = DefaultDropSlice
	}
	if o.Rounds <= 0 {
		o.Rounds = DefaultDropRounds
	}
	if o.Threads <= 0 {
		o.Threads = 1
	}
	if o.Clients <= 0 {
		o.Clients = 1 << 16
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, err
	}
	if !o.SameCPU {
		if o.RxCPU <= 0 {
			o.RxCPU = ncpu - 1
		}
		if o.RxCPU < o.Threads || o.RxCPU >= ncpu {
			return nil, fmt.Errorf("drop bench: the receiver needs a CPU of its own: %d generator thread(s) use CPUs 0-%d, receiver CPU %d, %d CPUs (use fewer --threads, or --same-cpu)", o.Threads, o.Threads-1, o.RxCPU, ncpu)
		}
	}
	cfg := CostConfig()
	cfg.RelayStats = !o.NoRelayStats
	clients, err := loadgen.Clients(o.Clients, 1, cfg.HBA, cfg.Role)
	if err != nil {
		return nil, err
	}
	tgt, cleanup, err := o.target()
	if err != nil {
		return nil, err
	}
	defer cleanup()

	trivial, err := NewCounter(xdpDrop)
	if err != nil {
		return nil, err
	}
	defer trivial.Close()
	reader, err := NewCounter(xdpDrop, touchedBytes...)
	if err != nil {
		return nil, err
	}
	defer reader.Close()
	prog, err := loader.Load(loader.LoadOptions{})
	if err != nil {
		return nil, err
	}
	defer prog.Close()
	if err := prog.SetRule(cfg); err != nil {
		return nil, err
	}

	res := &DropResult{Iface: tgt.out, Peer: tgt.in, Clients: o.Clients, Threads: o.Threads, Config: cfg, Goal: DropGoal,
		Slice: o.Phase, Receiver: "generator's CPU (veth softirq)",
		Trivial: DropPhase{Program: "trivial XDP_DROP (counts)"}, Reader: DropPhase{Program: "trivial, reading xdhcp's lines"},
		XDHCP: DropPhase{Program: "xdhcp (partner-dropped)"}}
	xdhcpDropped := func() (uint64, error) {
		v, err := prog.Verdicts()
		if err != nil {
			return 0, err
		}
		if other := v.Total() - v[decide.ReasonPartnerDropped]; other != 0 {
			return 0, fmt.Errorf("drop bench: xdhcp counted %d packets that were not partner-dropped (%v): the flood is not what the bench meant", other, v)
		}
		return v[decide.ReasonPartnerDropped], nil
	}
	receivers := []receiver{
		{trivial.Prog, trivial.Count, &res.Trivial},
		{reader.Prog, reader.Count, &res.Reader},
		{prog.XDP(), xdhcpDropped, &res.XDHCP},
	}

	lk, err := attachNative(tgt.do, trivial.Prog, tgt.inIndex, tgt.in)
	if err != nil {
		return nil, err
	}
	defer lk.Close()
	var rx []int // the receiving NAPI threads
	if !o.SameCPU {
		// threaded needs the NAPI instance the attach made; the
		// kernel thread it starts lives as long as the link.
		prev, err := sysfsThreaded(tgt.do, tgt.in, "1")
		if err != nil {
			return nil, err
		}
		if prev != "1" {
			defer sysfsThreaded(tgt.do, tgt.in, prev)
		}
		if rx, err = pinNAPI(tgt.in, o.RxCPU); err != nil {
			return nil, err
		}
		res.Receiver = fmt.Sprintf("threaded NAPI, kernel thread pinned to CPU %d; generator on CPU 0-%d", o.RxCPU, o.Threads-1)
	}

	f, err := startFlood(ctx, loadgen.Options{Iface: tgt.out, Clients: clients, Types: []loadgen.Type{loadgen.Discover},
		ServerID: benchServerID(), Threads: o.Threads, Enter: tgt.enter})
	if err != nil {
		return nil, err
	}
	defer f.stop()
	s := slicer{link: lk, flood: f, rx: rx, length: o.Phase}
	// A first slice, not counted, gets the generator and receiver going.
	if _, _, err := s.measure(ctx, receivers[0], nil); err != nil {
		return nil, err
	}
	if o.Progress != nil {
		o.Progress(fmt.Sprintf("%d rounds of %v slices: %s", o.Rounds, o.Phase, "trivial, reading, xdhcp"))
	}
	res.AtOfferedLoad = !o.SameCPU
	var ratios, toReader, plain []float64
	for r := 0; r < o.Rounds; r++ {
		var rates, sent [3]float64
		for i, rc := range receivers {
			if rates[i], sent[i], err = s.measure(ctx, rc, rc.into); err != nil {
				return nil, err
			}
		}
		rd := DropRound{Trivial: rates[0], Reader: rates[1], XDHCP: rates[2],
			TrivialSent: sent[0], ReaderSent: sent[1], XDHCPSent: sent[2]}
		if rd.Trivial == 0 || rd.Reader == 0 || slices.Contains(sent[:], 0) {
			return nil, fmt.Errorf("drop bench: round %d: a receiver's slice saw no packets (%+v)", r+1, rd)
		}
		rd.ratios(res.AtOfferedLoad)
		ratios, toReader = append(ratios, rd.Ratio), append(toReader, rd.RatioToReader)
		plain = append(plain, rd.RatioRates)
		res.Rounds = append(res.Rounds, rd)
	}
	if err := f.stop(); err != nil {
		return nil, err
	}
	res.Ratio, res.RatioToReader, res.RatioRates = median(ratios), median(toReader), median(plain)
	res.RatioMin, res.RatioMax = slices.Min(ratios), slices.Max(ratios)
	res.RatioQ1, res.RatioQ3 = quantile(ratios, 0.25), quantile(ratios, 0.75)
	pooled := DropRound{Trivial: res.Trivial.ReceivedRate, Reader: res.Reader.ReceivedRate, XDHCP: res.XDHCP.ReceivedRate,
		TrivialSent: res.Trivial.SentRate, ReaderSent: res.Reader.SentRate, XDHCPSent: res.XDHCP.SentRate}
	pooled.ratios(res.AtOfferedLoad)
	res.RatioPooled = pooled.Ratio
	res.GoalMet = res.Ratio >= DropGoal
	return res, nil
}

// Defaults of the drop bench: 30 rounds of three 200 ms slices, 18 s.
const (
	DefaultDropSlice  = 200 * time.Millisecond
	DefaultDropRounds = 30
)

// receiver is one program the flood's receiving end takes turns running.
type receiver struct {
	prog  *ebpf.Program
	count func() (uint64, error)
	into  *DropPhase
}

// flood is a generator run in the background, until stopped.
type flood struct {
	sent   func() (uint64, error)
	cancel context.CancelFunc
	done   chan error
	err    error
	over   bool
}

// startFlood starts the generator with o (no Duration or Count: it runs
// until stop) and returns once its sent counter can be read, as its
// threads start (the caller's first, uncounted slice covers the start).
func startFlood(ctx context.Context, o loadgen.Options) (*flood, error) {
	ctx, cancel := context.WithCancel(ctx)
	f := &flood{cancel: cancel, done: make(chan error, 1)}
	live := make(chan func() (uint64, error), 1)
	o.Live = func(sent func() (uint64, error)) { live <- sent }
	go func() {
		_, err := loadgen.Run(ctx, o)
		f.done <- err
	}()
	select {
	case f.sent = <-live:
	case err := <-f.done:
		f.over = true
		cancel()
		if err == nil {
			err = errors.New("generator stopped before it sent")
		}
		return nil, fmt.Errorf("drop bench: %w", err)
	}
	return f, nil
}

// stop ends the run and returns the generator's error, if any (once).
func (f *flood) stop() error {
	if f.over {
		return f.err
	}
	f.over = true
	f.cancel()
	f.err = <-f.done
	if f.err != nil {
		f.err = fmt.Errorf("drop bench: generator: %w", f.err)
	}
	return f.err
}

// slicer runs receivers on link for a slice each while the flood goes on.
type slicer struct {
	link   link.Link
	flood  *flood
	rx     []int
	length time.Duration
}

// measure swaps rc's program in, counts what it received over one slice
// and adds the slice to into (when not nil); it returns the slice's rate.
func (s *slicer) measure(ctx context.Context, rc receiver, into *DropPhase) (received, sent float64, err error) {
	if err := s.link.Update(rc.prog); err != nil {
		return 0, 0, fmt.Errorf("drop bench: swap in %s: %w", rc.into.Program, err)
	}
	type sample struct {
		count, sent, rx uint64
		at              time.Time
	}
	take := func() (sample, error) {
		c, err := rc.count()
		if err != nil {
			return sample{}, err
		}
		n, err := s.flood.sent()
		if err != nil {
			return sample{}, err
		}
		return sample{count: c, sent: n, rx: cpuNanos(s.rx), at: time.Now()}, nil
	}
	a, err := take()
	if err != nil {
		return 0, 0, err
	}
	t := time.NewTimer(s.length)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case err := <-s.flood.done:
		s.flood.over, s.flood.err = true, err
		return 0, 0, fmt.Errorf("drop bench: the generator stopped mid-run: %v", err)
	}
	b, err := take()
	if err != nil {
		return 0, 0, err
	}
	d := b.at.Sub(a.at)
	if into != nil {
		into.add(b.sent-a.sent, b.count-a.count, d, float64(b.rx-a.rx)/1e9)
	}
	return float64(b.count-a.count) / d.Seconds(), float64(b.sent-a.sent) / d.Seconds(), nil
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
