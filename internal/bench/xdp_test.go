package bench

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
)

// Every path takes its intended verdict in the kernel and gets a positive
// cost in fractional nanoseconds, roughly the kernel's whole-ns figure; the DISCOVER decision is dearer than the trivial program; the
// goal covers every DISCOVER path; a candidate build is timed beside.
func TestCostPaths(t *testing.T) {
	needRoot(t)
	obj, err := os.ReadFile("../../loader/xdhcp_bpfel.o")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Cost(context.Background(), CostOptions{Repeat: 100_000, Rounds: 3, Candidates: []Candidate{{Name: "same", Object: obj}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.TrivialNs <= 0 || !strings.Contains(res.Baseline, "trivial") {
		t.Fatalf("trivial program: %v ns, baseline %q", res.TrivialNs, res.Baseline)
	}
	paths, _ := Paths()
	if len(res.Paths) != 2*len(paths) {
		t.Fatalf("%d paths measured, want %d (xdhcp and the candidate)", len(res.Paths), 2*len(paths))
	}
	fractional, goal := false, true
	for _, p := range res.Paths {
		t.Logf("%-6s %-40s %-22s %6.1f ns (kernel %3.0f)  x%.2f", p.Program, p.Path, p.Reason, p.NsPerPacket, p.KernelNs, p.RatioToTrivial)
		if p.NsPerPacket <= 0 || p.RatioToTrivial <= 0 || p.Ratio != p.RatioToTrivial || p.RatioToTrivialMin > p.RatioToTrivial || p.RatioToTrivialMax < p.RatioToTrivial {
			t.Errorf("%s: %v ns, ratio %v (%v-%v)", p.Path, p.NsPerPacket, p.RatioToTrivial, p.RatioToTrivialMin, p.RatioToTrivialMax)
		}
		// The kernel rounds down and counts time the host stole, which
		// the thread's CPU time leaves out: the two agree only roughly.
		if p.NsPerPacket > 2*p.KernelNs+5 {
			t.Errorf("%s: %.2f ns by CPU time, %v by the kernel", p.Path, p.NsPerPacket, p.KernelNs)
		}
		fractional = fractional || p.NsPerPacket != math.Trunc(p.NsPerPacket)
		if p.Program == "xdhcp" && strings.HasPrefix(p.Path, "discover-") {
			goal = goal && p.RatioToTrivial <= res.Goal
		}
	}
	if !fractional {
		t.Error("every figure is a whole number of nanoseconds")
	}
	if goal != res.GoalMet {
		t.Errorf("goal met %v, but the DISCOVER paths say %v", res.GoalMet, goal)
	}
	if res.Paths[0].NsPerPacket <= res.TrivialNs {
		t.Errorf("owned DISCOVER %.1f ns is not dearer than the trivial program %.1f ns", res.Paths[0].NsPerPacket, res.TrivialNs)
	}
}
