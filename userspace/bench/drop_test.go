package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// A short drop bench: both receivers see the flood, xdhcp drops all of it as
// the partner's, and neither counts more than was sent.
func TestDropShort(t *testing.T) {
	needRoot(t)
	res, err := Drop(context.Background(), DropOptions{LabName: fmt.Sprintf("xb-test-%d-drop", os.Getpid()),
		Phase: 300 * time.Millisecond, Rounds: 1, Clients: 4096})
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
}
