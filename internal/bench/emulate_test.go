package bench

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/cilium/ebpf"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// DiscoverInsnBudget bounds the BPF instructions of the DISCOVER paths of
// the committed program (it had 306-348 before the fast-path work): a
// change that lengthens them shows here, on any machine, before any timing.
const DiscoverInsnBudget = 310

// The interpreter agrees with the kernel on the action of every cost path
// and of frames that leave the usual shape, and counts the path lengths;
// the DISCOVER paths stay within their budget.
func TestPathInsns(t *testing.T) {
	spec, err := loader.Spec()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := Paths()
	if err != nil {
		t.Fatal(err)
	}
	cfg := CostConfig()
	mac := net.HardwareAddr{1, 2, 3, 4, 5, 6} // the partner's (bucket 179)
	discover := func(secs uint16) []byte {
		m, err := dhcpv4.NewDiscovery(mac)
		if err != nil {
			t.Fatal(err)
		}
		m.NumSeconds = secs
		return m.ToBytes()
	}
	extra := []Path{
		{Name: "vlan", Frame: frames.Frame{Src: mac, VLANs: []uint16{7}, Payload: discover(0)}.Bytes(), Reason: decide.ReasonPartnerDropped},
		{Name: "ip-options", Frame: frames.Frame{Src: mac, IPOptions: []byte{1, 1, 1, 1}, Payload: discover(9)}.Bytes(), Reason: decide.ReasonSecsOverride},
		{Name: "with-parameter-list", Frame: frames.Discover(mac, 0), Reason: decide.ReasonPartnerDropped},
	}
	var prog *loader.Program
	if os.Geteuid() == 0 { // the kernel's side of the comparison needs root
		if prog, err = loader.Load(loader.LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		defer prog.Close()
	}
	for _, p := range append(paths, extra...) {
		rule := cfg
		rule.RelayStats = !p.NoRelayStats
		action, n, err := PathInsns(spec, rule, p.Frame)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		t.Logf("%-42s %4d insns", p.Name, n)
		if want := actionOf(p.Reason); action != uint64(want) {
			t.Errorf("%s: emulated action %d, want %d", p.Name, action, want)
		}
		if isDiscover(p) && n > DiscoverInsnBudget {
			t.Errorf("%s: %d instructions, over the budget of %d", p.Name, n, DiscoverInsnBudget)
		}
		if prog != nil {
			if err := prog.SetRule(rule); err != nil {
				t.Fatal(err)
			}
			ret, err := prog.XDP().Run(&ebpf.RunOptions{Data: p.Frame})
			if err != nil || uint64(ret) != action {
				t.Errorf("%s: kernel action %d (%v), emulated %d", p.Name, ret, err, action)
			}
		}
	}
}

// Samples at addresses inside the program count by offset; others not.
func TestReadPerfOffsets(t *testing.T) {
	in := "ffffffffc0001000\n  ffffffffc0001041 bpf_prog_x+0x41\nffffffffc0001041\nffffffff81000000 other\nnot a sample\n"
	got, err := ReadPerfOffsets(strings.NewReader(in), 0xffffffffc0001000, 0x100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != 1 || got[0x41] != 2 {
		t.Errorf("offsets %v, want 0:1 0x41:2", got)
	}
}
