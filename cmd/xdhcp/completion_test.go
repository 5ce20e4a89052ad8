package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestCompletion(t *testing.T) {
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
