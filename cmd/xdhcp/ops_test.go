package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/relaydiag"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// runApp runs the CLI in process and returns stdout.
func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"xdhcp"}, args...))
	return out.String(), err
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s changed:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

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
		{[]string{"00:0c:29:67:42:7a", "--type", "offerr"}, `--type "offerr"`},
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
	if err := printRelays(&txt, rep, now); err != nil {
		t.Fatal(err)
	}
	golden(t, "relays.json", js.String())
	golden(t, "relays.txt", txt.String())
	if !strings.Contains(txt.String(), "! relay 198.18.7.1 appears to forward only to this server") {
		t.Errorf("text output does not flag 198.18.7.1:\n%s", txt.String())
	}
}

func TestEveryCommandHasManHelp(t *testing.T) {
	app := newApp()
	walkCommands(app.Commands, "", func(path string, cmd *cli.Command) {
		if strings.TrimSpace(cmd.Usage) == "" || strings.TrimSpace(cmd.Description) == "" {
			t.Errorf("command %q: usage %q, description %q: want both", path, cmd.Usage, cmd.Description)
		}
		for _, f := range cmd.Flags {
			if u, ok := f.(interface{ GetUsage() string }); ok && u.GetUsage() == "" {
				t.Errorf("command %q flag %s has no usage", path, f.Names()[0])
			}
		}
	})
	page, err := runApp(t, "man")
	if err != nil || !strings.Contains(page, ".SH") || !strings.Contains(page, "relays") {
		t.Errorf("man: %v\n%.300s", err, page)
	}
}

// Every daemon flag can come from the environment (systemd's
// EnvironmentFile), named XDHCP_ and the flag in capitals.
func TestServeFlagsHaveEnvVars(t *testing.T) {
	app := newApp()
	var found bool
	walkCommands(app.Commands, "", func(path string, cmd *cli.Command) {
		if path != "serve" {
			return
		}
		found = true
		for _, f := range cmd.Flags {
			name := f.Names()[0]
			if name == "help" {
				continue
			}
			env := envVarsOf(f)
			if len(env) == 0 || !strings.HasPrefix(env[0], "XDHCP_") {
				t.Errorf("serve --%s: environment variables %v, want XDHCP_...", name, env)
			}
		}
	})
	if !found {
		t.Skip("no serve command yet")
	}
	if _, err := runApp(t, "serve", "--metrics", "127.0.0.1:notaport", "--help"); err != nil {
		t.Errorf("serve has no --metrics flag: %v", err)
	}
}

func TestLogFlags(t *testing.T) {
	for _, tc := range []struct{ format, level, want string }{
		{"xml", "info", `--log-format "xml"`},
		{"json", "loud", `--log-level "loud"`},
	} {
		if _, err := runApp(t, "--log-format", tc.format, "--log-level", tc.level, "version"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s/%s: error %v, want %q", tc.format, tc.level, err, tc.want)
		}
	}
	var buf bytes.Buffer
	l, err := newLogger(&buf, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hello", "relay", "198.18.7.1")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "hello" || rec["relay"] != "198.18.7.1" || rec["level"] != "DEBUG" {
		t.Errorf("json log line %q: %v", buf.String(), err)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	out, err := runApp(t, "version", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") || v.Kernel == "" {
		t.Errorf("version --json: %v\n%s", err, out)
	}
	if out, err := runApp(t, "--version"); err != nil || !strings.Contains(out, "xdhcp version ") {
		t.Errorf("--version: %v %q", err, out)
	}
	for _, sh := range []string{"bash", "zsh"} {
		script, err := runApp(t, "completion", sh)
		if err != nil || !strings.Contains(script, "--generate-bash-completion") {
			t.Errorf("completion %s: %v", sh, err)
		}
		if _, err := exec.LookPath(sh); err == nil {
			if out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput(); err != nil {
				t.Errorf("completion %s: syntax: %v\n%s", sh, err, out)
			}
		}
	}
	if _, err := runApp(t, "completion", "fish"); err == nil || !strings.Contains(err.Error(), `"fish"`) {
		t.Errorf("completion fish: %v", err)
	}
	// The binary answers completion requests itself (urfave reads os.Args
	// for this, so it runs as its own process).
	raw, err := exec.Command(buildBinary(t), "--generate-bash-completion").Output()
	if err != nil {
		t.Fatal(err)
	}
	words := string(raw)
	for _, cmd := range []string{"relays", "explain", "maps", "version", "completion"} {
		if !strings.Contains(words, cmd+"\n") && !strings.Contains(words, cmd+":") {
			t.Errorf("completion candidates lack %s:\n%s", cmd, words)
		}
	}
}

// The unit's XDHCP_* variables are flags xdhcp really reads, and systemd
// accepts the unit.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../scripts/xdhcp.service")
	if err != nil {
		t.Fatal(err)
	}
	app := newApp()
	known := map[string]bool{}
	for _, f := range app.Flags {
		for _, e := range envVarsOf(f) {
			known[e] = true
		}
	}
	walkCommands(app.Commands, "", func(path string, cmd *cli.Command) {
		if path == "serve" {
			for _, f := range cmd.Flags {
				for _, e := range envVarsOf(f) {
					known[e] = true
				}
			}
		}
	})
	for _, line := range strings.Split(string(unit), "\n") {
		name, ok := strings.CutPrefix(line, "Environment=")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if !known[name] {
			t.Errorf("unit sets %s, which no serve or global flag reads", name)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	// verify wants the ExecStart binary to exist: point it at the test binary.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "xdhcp.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/xdhcp"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
