package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/node"
)

// Every daemon flag can come from the environment (systemd's
// EnvironmentFile), named XDHCP_ and the flag in capitals.
func TestServeFlagsHaveEnvVars(t *testing.T) {
	app := testApp()
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

func TestServeLimitFlagErrors(t *testing.T) {
	base := []string{"serve", "--xdp", "off", "--subnet", "198.18.0.0/24", "--range", "198.18.0.10-198.18.0.20",
		"--control", filepath.Join(t.TempDir(), "control.sock")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pool-reserve", "101%"}, `--pool-reserve: "101%": want a percentage`},
		{[]string{"--pool-reserve", "lots"}, `--pool-reserve: "lots"`},
		{[]string{"--relay-rate", "-1"}, "limits: relay-rate -1: want a rate >= 0"},
		{[]string{"--client-rate", "-0.5"}, "limits: client-rate -0.5: want a rate >= 0"},
		// Valid limits get as far as the missing interface.
		{[]string{"--relay-rate", "50", "--client-rate", "0.5", "--pool-reserve", "5%"}, "no interface to serve"},
	} {
		_, err := runApp(t, append(append([]string{}, base...), tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// serveOptions runs serve's flag parsing only and returns the node options.
func serveOptions(t *testing.T, args ...string) (node.Options, error) {
	t.Helper()
	cmd := serveCommand()
	var o node.Options
	var err error
	cmd.Action = func(c *cli.Context) error { o, err = nodeOptions(c); return nil }
	app := &cli.App{Name: "xdhcp", Commands: []*cli.Command{cmd}, Writer: io.Discard, ErrWriter: io.Discard}
	if rerr := app.Run(append([]string{"xdhcp", "serve", "--iface", "eth9", "--subnet", "198.18.0.0/24", "--range", "198.18.0.10-198.18.0.20"}, args...)); rerr != nil {
		t.Fatal(rerr)
	}
	return o, err
}

// Standalone (no --peer) a server owns every bucket unless the rule flags
// say otherwise; with a partner the default stays split 128.
func TestServeStandaloneDefault(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("a-secret-long-enough-1234"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    []string
		primary int
		owned   int
		source  string
		pair    bool
	}{
		{nil, 256, 256, "standalone default", false},
		{[]string{"--split", "128"}, 128, 128, "flags", false},
		{[]string{"--role", "secondary"}, 128, 128, "flags", false},
		{[]string{"--hba", strings.Repeat("55", 32)}, 128, 128, "flags", false},
		{[]string{"--peer", "198.19.0.2", "--secret-file", secret}, 128, 128, "flags", true},
		{[]string{"--listen-peer", "198.19.0.1", "--role", "secondary", "--secret-file", secret}, 128, 128, "flags", true},
	} {
		o, err := serveOptions(t, tc.args...)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if got := o.Rule.HBA.Count(decide.Primary); got != tc.primary || o.Rule.HBA.Count(o.Rule.Role) != tc.owned ||
			!strings.Contains(o.RuleSource, tc.source) || (o.Failover != nil) != tc.pair {
			t.Errorf("%v: primary owns %d, this server %d, source %q, pair %v; want %d, %d, %q, %v",
				tc.args, got, o.Rule.HBA.Count(o.Rule.Role), o.RuleSource, o.Failover != nil, tc.primary, tc.owned, tc.source, tc.pair)
		}
	}
	t.Setenv("XDHCP_SPLIT", "64") // the environment counts as given
	if o, err := serveOptions(t); err != nil || o.Rule.HBA.Count(decide.Primary) != 64 {
		t.Errorf("XDHCP_SPLIT=64 standalone: %v, %d buckets", err, o.Rule.HBA.Count(decide.Primary))
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
