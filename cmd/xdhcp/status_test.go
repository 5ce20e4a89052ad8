package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// fakeDaemon answers the failover control socket like a daemon in
// communications-interrupted whose partner was last heard a minute ago.
func fakeDaemon(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "failover.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	contact := time.Now().Add(-time.Minute)
	partner := decide.Normal
	st := failover.Status{Role: decide.Secondary, State: decide.CommunicationsInterrupted, StateSince: contact,
		Reason: "partner unreachable: EOF", PartnerState: &partner, LastContact: &contact, BucketsOwned: 256,
		Unacked: 3, MCLT: time.Hour, ShareSplit: 128,
		Shares: []failover.Share{
			{Range: lease.Range{Start: netip.MustParseAddr("198.18.0.10"), End: netip.MustParseAddr("198.18.0.129")}, Owner: decide.Primary, Size: 120, Free: 100},
			{Range: lease.Range{Start: netip.MustParseAddr("198.18.0.130"), End: netip.MustParseAddr("198.18.0.250")}, Owner: decide.Secondary, Mine: true, Size: 121, Free: 90},
		}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { json.NewEncoder(w).Encode(st) })
	mux.HandleFunc("POST /partner-down", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "the partner is connected (198.19.0.1:647, state normal): refusing partner-down", http.StatusConflict)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return path
}

func TestStatusCommand(t *testing.T) {
	sock := fakeDaemon(t)
	out, err := runApp(t, "status", "--control", sock)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"role               secondary", "state              communications-interrupted", "partner unreachable: EOF",
		"partner            normal, not connected", "(1m0", "buckets owned now  256 of 256", "unacked updates    3",
		"198.18.0.130-198.18.0.250  secondary (this server)  121   90"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, err = runApp(t, "status", "--json", "--control", sock)
	var st failover.Status
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.State != decide.CommunicationsInterrupted || len(st.Shares) != 2 || st.Shares[1].Free != 90 {
		t.Errorf("status --json: %v %+v\n%s", err, st, out)
	}
	if _, err := runApp(t, "partner-down", "--control", sock); err == nil || !strings.Contains(err.Error(), "the partner is connected") {
		t.Errorf("partner-down refusal not passed on: %v", err)
	}
	if _, err := runApp(t, "status", "--control", filepath.Join(t.TempDir(), "none.sock")); err == nil || !strings.Contains(err.Error(), "is xdhcp serve running with --peer?") {
		t.Errorf("no daemon: %v", err)
	}
}

// The failover flags are checked before anything serves, each error
// naming the flag (the engine's own limits are tested in failover).
func TestFailoverFlagErrors(t *testing.T) {
	dir := t.TempDir()
	short, good := filepath.Join(dir, "short"), filepath.Join(dir, "good")
	if err := os.WriteFile(short, []byte("tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte("  a-secret-long-enough-1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"", "--secret-file is required"},
		{filepath.Join(dir, "missing"), "no such file"},
		{short, "8 bytes, at least 16"},
	} {
		if _, err := readSecret(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("readSecret(%q) = %v, want %q", tc.path, err, tc.want)
		}
	}
	if s, err := readSecret(good); err != nil || string(s) != "a-secret-long-enough-1234" {
		t.Errorf("readSecret(good) = %q, %v", s, err)
	}
	for _, tc := range []struct{ in, want, err string }{
		{"198.19.0.2", "198.19.0.2:647", ""},
		{"198.19.0.2:6470", "198.19.0.2:6470", ""},
		{":647", ":647", ""},
		{"partner.lab", "partner.lab:647", ""},
		{"2001:db8::2", "[2001:db8::2]:647", ""},
		{"[2001:db8::2]:700", "[2001:db8::2]:700", ""},
		{"198.19.0.2:x:y", "", `not ADDR or ADDR:PORT`},
		{"198.19.0.2:99999", "", `port "99999" is not 0..65535`},
		{"198.19.0.2:x", "", `port "x"`},
	} {
		got, err := peerAddr("peer", tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "--peer") {
				t.Errorf("peerAddr(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("peerAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
