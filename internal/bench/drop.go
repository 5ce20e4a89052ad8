package bench

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/xdhcp/xdhcp/internal/loadgen"
	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// DropGoal is the goal for the default bench: xdhcp receives and
// drops a partner flood at no less than this fraction of what the reading
// baseline takes per receiving CPU-second (receivers on CPUs of their own),
// or of the trivial program's rate (receiver in the generator's softirq,
// --same-cpu).
const DropGoal = 0.8

// DropOptions configure the drop bench.
type DropOptions struct {
	// Iface is a veth to send out of; its peer, in the same network
	// namespace, receives. Empty: the bench builds a lab namespace LabName.
	Iface   string
	LabName string
	// Phase is how long each receiver's slice lasts (default 200ms);
	// Rounds how many rounds of slices run (30), one slice per receiver in
	// an order rotated every round.
	Phase  time.Duration
	Rounds int
	// Threads are generator threads, thread i on CPU i (default RxQueues);
	// a frame sent from CPU c lands in receive queue c mod RxQueues.
	Threads int
	// RxQueues is the receiving veth's queue count (lab only; default 1;
	// with Iface, the veth's own): one NAPI instance, and with threaded
	// NAPI one kernel thread, per queue.
	RxQueues int
	Clients  int // distinct partner-owned clients (default 65536)
	// NoRelayStats turns xdhcp's per-relay counters off.
	NoRelayStats bool
	// SameCPU keeps the veth's default receive path: the receiving program
	// runs in the generator's softirq, on the generator's CPU. Otherwise
	// (the default) each receive queue is polled in a threaded-NAPI kernel
	// thread pinned to a CPU of its own where there are enough CPUs, as
	// the receive side of a NIC runs (napi.go).
	SameCPU bool
	// RxCPU is queue 0's receiving CPU; queue i's is RxCPU+i (mod the CPU
	// count). Default: the first CPU after the generators' when every
	// queue fits there, else CPU 1 (the receivers then share CPUs with
	// generators, each away from its own queue's generator).
	RxCPU int
	// Candidates are other builds of bpf/xdhcp.c taking their turns too,
	// each compared with xdhcp in every round (A/B).
	Candidates []Candidate
	// Progress, when set, is told which phase runs.
	Progress func(string)
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
	queues  int             // the receiving end's receive queues
	nl      *netlink.Handle // in the receiving end's namespace
	enter   func() error
	do      func(func() error) error
}

