package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/gen"
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
	// Phase is how long each measurement lasts (default 1s); Rounds how many
	// trivial/reading/xdhcp triples run, alternating (default 6).
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
	Receiver string    `json:"receiver"`
	Trivial  DropPhase `json:"trivial"`
	// Reader is the trivial program reading one byte in each cache line
	// xdhcp's verdict reads (a second, informative baseline): what is
	// left between it and xdhcp is the program's own work.
	Reader DropPhase     `json:"trivial_reading"`
	XDHCP  DropPhase     `json:"xdhcp"`
	Config decide.Config `json:"xdhcp_config"`
	// Rounds are the per-round rates and ratios, each from phases run one
	// after the other.
	Rounds []DropRound `json:"rounds"`
	// Ratio is the median over rounds of xdhcp's received-and-dropped rate
	// over the trivial program's in the same round: this machine's host
	// slows the guest by up to half for seconds at a time, and the median
	// keeps a round it hits from standing for the program.
	Ratio float64 `json:"ratio"`
	// RatioMin and RatioMax are the spread of the rounds' ratios;
	// RatioPooled is xdhcp's rate over the trivial one's over all phases.
	RatioMin    float64 `json:"ratio_min"`
	RatioMax    float64 `json:"ratio_max"`
	RatioPooled float64 `json:"ratio_pooled"`
	// RatioToReader is the median over rounds of xdhcp's rate over the
	// reading baseline's.
	RatioToReader float64 `json:"ratio_to_reading"`
	Goal          float64 `json:"goal_ratio_at_least"`
	GoalMet       bool    `json:"goal_met"`
}

// DropRound is one round: each receiver's rate and xdhcp's ratios.
type DropRound struct {
	Trivial       float64 `json:"trivial_pps"`
	Reader        float64 `json:"trivial_reading_pps"`
	XDHCP         float64 `json:"xdhcp_pps"`
	Ratio         float64 `json:"ratio"`
	RatioToReader float64 `json:"ratio_to_reading"`
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
// trivial counting XDP_DROP program and xdhcp's program in turn, and
// compares the rates at which each received and dropped them.
func Drop(ctx context.Context, o DropOptions) (*DropResult, error) {
	if o.Phase <= 0 {
		o.Phase = time.Second
	}
	if o.Rounds <= 0 {
		o.Rounds = 6
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
	clients, err := gen.Clients(o.Clients, 1, cfg.HBA, cfg.Role)
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
	if err := prog.SetConfig(cfg); err != nil {
		return nil, err
	}

	res := &DropResult{Iface: tgt.out, Peer: tgt.in, Clients: o.Clients, Threads: o.Threads, Config: cfg, Goal: DropGoal,
		Receiver: "generator's CPU (veth softirq)",
		Trivial:  DropPhase{Program: "trivial XDP_DROP (counts)"}, Reader: DropPhase{Program: "trivial, reading xdhcp's lines"},
		XDHCP: DropPhase{Program: "xdhcp (partner-dropped)"}}
	genOpts := gen.Options{Iface: tgt.out, Clients: clients, Types: []gen.Type{gen.Discover}, ServerID: benchServerID(),
		Duration: o.Phase, Threads: o.Threads, Enter: tgt.enter}
	phase := func(p *ebpf.Program, count func() (uint64, error), into *DropPhase) (rate float64, err error) {
		if o.Progress != nil {
			o.Progress(into.Program)
		}
		lk, err := attachNative(tgt.do, p, tgt.inIndex, tgt.in)
		if err != nil {
			return 0, err
		}
		defer lk.Close()
		// The attach made the veth's NAPI instance, and with threaded
		// set its kernel thread: pin it.
		var rx []int
		if !o.SameCPU {
			if rx, err = pinNAPI(tgt.in, o.RxCPU); err != nil {
				return 0, err
			}
		}
		before, err := count()
		if err != nil {
			return 0, err
		}
		t0 := cpuTicks(rx)
		r, err := gen.Run(ctx, genOpts)
		if err != nil {
			return 0, err
		}
		t1 := cpuTicks(rx)
		time.Sleep(50 * time.Millisecond) // the receiver drains its ring
		after, err := count()
		if err != nil {
			return 0, err
		}
		into.add(r.Sent, after-before, r.Elapsed, float64(t1-t0)/clockTicks)
		return float64(after-before) / r.Elapsed.Seconds(), nil
	}
	if !o.SameCPU {
		// threaded is kept by the device across NAPI instances; it
		// needs one to exist when set, so attach the trivial program once.
		lk, err := attachNative(tgt.do, trivial.Prog, tgt.inIndex, tgt.in)
		if err != nil {
			return nil, err
		}
		prev, err := sysfsThreaded(tgt.do, tgt.in, "1")
		lk.Close()
		if err != nil {
			return nil, err
		}
		if prev != "1" {
			defer sysfsThreaded(tgt.do, tgt.in, prev)
		}
		res.Receiver = fmt.Sprintf("threaded NAPI, kernel thread pinned to CPU %d; generator on CPU 0-%d", o.RxCPU, o.Threads-1)
	}
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
	var ratios, toReader []float64
	for r := 0; r < o.Rounds; r++ {
		var rd DropRound
		var err error
		if rd.Trivial, err = phase(trivial.Prog, trivial.Count, &res.Trivial); err != nil {
			return nil, err
		}
		if rd.Reader, err = phase(reader.Prog, reader.Count, &res.Reader); err != nil {
			return nil, err
		}
		if rd.XDHCP, err = phase(prog.XDP(), xdhcpDropped, &res.XDHCP); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if rd.Trivial == 0 || rd.Reader == 0 {
			return nil, fmt.Errorf("drop bench: round %d: a baseline receiver saw no packets", r+1)
		}
		rd.Ratio, rd.RatioToReader = rd.XDHCP/rd.Trivial, rd.XDHCP/rd.Reader
		ratios, toReader = append(ratios, rd.Ratio), append(toReader, rd.RatioToReader)
		res.Rounds = append(res.Rounds, rd)
	}
	res.Ratio, res.RatioToReader = median(ratios), median(toReader)
	res.RatioMin, res.RatioMax = slices.Min(ratios), slices.Max(ratios)
	res.RatioPooled = res.XDHCP.ReceivedRate / res.Trivial.ReceivedRate
	res.GoalMet = res.Ratio >= DropGoal
	return res, nil
}
