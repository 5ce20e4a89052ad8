package loader

import (
	"strings"
	"testing"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// The C enum (through bpf2go) and decide.Reason must be the same list.
func TestReasonEnumMatchesC(t *testing.T) {
	c := map[xdhcpXdhcpReason]string{
		xdhcpXdhcpReasonREASON_NOT_DHCP: "not-dhcp", xdhcpXdhcpReasonREASON_FRAGMENT: "fragment",
		xdhcpXdhcpReasonREASON_NOT_REQUEST: "not-request", xdhcpXdhcpReasonREASON_MALFORMED: "malformed",
		xdhcpXdhcpReasonREASON_MALFORMED_DROPPED: "malformed-dropped", xdhcpXdhcpReasonREASON_STATE_PASS: "state-pass",
		xdhcpXdhcpReasonREASON_OVERLOAD: "overload", xdhcpXdhcpReasonREASON_OTHER_MESSAGE: "other-message",
		xdhcpXdhcpReasonREASON_RENEW_REBIND: "renew-rebind", xdhcpXdhcpReasonREASON_SERVER_ID_MINE: "server-id-mine",
		xdhcpXdhcpReasonREASON_OTHER_SERVER_DROPPED: "other-server-dropped", xdhcpXdhcpReasonREASON_LB_OFF: "lb-off",
		xdhcpXdhcpReasonREASON_OWNED: "owned", xdhcpXdhcpReasonREASON_SECS_OVERRIDE: "secs-override",
		xdhcpXdhcpReasonREASON_PARTNER_DROPPED: "partner-dropped",
	}
	if int(xdhcpXdhcpReasonREASON_MAX) != int(decide.NumReasons) || len(c) != int(decide.NumReasons) {
		t.Fatalf("C has %d reasons, Go %d", xdhcpXdhcpReasonREASON_MAX, decide.NumReasons)
	}
	for v, name := range c {
		if got := decide.Reason(v).String(); got != name {
			t.Errorf("C reason %d is %s in Go, want %s", v, got, name)
		}
	}
	// The steps' "go on" results share the enum, past every counter, and
	// are distinct: a sentinel can neither be counted nor pass for another.
	sentinels := map[xdhcpXdhcpReason]bool{}
	for _, s := range []xdhcpXdhcpReason{xdhcpXdhcpReasonPARSE_OK, xdhcpXdhcpReasonOPT_CONTINUE, xdhcpXdhcpReasonHASH_GATE} {
		if s <= xdhcpXdhcpReasonREASON_MAX || sentinels[s] {
			t.Errorf("sentinel %d overlaps a reason, the counter count or another sentinel", s)
		}
		sentinels[s] = true
	}
	if !strings.Contains(decide.Reason(99).String(), "99") {
		t.Error("unknown reasons must print their number")
	}
}

func TestConfigRoundTrip(t *testing.T) {
	c := decide.DefaultRule()
	c.SwapSecs, c.DropMalformed, c.ChaddrOnly = true, true, true
	c.HBA = decide.KeaHBA()
	got := fromRaw(toRaw(c))
	if got.HBA != c.HBA || got.SwapSecs != c.SwapSecs || got.DropMalformed != c.DropMalformed || got.ChaddrOnly != c.ChaddrOnly ||
		got.RelayStats != c.RelayStats || got.Threshold != c.Threshold || got.Rule != c.Rule || got.Role != c.Role {
		t.Errorf("round trip %+v -> %+v", c, got)
	}
}
