package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// The unit's XDHCP_* variables are flags xdhcp really reads, and systemd
// accepts the unit.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../scripts/xdhcp.service")
	if err != nil {
		t.Fatal(err)
	}
	app := testApp()
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
	// The control socket's directory comes from systemd, 0750.
	for _, want := range []string{"RuntimeDirectory=xdhcp\n", "RuntimeDirectoryMode=0750\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
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
