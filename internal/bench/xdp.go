package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// CostGoal is the fast-path issue's goal: every DISCOVER path costs at
// most this many times the trivial program.
const CostGoal = 4.0

// Path is one verdict path of the xdhcp program and the frame that takes it.
type Path struct {
	Name   string
	Frame  []byte
	Reason decide.Reason
	// NoRelayStats runs the path with the per-relay counters off.
	NoRelayStats bool
}

// benchServerID is the server identifier the cost bench configures.
func benchServerID() netip.Addr { return netip.MustParseAddr("198.18.0.1") }

// CostConfig is the configuration the cost bench runs under: a primary at
// 50:50 in NORMAL state with the default threshold and relay counters on.
func CostConfig() decide.Rule {
	c := decide.DefaultRule()
	c.ServerIDs = []netip.Addr{benchServerID()}
	return c
}

// Paths builds one frame per verdict path. Owned and partner MACs are the
// reference test vectors (00:00:01:02:03:05 bucket 45, 01:02:03:04:05:06
// bucket 179; split 128).
func Paths() ([]Path, error) {
	owned, _ := net.ParseMAC("00:00:01:02:03:05")
	partner, _ := net.ParseMAC("01:02:03:04:05:06")
	sid := net.IP(benchServerID().AsSlice())
	other := net.IPv4(198, 18, 0, 2).To4()
	cip := net.IPv4(198, 18, 1, 10).To4()
	msg := func(mac net.HardwareAddr, mods ...dhcpv4.Modifier) ([]byte, error) {
		m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac)}, mods...)...)
		if err != nil {
			return nil, err
		}
		return frames.Message(m), nil
	}
	selecting := func(server net.IP) []dhcpv4.Modifier {
		return []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(server)), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(cip))}
	}
	type spec struct {
		name   string
		mac    net.HardwareAddr
		mods   []dhcpv4.Modifier
		reason decide.Reason
	}
	specs := []spec{
		{"discover-owned", owned, []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover)}, decide.ReasonOwned},
		{"discover-partner-dropped", partner, []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover)}, decide.ReasonPartnerDropped},
		{"discover-secs-override", partner, []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover),
			func(d *dhcpv4.DHCPv4) { d.NumSeconds = 10 }}, decide.ReasonSecsOverride},
		// Option 61 01:00:0c:29:67:42:7a hashes to bucket 14 (primary) although chaddr is the partner's.
		{"discover-option61-owned", partner, []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover),
			dhcpv4.WithGeneric(dhcpv4.OptionClientIdentifier, []byte{1, 0x00, 0x0c, 0x29, 0x67, 0x42, 0x7a})}, decide.ReasonOwned},
		{"request-selecting-mine", partner, selecting(sid), decide.ReasonServerIDMine},
		{"request-selecting-other", owned, selecting(other), decide.ReasonOtherServerDropped},
		{"request-renew", partner, []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithClientIP(cip)}, decide.ReasonRenewRebind},
	}
	var out []Path
	for _, s := range specs {
		f, err := msg(s.mac, s.mods...)
		if err != nil {
			return nil, fmt.Errorf("build %s frame: %w", s.name, err)
		}
		out = append(out, Path{Name: s.name, Frame: f, Reason: s.reason})
	}
	dns := frames.Frame{SrcIP: cip, DstIP: net.IPv4(198, 18, 0, 53), SrcPort: 40000, DstPort: 53, Payload: make([]byte, 40)}
	out = append(out, Path{Name: "not-dhcp", Frame: dns.Bytes(), Reason: decide.ReasonNotDHCP})
	// The per-relay counters (an LRU hash update) are optional: show their share.
	for _, p := range out[:2] {
		p.Name += "/no-relay-stats"
		p.NoRelayStats = true
		out = append(out, p)
	}
	return out, nil
}

// Candidate is another build of bpf/xdhcp.c measured beside the
// committed program in the same run (an A/B comparison).
type Candidate struct {
	Name   string
	Object []byte // the .o, as bpf2go or clang wrote it
}

// CostOptions configure the cost bench.
type CostOptions struct {
	Repeat int // test-run repetitions per measurement (default 1e6)
	Rounds int // measurements per path, order rotated each round (default 5)
	// Candidates are timed on every path too (checked by their XDP action
	// only: their counters may be laid out differently).
	Candidates []Candidate
}

