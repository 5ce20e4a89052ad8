package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/internal/labnet/testlock"
)

// A short drop bench: both receivers see the flood, xdhcp drops all of it as
// the partner's, and neither counts more than was sent.
func TestDropShort(t *testing.T) {
	needRoot(t)
	testlock.Exclusive(t) // a flood; or a rate the floods would starve
	res, err := Drop(context.Background(), DropOptions{LabName: fmt.Sprintf("xb-test-%d-drop", os.Getpid()),
		Phase: 300 * time.Millisecond, Rounds: 3, Clients: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trivial %.0f pps (sent %d, got %d); xdhcp %.0f pps (sent %d, got %d); ratio %.2f",
		res.Trivial.ReceivedRate, res.Trivial.Sent, res.Trivial.Received,
		res.XDHCP.ReceivedRate, res.XDHCP.Sent, res.XDHCP.Received, res.Ratio)
	for _, p := range []DropPhase{res.Trivial, res.Reader, res.XDHCP} {
		if p.Received == 0 || p.Received > p.Sent {
			t.Errorf("%s: received %d of %d sent", p.Program, p.Received, p.Sent)
		}
	}
	if res.Ratio <= 0 || res.RatioToReader <= 0 {
		t.Errorf("ratios %v, %v", res.Ratio, res.RatioToReader)
	}
	// The headline ratio is the middle round's: one of the rounds, inside the spread.
	if len(res.Rounds) != 3 {
		t.Fatalf("%d rounds reported, want 3", len(res.Rounds))
	}
	if !res.AtOfferedLoad {
		t.Errorf("receiver on a CPU of its own, but the ratio is not taken at the offered load")
	}
	middle := 0
	for _, r := range res.Rounds {
		if r.XDHCPSent == 0 || r.TrivialSent == 0 || r.RatioRates != r.XDHCP/r.Trivial {
			t.Errorf("round %+v: no generator rate, or a plain ratio that is not xdhcp/trivial", r)
		}
		atLoad := (r.XDHCP / r.XDHCPSent) / (r.Trivial / r.TrivialSent)
		if r.Ratio != atLoad || r.Ratio < res.RatioMin || r.Ratio > res.RatioMax || res.RatioQ1 > res.Ratio || res.RatioQ3 < res.Ratio {
			t.Errorf("round %+v inconsistent with spread %v-%v", r, res.RatioMin, res.RatioMax)
		}
		if r.Ratio == res.Ratio {
			middle++
		}
	}
	if middle == 0 {
		t.Errorf("median ratio %v is none of the rounds' %+v", res.Ratio, res.Rounds)
	}
}

// With the receiver in the generator's softirq every frame sent arrives,
// and the ratio is the plain ratio of rates.
func TestDropSameCPU(t *testing.T) {
	needRoot(t)
	testlock.Exclusive(t) // a flood; or a rate the floods would starve
	res, err := Drop(context.Background(), DropOptions{LabName: fmt.Sprintf("xb-test-%d-drop1", os.Getpid()),
		Phase: 200 * time.Millisecond, Rounds: 3, Clients: 4096, SameCPU: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.AtOfferedLoad {
		t.Errorf("same CPU: the ratio must be the plain ratio of rates")
	}
	for _, r := range res.Rounds {
		if r.Ratio != r.RatioRates || r.Ratio != r.XDHCP/r.Trivial {
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
