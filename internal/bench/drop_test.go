package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/internal/labnet/testlock"
)

// A short drop bench: every receiver sees the flood, xdhcp drops all of it
// as the partner's, nobody counts more than was sent, the order rotates
// every round, and the headline is per receiving CPU-second against the
// reading baseline, with both baselines named.
func TestDropShort(t *testing.T) {
	needRoot(t)
	testlock.Exclusive(t) // a flood; or a rate the floods would starve
	res, err := Drop(context.Background(), DropOptions{LabName: fmt.Sprintf("xb-test-%d-drop", os.Getpid()),
		Phase: 300 * time.Millisecond, Rounds: 3, Clients: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trivial %s/CPU-s, reading %s/CPU-s, xdhcp %s/CPU-s; ratio_to_reading %.3f, ratio_to_trivial %.3f",
		PPS(res.Trivial.RxPerCPUSecond), PPS(res.Reader.RxPerCPUSecond), PPS(res.XDHCP.RxPerCPUSecond), res.RatioToReading, res.RatioToTrivial)
	for _, p := range []DropPhase{res.Trivial, res.Reader, res.XDHCP} {
		if p.Received == 0 || p.Received > p.Sent || p.RxPerCPUSecond <= 0 {
			t.Errorf("%s: received %d of %d sent, %v per CPU-second", p.Program, p.Received, p.Sent, p.RxPerCPUSecond)
		}
	}
	if !res.AtOfferedLoad || res.RatioBaseline != "trivial_reading" || res.Metric != "received per receiving CPU-second" {
		t.Errorf("receiver on a CPU of its own: headline %q against %q, at offered load %v", res.Metric, res.RatioBaseline, res.AtOfferedLoad)
	}
	if len(res.Rounds) != 3 {
		t.Fatalf("%d rounds reported, want 3", len(res.Rounds))
	}
	var firsts []string
	middle := 0
	for _, r := range res.Rounds {
		firsts = append(firsts, r.Order[0])
		if r.XDHCPPerCPU <= 0 || r.ReaderPerCPU <= 0 || r.RatioToReading != r.XDHCPPerCPU/r.ReaderPerCPU ||
			r.RatioToTrivial != r.XDHCPPerCPU/r.TrivialPerCPU || r.Ratio != r.RatioToReading {
			t.Errorf("round %+v: ratios are not xdhcp over each baseline per CPU-second", r)
		}
		if atLoad := (r.XDHCP / r.XDHCPSent) / (r.Trivial / r.TrivialSent); !near(r.RatioToTrivialAtLoad, atLoad) {
			t.Errorf("round %+v: at offered load %v, want %v", r, r.RatioToTrivialAtLoad, atLoad)
		}
		if r.Ratio < res.RatioMin || r.Ratio > res.RatioMax {
			t.Errorf("round ratio %v outside the spread %v-%v", r.Ratio, res.RatioMin, res.RatioMax)
		}
		if r.Ratio == res.Ratio {
			middle++
		}
	}
	if middle == 0 || res.RatioQ1 > res.Ratio || res.RatioQ3 < res.Ratio {
		t.Errorf("median ratio %v is none of the rounds' or outside its quartiles %v-%v", res.Ratio, res.RatioQ1, res.RatioQ3)
	}
	if firsts[0] == firsts[1] || firsts[1] == firsts[2] {
		t.Errorf("order not rotated: rounds began with %v", firsts)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// With the receiver in the generator's softirq every frame sent arrives,
// and the headline is the plain ratio of rates to the trivial program.
func TestDropSameCPU(t *testing.T) {
	needRoot(t)
	testlock.Exclusive(t) // a flood; or a rate the floods would starve
	res, err := Drop(context.Background(), DropOptions{LabName: fmt.Sprintf("xb-test-%d-drop1", os.Getpid()),
		Phase: 200 * time.Millisecond, Rounds: 3, Clients: 4096, SameCPU: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.AtOfferedLoad || res.RatioBaseline != "trivial" || res.RatioToTrivialAtLoad != nil {
		t.Errorf("same CPU: the headline must be the plain ratio of rates to trivial (%q, %v)", res.RatioBaseline, res.AtOfferedLoad)
	}
	for _, r := range res.Rounds {
		if r.Ratio != r.RatioRates || r.Ratio != r.XDHCP/r.Trivial || r.RatioToTrivial != r.Ratio || r.RatioToReading != r.XDHCP/r.Reader {
			t.Errorf("round %+v: ratio is not xdhcp/trivial", r)
		}
	}
	for _, p := range []DropPhase{res.Trivial, res.XDHCP} {
		// A frame in flight at a slice's end may land in the next one.
		if p.Received == 0 || float64(p.Received) < 0.99*float64(p.Sent) {
			t.Errorf("%s: received %d of %d sent in its own softirq", p.Program, p.Received, p.Sent)
		}
	}
}

// Two receive queues: a NAPI thread per queue, each pinned, both queues fed
// (the generator thread on CPU i feeds queue i), and a candidate build (the
// committed object itself) compared with xdhcp in every round.
func TestDropQueuesAndCandidate(t *testing.T) {
	needRoot(t)
	testlock.Exclusive(t)
	obj, err := os.ReadFile("../../loader/xdhcp_bpfel.o")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Drop(context.Background(), DropOptions{LabName: fmt.Sprintf("xb-test-%d-dropq", os.Getpid()),
		Phase: 150 * time.Millisecond, Rounds: 2, Clients: 4096, RxQueues: 2,
		Candidates: []Candidate{{Name: "same", Object: obj}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RxQueues != 2 || res.Threads != 2 || len(res.RxCPUs) != 2 || res.RxCPUs[0] == res.RxCPUs[1] {
		t.Errorf("queues %d, threads %d, receiver CPUs %v", res.RxQueues, res.Threads, res.RxCPUs)
	}
	if len(res.Candidates) != 1 || res.Candidates[0].Received == 0 {
		t.Fatalf("candidate: %+v", res.Candidates)
	}
	ab := res.CandidateToXDHCP["same"]
	if ab.Median <= 0 || len(res.Rounds[0].Order) != 4 {
		t.Errorf("candidate/xdhcp %+v, round order %v", ab, res.Rounds[0].Order)
	}
	t.Logf("2 queues: xdhcp %s (%s per CPU-second), same build / xdhcp %.3f", PPS(res.XDHCP.ReceivedRate), PPS(res.XDHCP.RxPerCPUSecond), ab.Median)
}

func TestParseQueues(t *testing.T) {
	if q, err := ParseQueues("1, 2"); err != nil || !slices.Equal(q, []int{1, 2}) {
		t.Errorf("1, 2: %v %v", q, err)
	}
	for _, bad := range []string{"", "0", "x", "1,,2", "100000"} {
		if _, err := ParseQueues(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
