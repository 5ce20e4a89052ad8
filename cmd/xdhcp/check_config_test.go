package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfigCommand(t *testing.T) {
	out, err := runApp(t, "check-config", "../../userspace/config/testdata/good.yaml")
	if err != nil || !strings.Contains(out, "good.yaml: ok (") {
		t.Errorf("good file: %v %s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("subnets:\n  - subnet: 198.18.0.0/24\n    ranges: [198.18.0.10-198.18.1.999]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runApp(t, "check-config", bad); err == nil || !strings.Contains(err.Error(), "bad.yaml:3:") {
		t.Errorf("bad file: %v, want its line", err)
	}
	if _, err := runApp(t, "check-config"); err == nil || !strings.Contains(err.Error(), "want one FILE") {
		t.Errorf("no file: %v", err)
	}
}