// PathCost is the measured cost of one path of one program.
type PathCost struct {
	Path       string        `json:"path"`
	Program    string        `json:"program"` // "xdhcp", or a candidate's name
	Reason     decide.Reason `json:"reason"`
	RelayStats bool          `json:"relay_stats"`
	Drop       bool          `json:"drop"`
	// NsPerPacket is the median over rounds of the measuring thread's CPU
	// time over the repetitions: fractional nanoseconds. KernelNs is the
	// kernel's own figure for the same runs, which it reports in whole
	// nanoseconds (rounded down).
	NsPerPacket float64 `json:"ns_per_packet"`
	KernelNs    float64 `json:"kernel_ns_per_packet"`
	// RatioToTrivial is the median over rounds of NsPerPacket over the
	// trivial program's in the same round; Min and Max its spread. Ratio
	// is the same figure under its older name.
	RatioToTrivial    float64 `json:"ratio_to_trivial"`
	RatioToTrivialMin float64 `json:"ratio_to_trivial_min"`
	RatioToTrivialMax float64 `json:"ratio_to_trivial_max"`
	Ratio             float64 `json:"ratio"`
	// Insns is the BPF instructions the path executes (emulate.go): a
	// count, not a timing, so it does not move with the host.
	Insns int `json:"bpf_insns"`
	// RatioToXDHCP (a candidate's path): the median over rounds of its time
	// over the committed program's on the same path, measured next to it.
	RatioToXDHCP float64 `json:"ratio_to_xdhcp,omitempty"`
}

// CostResult is the cost bench's outcome.
type CostResult struct {
	Repeat int `json:"repeat"`
	Rounds int `json:"rounds"`
	// Baseline names the program every ratio is taken against.
	Baseline        string     `json:"baseline"`
	TrivialNs       float64    `json:"trivial_ns_per_packet"`
	TrivialKernelNs float64    `json:"trivial_kernel_ns_per_packet"`
	Paths           []PathCost `json:"paths"`
	// Goal: every DISCOVER path of the committed program at most CostGoal
	// times the trivial program.
	Goal    float64 `json:"goal_ratio_at_most"`
	GoalMet bool    `json:"goal_met"`
}

// costItem is one thing timed each round: the baseline, or a path of a program.
type costItem struct {
	prog    *ebpf.Program
	spec    *ebpf.CollectionSpec
	path    Path
	program string
	setRule func(Path) error
}

