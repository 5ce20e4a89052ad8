package bench

import (
	"encoding/binary"
	"testing"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// trivialParse is the baseline of the Go benchmarks: the least a filter must
// read to know a frame is UDP to port 67 (no VLANs, no BOOTP).
func trivialParse(f []byte) bool {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[23] != 17 {
		return false
	}
	ihl := int(f[14]&0x0f) * 4
	return len(f) >= 14+ihl+8 && binary.BigEndian.Uint16(f[14+ihl+2:]) == 67
}

// The same paths as `xdhcp bench xdp`, through the Go rule: the cost of the
// user-space filter (`xdhcp serve --xdp off`) per packet.
func BenchmarkDecideFrame(b *testing.B) {
	paths, err := Paths()
	if err != nil {
		b.Fatal(err)
	}
	cfg := CostConfig()
	b.Run("trivial-parse", func(b *testing.B) {
		f := paths[0].Frame
		for b.Loop() {
			if !trivialParse(f) {
				b.Fatal("trivial parse rejected a DISCOVER")
			}
		}
	})
	for _, p := range paths {
		if p.NoRelayStats {
			continue // relay counters exist only in the kernel
		}
		b.Run(p.Name, func(b *testing.B) {
			for b.Loop() {
				if v := decide.DecideFrame(&cfg, p.Frame); v.Reason != p.Reason {
					b.Fatalf("%s: %s, want %s", p.Name, v.Reason, p.Reason)
				}
			}
		})
	}
}

func TestTrivialParse(t *testing.T) {
	paths, err := Paths()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if got, want := trivialParse(p.Frame), p.Reason != decide.ReasonNotDHCP; got != want {
			t.Errorf("%s: trivial parse %v, want %v", p.Name, got, want)
		}
	}
}
