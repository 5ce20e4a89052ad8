package bench

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// scripts/pktgen.sh checks its arguments before touching pktgen, and on a
// kernel without pktgen (this one) says so, exits 3 and names the
// project's generator with the same count and threads.
func TestPktgenScript(t *testing.T) {
	script := "../../scripts/pktgen.sh"
	run := func(args ...string) (string, int) {
		out, err := exec.Command("bash", append([]string{script}, args...)...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	for _, bad := range [][]string{{"--iface"}, {}, {"--iface", "lo", "--size", "20"}, {"--iface", "lo", "--src-min", "1.2.3"},
		{"--iface", "lo", "--threads", "0"}, {"--iface", "lo", "--bogus"}} {
		if out, code := run(bad...); code == 0 || code == 3 {
			t.Errorf("%v: exit %d, want an argument error:\n%s", bad, code, out)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("the rest needs root")
	}
	if _, err := os.Stat("/proc/net/pktgen"); err == nil {
		t.Skip("this kernel has pktgen: not sending a flood from a unit test")
	}
	out, code := run("--iface", "lo", "--count", "5000")
	if code != 3 || !strings.Contains(out, "xdhcp bench gen --iface lo --pps max --count 5000 --threads 1") {
		t.Errorf("without pktgen: exit %d, want 3 and the bench gen line:\n%s", code, out)
	}
}