// Cost test-runs every path of a freshly loaded xdhcp program (and of each
// candidate) and a trivial XDP_PASS program, Repeat times per measurement,
// Rounds times each, in an order rotated every round, and keeps the median
// of each. Before timing, it checks that each frame takes its intended
// path: the program's verdict counter and userspace/decide must both name
// the expected reason (a candidate: its XDP action).
func Cost(ctx context.Context, o CostOptions) (*CostResult, error) {
	if o.Repeat == 0 {
		o.Repeat = DefaultCostRepeat
	}
	if o.Rounds == 0 {
		o.Rounds = DefaultCostRounds
	}
	if o.Repeat < 1 || o.Rounds < 1 {
		return nil, fmt.Errorf("cost bench: repeat %d and rounds %d must be at least 1", o.Repeat, o.Rounds)
	}
	paths, err := Paths()
	if err != nil {
		return nil, err
	}
	prog, err := loader.Load(loader.LoadOptions{})
	if err != nil {
		return nil, err
	}
	defer prog.Close()
	cfg := CostConfig()
	noRelay := cfg
	noRelay.RelayStats = false
	configFor := func(p Path) *decide.Rule {
		if p.NoRelayStats {
			return &noRelay
		}
		return &cfg
	}
	trivial, err := TrivialPass()
	if err != nil {
		return nil, err
	}
	defer trivial.Close()
	items := []costItem{{prog: trivial, program: "trivial", setRule: func(Path) error { return nil }}}
	for _, p := range paths {
		if err := checkPath(prog, configFor(p), p); err != nil {
			return nil, err
		}
	}
	type build struct {
		name string
		on   map[bool]*loader.Build // by relay stats on
		spec *ebpf.CollectionSpec
	}
	spec, err := loader.Spec()
	if err != nil {
		return nil, err
	}
	var builds []build
	for _, c := range o.Candidates {
		cs, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(c.Object))
		if err != nil {
			return nil, fmt.Errorf("candidate %s: %w", c.Name, err)
		}
		b := build{name: c.Name, on: map[bool]*loader.Build{}, spec: cs}
		for _, rs := range []bool{true, false} {
			r := cfg
			r.RelayStats = rs
			lb, err := loader.LoadBuild(bytes.NewReader(c.Object), r)
			if err != nil {
				return nil, fmt.Errorf("candidate %s: %w", c.Name, err)
			}
			defer lb.Close()
			b.on[rs] = lb
		}
		builds = append(builds, b)
	}
	// Path by path, each program's turn next to the others': a candidate
	// and xdhcp on one path are measured moments apart.
	base := map[int]int{} // item -> its path's xdhcp item
	for _, p := range paths {
		x := len(items)
		items = append(items, costItem{prog: prog.XDP(), spec: spec, path: p, program: "xdhcp",
			setRule: func(p Path) error { return prog.SetRule(*configFor(p)) }})
		for _, b := range builds {
			lb := b.on[!p.NoRelayStats]
			if err := checkAction(lb.XDP(), p); err != nil {
				return nil, fmt.Errorf("candidate %s: %w", b.name, err)
			}
			base[len(items)] = x
			items = append(items, costItem{prog: lb.XDP(), spec: b.spec, path: p, program: b.name, setRule: func(Path) error { return nil }})
		}
	}

	cpuNs := make([][]float64, len(items))
	kernelNs := make([][]float64, len(items))
	for r := 0; r < o.Rounds; r++ {
		for k := range items {
			i := (k + r) % len(items) // rotated: no item always runs first, or after another
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			it := items[i]
			if err := it.setRule(it.path); err != nil {
				return nil, err
			}
			frame := it.path.Frame
			if frame == nil {
				frame = paths[0].Frame
			}
			cpu, kns, err := timeRun(it.prog, frame, o.Repeat)
			if err != nil {
				return nil, fmt.Errorf("time %s %s: %w", it.program, it.path.Name, err)
			}
			cpuNs[i] = append(cpuNs[i], cpu)
			kernelNs[i] = append(kernelNs[i], kns)
		}
	}
	res := &CostResult{Repeat: o.Repeat, Rounds: o.Rounds, Baseline: "trivial XDP_PASS (two instructions)",
		TrivialNs: median(cpuNs[0]), TrivialKernelNs: median(kernelNs[0]), Goal: CostGoal, GoalMet: true}
	for i, it := range items[1:] {
		i++
		ratios := make([]float64, o.Rounds)
		for r := range ratios {
			ratios[r] = cpuNs[i][r] / cpuNs[0][r]
		}
		p := it.path
		pc := PathCost{Path: p.Name, Program: it.program, Reason: p.Reason, RelayStats: !p.NoRelayStats, Drop: p.Reason.Drops(),
			NsPerPacket: median(cpuNs[i]), KernelNs: median(kernelNs[i]),
			RatioToTrivial: median(ratios), RatioToTrivialMin: slices.Min(ratios), RatioToTrivialMax: slices.Max(ratios)}
		pc.Ratio = pc.RatioToTrivial
		action, insns, err := PathInsns(it.spec, *configFor(p), p.Frame)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", it.program, p.Name, err)
		}
		if action != uint64(actionOf(p.Reason)) {
			return nil, fmt.Errorf("%s %s: the emulated program's action %d is not the kernel's %d", it.program, p.Name, action, actionOf(p.Reason))
		}
		pc.Insns = insns
		if x, ok := base[i]; ok {
			for r := range ratios {
				ratios[r] = cpuNs[i][r] / cpuNs[x][r]
			}
			pc.RatioToXDHCP = median(ratios)
		}
		if it.program == "xdhcp" && isDiscover(p) {
			res.GoalMet = res.GoalMet && pc.RatioToTrivial <= CostGoal
		}
		res.Paths = append(res.Paths, pc)
	}
	return res, nil
}

