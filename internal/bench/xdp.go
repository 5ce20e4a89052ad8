package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// CostGoal is the fast-path issue's goal: a full DISCOVER decision costs
// less than this many times the trivial program.
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

// PathCost is the measured cost of one path.
type PathCost struct {
	Path        string        `json:"path"`
	Reason      decide.Reason `json:"reason"`
	RelayStats  bool          `json:"relay_stats"`
	Drop        bool          `json:"drop"`
	NsPerPacket float64       `json:"ns_per_packet"`
	// Ratio is NsPerPacket over the trivial program's.
	Ratio float64 `json:"ratio"`
}

// CostResult is the cost bench's outcome.
type CostResult struct {
	Repeat    int        `json:"repeat"`
	Rounds    int        `json:"rounds"`
	TrivialNs float64    `json:"trivial_ns_per_packet"`
	Paths     []PathCost `json:"paths"`
	// Goal: the DISCOVER paths below CostGoal times the trivial program.
	Goal    float64 `json:"goal_ratio_below"`
	GoalMet bool    `json:"goal_met"`
}

// Cost test-runs every path of a freshly loaded xdhcp program and a trivial
// XDP_PASS program, repeat times per measurement, rounds times each
// (interleaved), and keeps the median of each. Before timing, it checks that
// each frame takes its intended path: the program's verdict counter and
// userspace/decide must both name the expected reason.
func Cost(ctx context.Context, repeat, rounds int) (*CostResult, error) {
	if repeat < 1 || rounds < 1 {
		return nil, fmt.Errorf("cost bench: repeat %d and rounds %d must be at least 1", repeat, rounds)
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
	if err := prog.SetRule(cfg); err != nil {
		return nil, err
	}
	trivial, err := TrivialPass()
	if err != nil {
		return nil, err
	}
	defer trivial.Close()
	noRelay := cfg
	noRelay.RelayStats = false
	configFor := func(p Path) *decide.Rule {
		if p.NoRelayStats {
			return &noRelay
		}
		return &cfg
	}
	for _, p := range paths {
		if err := checkPath(prog, configFor(p), p); err != nil {
			return nil, err
		}
	}
	dhcpFrame := paths[0].Frame
	trivialNs := make([]float64, 0, rounds)
	pathNs := make([][]float64, len(paths))
	for r := 0; r < rounds; r++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ns, err := timeRun(trivial, dhcpFrame, repeat)
		if err != nil {
			return nil, fmt.Errorf("time trivial program: %w", err)
		}
		trivialNs = append(trivialNs, ns)
		for i, p := range paths {
			if err := prog.SetRule(*configFor(p)); err != nil {
				return nil, err
			}
			ns, err := timeRun(prog.XDP(), p.Frame, repeat)
			if err != nil {
				return nil, fmt.Errorf("time path %s: %w", p.Name, err)
			}
			pathNs[i] = append(pathNs[i], ns)
		}
	}
	res := &CostResult{Repeat: repeat, Rounds: rounds, TrivialNs: median(trivialNs), Goal: CostGoal, GoalMet: true}
	for i, p := range paths {
		pc := PathCost{Path: p.Name, Reason: p.Reason, RelayStats: !p.NoRelayStats, Drop: p.Reason.Drops(), NsPerPacket: median(pathNs[i])}
		pc.Ratio = pc.NsPerPacket / res.TrivialNs
		if (p.Reason == decide.ReasonOwned || p.Reason == decide.ReasonPartnerDropped) && !p.NoRelayStats {
			res.GoalMet = res.GoalMet && pc.Ratio < CostGoal
		}
		res.Paths = append(res.Paths, pc)
	}
	return res, nil
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
	want := uint32(xdpPass)
	if p.Reason.Drops() {
		want = xdpDrop
	}
	if ret != want {
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

// timeRun is the kernel's own time per repetition of repeat test runs (it
// leaves out time the thread spent preempted, which wall-clock timing on a
// shared machine does not). The kernel reports whole nanoseconds: the
// median over rounds keeps that resolution.
func timeRun(p *ebpf.Program, frame []byte, repeat int) (float64, error) {
	_, d, err := p.Benchmark(frame, repeat, nil)
	if err != nil {
		return 0, err
	}
	return float64(d.Nanoseconds()), nil
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
