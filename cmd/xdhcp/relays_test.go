package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/relaydiag"
)

// relayFixture is one broken relay, one healthy, direct clients with too
// few partner requests: fixed times so the output is stable.
func relayFixture() ([]loader.RelayStats, time.Time) {
	seen := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return []loader.RelayStats{
		{Relay: netip.MustParseAddr("198.18.8.1"), Requests: 30, Owned: 24, PartnerDropped: 6, LastSeen: seen},
		{Relay: netip.MustParseAddr("198.18.7.1"), Requests: 40, Owned: 20, PartnerDropped: 12, PartnerOverridden: 8, MaxOverrideSecs: 9, LastSeen: seen.Add(-time.Minute)},
		{Relay: netip.IPv4Unspecified(), Requests: 3, Owned: 1, PartnerDropped: 2, LastSeen: seen},
	}, seen.Add(5 * time.Second)
}

func TestRelaysOutputGolden(t *testing.T) {
	stats, now := relayFixture()
	rep := relaydiag.DefaultRule().DiagnoseAll(stats)
	var js, txt bytes.Buffer
	if err := writeJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	if err := rep.Print(&txt, now); err != nil {
		t.Fatal(err)
	}
	golden(t, "relays.json", js.String())
	golden(t, "relays.txt", txt.String())
	if !strings.Contains(txt.String(), "! relay 198.18.7.1 appears to forward only to this server") {
		t.Errorf("text output does not flag 198.18.7.1:\n%s", txt.String())
	}
}
