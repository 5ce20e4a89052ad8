package explain

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// A partner-owned client behind a relay whose counters show a one-sided
// relay at threshold 6 (four clients that each sent secs 0..6): the
// verdict and the relay's diagnosis, fitted to the threshold.
func TestExplainWithRelay(t *testing.T) {
	cfg := decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: decide.Normal, RelayStats: true}
	mac, _ := net.ParseMAC("00:0c:29:67:42:7a") // bucket 39, the primary's
	relay := netip.MustParseAddr("198.18.10.1")
	pkt, err := Build(Packet{MAC: mac, Secs: 3, Giaddr: relay})
	if err != nil {
		t.Fatal(err)
	}
	ex := Explain(cfg, "test", pkt, []loader.RelayStats{{Relay: relay, Requests: 42, Owned: 14, PartnerDropped: 24, PartnerOverridden: 4, MaxOverrideSecs: 6}})
	if ex.Verdict.Reason != decide.ReasonPartnerDropped || ex.Action != "drop" || *ex.Verdict.Bucket != 39 || *ex.AnswersFromSecs != 6 {
		t.Errorf("verdict %+v", ex.Verdict)
	}
	if ex.RelayDiagnosis == nil || !ex.RelayDiagnosis.Flagged() {
		t.Errorf("relay diagnosis %+v, want flagged at threshold 6", ex.RelayDiagnosis)
	}
	var out bytes.Buffer
	if err := Print(&out, ex); err != nil || !strings.Contains(out.String(), "relay:   forwards-only-here") || !strings.Contains(out.String(), "verdict: drop (partner-dropped)") {
		t.Errorf("print: %v\n%s", err, out.String())
	}
	if _, err := Build(Packet{MAC: mac, Type: "offerr"}); err == nil || !strings.Contains(err.Error(), `type "offerr"`) {
		t.Errorf("bad type: %v", err)
	}
}
