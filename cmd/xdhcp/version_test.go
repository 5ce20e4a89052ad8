package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/xdhcp/xdhcp/internal/buildinfo"
)

func TestVersion(t *testing.T) {
	out, err := runApp(t, "version", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v buildinfo.Info
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") || v.Kernel == "" {
		t.Errorf("version --json: %v\n%s", err, out)
	}
	if out, err := runApp(t, "--version"); err != nil || !strings.Contains(out, "xdhcp version ") {
		t.Errorf("--version: %v %q", err, out)
	}
}