// Defaults of the cost bench.
const (
	DefaultCostRepeat = 1_000_000
	DefaultCostRounds = 5
)

// isDiscover says whether a path is one of the DISCOVER paths the goal covers.
func isDiscover(p Path) bool { return strings.HasPrefix(p.Name, "discover-") }

// checkAction runs a candidate's program once on p's frame and checks its action.
func checkAction(prog *ebpf.Program, p Path) error {
	ret, err := prog.Run(&ebpf.RunOptions{Data: p.Frame})
	if err != nil {
		return fmt.Errorf("path %s: test run: %w", p.Name, err)
	}
	if want := actionOf(p.Reason); ret != want {
		return fmt.Errorf("path %s: XDP action %d, want %d", p.Name, ret, want)
	}
	return nil
}

func actionOf(r decide.Reason) uint32 {
	if r.Drops() {
		return xdpDrop
	}
	return xdpPass
}

// checkPath runs p once and checks which verdict counter moved.
func checkPath(prog *loader.Program, cfg *decide.Rule, p Path) error {
	if err := prog.SetRule(*cfg); err != nil {
		return err
	}
	if v := decide.DecideFrame(cfg, p.Frame); v.Reason != p.Reason {
		return fmt.Errorf("path %s: userspace/decide says %s, want %s", p.Name, v.Reason, p.Reason)
	}
	if err := prog.ResetCounters(); err != nil {
		return err
	}
	ret, err := prog.XDP().Run(&ebpf.RunOptions{Data: p.Frame})
	if err != nil {
		return fmt.Errorf("path %s: test run: %w", p.Name, err)
	}
	if want := actionOf(p.Reason); ret != want {
		return fmt.Errorf("path %s: XDP action %d, want %d", p.Name, ret, want)
	}
	v, err := prog.Verdicts()
	if err != nil {
		return err
	}
	if v[p.Reason] != 1 || v.Total() != 1 {
		return fmt.Errorf("path %s: verdict counters %v, want one %s", p.Name, v, p.Reason)
	}
	return nil
}

// timeRun test-runs p on frame repeat times and returns the time per
// repetition twice: by the calling thread's CPU time (fractional
// nanoseconds), and as the kernel reports it (whole nanoseconds, rounded
// down). The thread's CPU time, like the kernel's timer, leaves out time
// the thread spent preempted, and on a VM with steal-time accounting also
// the time the host took the CPU away, which the kernel's timer counts. A
// test-run call costs about 250 us besides its repetitions (setup and
// teardown): a short call of overheadRepeat repetitions measures it, and
// the difference of the two calls is what repeat-overheadRepeat
// repetitions cost. A run the kernel restarted (a signal arrived: cilium/ebpf
// runs it again) shows as a CPU time well above the kernel's, and is
// measured again.
func timeRun(p *ebpf.Program, frame []byte, repeat int) (cpuNs, kernelNs float64, err error) {
	if repeat <= 2*overheadRepeat {
		return 0, 0, fmt.Errorf("repeat %d: want more than %d", repeat, 2*overheadRepeat)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	call := func(n int) (cpu int64, kernel time.Duration, err error) {
		t0, err := threadCPU()
		if err != nil {
			return 0, 0, err
		}
		if _, kernel, err = p.Benchmark(frame, n, nil); err != nil {
			return 0, 0, err
		}
		t1, err := threadCPU()
		return t1 - t0, kernel, err
	}
	for try := 0; ; try++ {
		fixed, _, err := call(overheadRepeat)
		if err != nil {
			return 0, 0, err
		}
		total, d, err := call(repeat)
		if err != nil {
			return 0, 0, err
		}
		cpuNs = float64(total-fixed) / float64(repeat-overheadRepeat)
		kernelNs = float64(d.Nanoseconds())
		if (cpuNs > 0 && cpuNs < 1.5*kernelNs+2) || try == 3 {
			return cpuNs, kernelNs, nil
		}
	}
}

// overheadRepeat is the short call's repetitions (more than one: a call of
// one repetition takes a cheaper path in the kernel).
const overheadRepeat = 16

// threadCPU is the calling thread's CPU time in nanoseconds.
func threadCPU() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, fmt.Errorf("thread CPU time: %w", err)
	}
	return ts.Nano(), nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
