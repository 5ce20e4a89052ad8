package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// explain's JSON is the real decision (decide.DecidePayload on an
// insomniacslk-built packet) and stays byte-stable for scripts. --offline:
// the flags alone, whatever is attached on this machine.
func TestExplainGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
		reason decide.Reason
		bucket uint8
	}{
		// failover.md section 6: 00:0c:29:67:42:7a hashes to bucket 39, the primary's under split 128.
		{"explain-partner-dropped.json", []string{"00:0c:29:67:42:7a", "--secs", "3", "--role", "secondary"}, decide.ReasonPartnerDropped, 39},
		{"explain-secs-override.json", []string{"00:0c:29:67:42:7a", "--secs", "6", "--role", "secondary", "--giaddr", "198.18.7.1"}, decide.ReasonSecsOverride, 39},
		{"explain-owned.json", []string{"00:0c:29:67:42:7a", "--secs", "0", "--role", "primary"}, decide.ReasonOwned, 39},
		// option 61 01:00:0c:29:67:42:7a hashes to bucket 14 (section 6), --chaddr-only back to 39.
		{"explain-client-id.json", []string{"00:0c:29:67:42:7a", "--client-id", "01000c2967427a", "--role", "secondary"}, decide.ReasonPartnerDropped, 14},
		{"explain-chaddr-only.json", []string{"00:0c:29:67:42:7a", "--client-id", "01000c2967427a", "--chaddr-only", "--role", "secondary"}, decide.ReasonPartnerDropped, 39},
		{"explain-other-server.json", []string{"52:54:00:12:34:56", "--type", "request", "--server-id", "198.18.0.2", "--this-server-id", "198.18.0.1"}, decide.ReasonOtherServerDropped, 0},
		{"explain-renew.json", []string{"52:54:00:12:34:56", "--type", "request", "--ciaddr", "198.18.0.50"}, decide.ReasonRenewRebind, 0},
		{"explain-partner-down.json", []string{"00:0c:29:67:42:7a", "--role", "secondary", "--state", "partner-down"}, decide.ReasonStatePass, 0},
		{"explain-lb-off.json", []string{"00:0c:29:67:42:7a", "--role", "secondary", "--threshold", "0"}, decide.ReasonLBOff, 39},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, err := runApp(t, append([]string{"explain", "--offline", "--json"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var ex struct {
				Verdict struct {
					Reason string
					Drop   bool
					Bucket *uint8
				}
				Action string
			}
			if err := json.Unmarshal([]byte(out), &ex); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			v := ex.Verdict
			if v.Reason != tc.reason.String() || (v.Bucket == nil) != (tc.bucket == 0) || (v.Bucket != nil && *v.Bucket != tc.bucket) {
				t.Errorf("verdict %+v, want %s bucket %d", v, tc.reason, tc.bucket)
			}
			if v.Drop != tc.reason.Drops() || (ex.Action == "drop") != tc.reason.Drops() {
				t.Errorf("action %s for %s", ex.Action, tc.reason)
			}
			golden(t, tc.golden, out)
		})
	}
}

func TestExplainBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"zz:zz"}, `MAC "zz:zz"`},
		{nil, "give one MAC address (got 0"},
		{[]string{"00:0c:29:67:42:7a", "00:0c:29:67:42:7b"}, "give one MAC address (got 2"},
		{[]string{"00:0c:29:67:42:7a", "--type", "offerr"}, `type "offerr"`},
		{[]string{"00:0c:29:67:42:7a", "--giaddr", "2001:db8::1"}, `--giaddr "2001:db8::1": not an IPv4 address`},
		{[]string{"00:0c:29:67:42:7a", "--client-id", "xyz"}, `--client-id "xyz"`},
		{[]string{"00:0c:29:67:42:7a", "--secs", "70000"}, "--secs 70000"},
		{[]string{"00:0c:29:67:42:7a", "--role", "tertiary"}, "--role"},
		{[]string{"00:0c:29:67:42:7a", "--nope"}, "flag provided but not defined: -nope"},
	} {
		_, err := runApp(t, append([]string{"explain", "--offline"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("explain %v: error %v, want it to name %q", tc.args, err, tc.want)
		}
	}
	out, err := runApp(t, "explain", "--help")
	if err != nil || !strings.Contains(out, "DESCRIPTION:") {
		t.Errorf("explain --help: %v\n%s", err, out)
	}
}
