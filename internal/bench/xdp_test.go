package bench

import (
	"context"
	"testing"
)

// Every path takes its intended verdict in the kernel and gets a positive
// cost; the DISCOVER decision is dearer than the trivial program.
func TestCostPaths(t *testing.T) {
	needRoot(t)
	res, err := Cost(context.Background(), 100_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	if res.TrivialNs <= 0 {
		t.Fatalf("trivial program: %v ns", res.TrivialNs)
	}
	paths, _ := Paths()
	if len(res.Paths) != len(paths) {
		t.Fatalf("%d paths measured, want %d", len(res.Paths), len(paths))
	}
	for _, p := range res.Paths {
		t.Logf("%-26s %-22s %6.1f ns  x%.2f", p.Path, p.Reason, p.NsPerPacket, p.Ratio)
		if p.NsPerPacket <= 0 {
			t.Errorf("%s: %v ns", p.Path, p.NsPerPacket)
		}
	}
	if res.Paths[0].NsPerPacket <= res.TrivialNs {
		t.Errorf("owned DISCOVER %.1f ns is not dearer than the trivial program %.1f ns", res.Paths[0].NsPerPacket, res.TrivialNs)
	}
}
