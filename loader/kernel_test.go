package loader

import (
	"net"
	"os"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/frames"
)

// needRoot skips tests that load BPF when not root (CI runs as root).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs (run as root; CI does)")
	}
}

func loadTest(t testing.TB) *Program {
	t.Helper()
	needRoot(t)
	p, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// run test-runs one frame and returns the XDP action.
func run(t testing.TB, p *Program, frame []byte) uint32 {
	t.Helper()
	ret, err := p.XDP().Run(&ebpfRunOptions{Data: frame})
	if err != nil {
		t.Fatalf("test run: %v", err)
	}
	return ret
}

func TestLoadAndDiscover(t *testing.T) {
	p := loadTest(t)
	c := decide.DefaultConfig()
	c.Role = decide.Secondary
	if err := p.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC("00:00:01:02:03:05")
	f := frames.Discover(mac, 0)
	if got := run(t, p, f); got != xdpDrop {
		t.Fatalf("secondary, secs 0: action %d, want drop", got)
	}
	_ = dhcpv4.MessageTypeDiscover
}