func (o *DropOptions) target() (*dropTarget, func(), error) {
	if o.Iface == "" {
		q := max(o.RxQueues, 1)
		l, err := NewLabQueues(o.LabName, q)
		if err != nil {
			return nil, nil, err
		}
		h, err := l.Netlink()
		if err != nil {
			l.Close()
			return nil, nil, err
		}
		return &dropTarget{out: l.Out, in: l.In, inIndex: l.InIndex, queues: q, nl: h, enter: l.Enter, do: l.Do},
			func() { h.Close(); l.Close() }, nil
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
	q := max(peer.Attrs().NumRxQueues, 1)
	if o.RxQueues > 0 && o.RxQueues != q {
		return nil, nil, fmt.Errorf("drop bench: %s has %d receive queues, not %d (create the veth with numrxqueues, or leave --rx-queues out)", peer.Attrs().Name, q, o.RxQueues)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, nil, fmt.Errorf("drop bench: netlink: %w", err)
	}
	direct := func(f func() error) error { return f() }
	return &dropTarget{out: o.Iface, in: peer.Attrs().Name, inIndex: peerIdx, queues: q, nl: h, do: direct}, h.Close, nil
}

// Drop floods partner-owned DISCOVERs (secs 0, a primary at 50:50 whose
// partner owns every generated client) into the receiving end, which runs a
// trivial counting XDP_DROP program, the same reading xdhcp's cache lines,
// xdhcp's program (and any candidates) in turn, and compares how many
// frames each received and dropped per receiving CPU-second (or per second
// with SameCPU).
//
// One generator run feeds all of it; the receivers take turns on one XDP
// link (an atomic program swap, no gap), a Phase-long slice each, Rounds
// times, in an order rotated every round so that no program always follows
// the same one. Slices a fraction of a second apart see the same host:
// this VM's host slows the guest for seconds at a time, and measurements a
// few seconds apart compared the weather more than the programs.
func Drop(ctx context.Context, o DropOptions) (*DropResult, error) {
	if o.Phase <= 0 {
		o.Phase = DefaultDropSlice
	}
	if o.Rounds <= 0 {
		o.Rounds = DefaultDropRounds
	}
	if o.Clients <= 0 {
		o.Clients = 1 << 16
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
	if o.RxQueues <= 0 {
		o.RxQueues = tgt.queues
	}
	if o.Threads <= 0 {
		o.Threads = o.RxQueues
	}
	plan, err := o.cpuPlan()
	if err != nil {
		return nil, err
	}

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
	jit, err := jitInfo(prog.XDP())
	if err != nil {
		return nil, err
	}
	res := &DropResult{XDHCPJIT: jit, Iface: tgt.out, Peer: tgt.in, Clients: o.Clients, Threads: o.Threads, Config: cfg,
		RxQueues: o.RxQueues, GeneratorCPUs: plan.gen, RxCPUs: plan.rx, SharedCPUs: plan.shared,
		Slice: o.Phase, Receiver: "generator's CPU (veth softirq)",
		Trivial: DropPhase{Program: "trivial XDP_DROP (counts)"}, Reader: DropPhase{Program: "trivial, reading xdhcp's lines"},
		XDHCP: DropPhase{Program: "xdhcp (partner-dropped)"}}
	receivers := []receiver{
		{recvTrivial, trivial.Prog, &res.Trivial},
		{recvReader, reader.Prog, &res.Reader},
		{recvXDHCP, prog.XDP(), &res.XDHCP},
	}
	res.Candidates = make([]DropPhase, len(o.Candidates))
	var names []string
	for i, c := range o.Candidates {
		b, err := loader.LoadBuild(bytes.NewReader(c.Object), cfg)
		if err != nil {
			return nil, fmt.Errorf("candidate %s: %w", c.Name, err)
		}
		defer b.Close()
		res.Candidates[i] = DropPhase{Program: c.Name}
		receivers = append(receivers, receiver{c.Name, b.XDP(), &res.Candidates[i]})
		names = append(names, c.Name)
	}

	lk, err := attachNative(tgt.do, trivial.Prog, tgt.inIndex, tgt.in)
	if err != nil {
		return nil, err
	}
	defer lk.Close()
	var rx []int // the receiving NAPI threads
	if !o.SameCPU {
		// threaded needs the NAPI instances the attach made; the
		// kernel threads it starts live as long as the link.
		prev, err := sysfsThreaded(tgt.do, tgt.in, "1")
		if err != nil {
			return nil, err
		}
		if prev != "1" {
			defer sysfsThreaded(tgt.do, tgt.in, prev)
		}
		if rx, err = pinNAPI(tgt.in, plan.rx...); err != nil {
			return nil, err
		}
		res.Receiver = fmt.Sprintf("threaded NAPI, %d kernel thread(s) pinned to CPU(s) %v; generator on CPU(s) %v", len(rx), plan.rx, plan.gen)
	}

	f, err := startFlood(ctx, loadgen.Options{Iface: tgt.out, Clients: clients, Types: []loadgen.Type{loadgen.Discover},
		ServerID: benchServerID(), Threads: o.Threads, Enter: tgt.enter})
	if err != nil {
		return nil, err
	}
	defer f.stop()
	s := slicer{link: lk, flood: f, rx: rx, length: o.Phase, received: rxPackets(tgt.nl, tgt.in)}
	// A first slice, not counted, gets the generator and receiver going.
	if _, err := s.measure(ctx, receivers[0]); err != nil {
		return nil, err
	}
	if err := prog.ResetCounters(); err != nil {
		return nil, err
	}
	if o.Progress != nil {
		o.Progress(fmt.Sprintf("%d rounds of %v slices, %d receivers in turn, order rotated each round", o.Rounds, o.Phase, len(receivers)))
	}
	perCPU := !o.SameCPU
	for r := 0; r < o.Rounds; r++ {
		sl := map[string]DropSlice{}
		var order []string
		starved := ""
		for k := range receivers {
			rc := receivers[(k+r)%len(receivers)]
			d, err := s.measure(ctx, rc)
			if err != nil {
				return nil, err
			}
			if d.Received == 0 || d.Sent == 0 || (perCPU && d.RxSeconds == 0) {
				starved = rc.name
			}
			sl[rc.name] = d
			order = append(order, rc.name)
		}
		// On a loaded host the generator or a receiver may get no CPU for a
		// whole slice: such a round compares nothing, and is left out.
		if starved != "" {
			res.RoundsSkipped++
			if res.RoundsSkipped > o.Rounds/2 {
				return nil, fmt.Errorf("drop bench: %d of %d rounds had a slice with no packets (last: %s's in round %d): the host gave the generator or the receiver no CPU", res.RoundsSkipped, r+1, starved, r+1)
			}
			continue
		}
		for _, rc := range receivers {
			rc.into.add(sl[rc.name])
		}
		res.Rounds = append(res.Rounds, newRound(order, sl, perCPU, names))
	}
	if err := f.stop(); err != nil {
		return nil, err
	}
	if err := checkAllDropped(prog); err != nil {
		return nil, err
	}
	res.summarize(perCPU)
	return res, nil
}

// checkAllDropped checks that xdhcp dropped every frame of its slices as
// the partner's: else the flood is not what the bench meant to measure.
func checkAllDropped(prog *loader.Program) error {
	v, err := prog.Verdicts()
	if err != nil {
		return err
	}
	if v[decide.ReasonPartnerDropped] == 0 {
		return fmt.Errorf("drop bench: xdhcp counted no partner-dropped frame (%v)", v)
	}
	if other := v.Total() - v[decide.ReasonPartnerDropped]; other != 0 {
		return fmt.Errorf("drop bench: xdhcp counted %d packets that were not partner-dropped (%v): the flood is not what the bench meant", other, v)
	}
	return nil
}

// Defaults of the drop bench: 30 rounds of three 200 ms slices, 18 s.
const (
	DefaultDropSlice  = 200 * time.Millisecond
	DefaultDropRounds = 30
)

// cpus is where the generator threads and the receiving NAPI threads run.
type cpus struct {
	gen, rx []int
	shared  bool
}

// cpuPlan places the generator threads on CPUs 0..Threads-1 (as loadgen
// pins them) and queue i's receiver on RxCPU+i.
func (o *DropOptions) cpuPlan() (cpus, error) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return cpus{}, err
	}
	var p cpus
	gen := map[int]bool{}
	for i := 0; i < o.Threads; i++ {
		p.gen = append(p.gen, i%ncpu)
		gen[i%ncpu] = true
	}
	if o.SameCPU {
		return p, nil
	}
	first := o.RxCPU
	if first <= 0 {
		first = o.Threads
		if o.Threads+o.RxQueues > ncpu {
			first = 1 % ncpu
		}
	}
	if first >= ncpu {
		return cpus{}, fmt.Errorf("drop bench: receiver CPU %d: there are %d CPUs", first, ncpu)
	}
	for i := 0; i < o.RxQueues; i++ {
		c := (first + i) % ncpu
		p.rx = append(p.rx, c)
		p.shared = p.shared || gen[c]
	}
	if p.shared && o.RxQueues == 1 {
		return cpus{}, fmt.Errorf("drop bench: the receiver needs a CPU of its own: %d generator thread(s) use CPUs 0-%d, receiver CPU %d, %d CPUs (use fewer --threads, or --same-cpu)", o.Threads, o.Threads-1, first, ncpu)
	}
	return p, nil
}
