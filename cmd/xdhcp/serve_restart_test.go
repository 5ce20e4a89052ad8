package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A restart with --keep-xdp never leaves the interface without the fast
// path: the stopped daemon's program keeps filtering, the next daemon
// replaces it in place and keeps its counters; without the flag, stop
// detaches.
func TestServeRestartKeepsXDP(t *testing.T) {
	l := newLab(t, "xkx")
	bin := buildBinary(t)
	ctx := context.Background()
	dir := t.TempDir()
	pinDir := fmt.Sprintf("/sys/fs/bpf/xdhcp-test-kx-%d", os.Getpid())
	t.Cleanup(func() {
		_ = l.srv.NetCommand(ctx, bin, "detach", "--iface", "srv0", "--unpin", "--pin-dir", pinDir).Run()
		os.RemoveAll(pinDir)
	})
	x := func(args ...string) string {
		return run(t, l.srv.NetCommand(ctx, bin, append(args, "--pin-dir", pinDir)...))
	}
	stats := func() statsJSON { return readStatsJSON(t, x("stats", "--json")) }
	db := filepath.Join(dir, "leases.db")
	start := func(extra ...string) (*exec.Cmd, lockedBuf) {
		t.Helper()
		args := append([]string{"serve", "--iface", "srv0", "--subnet", "198.18.0.0/24", "--range", "198.18.0.100-198.18.0.150",
			"--db", db, "--role", "secondary", "--split", "128", "--threshold", "6", "--pin-dir", pinDir,
			"--control", filepath.Join(dir, "control.sock")}, extra...)
		cmd := l.srv.NetCommand(ctx, bin, args...)
		log := newLockedBuf()
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		// "serving" comes after XDP is attached (the verifier can take seconds).
		waitFor(t, "serve to start", 40*time.Second, func() bool { return strings.Contains(log.String(), "msg=serving") })
		return cmd, log
	}
	stop := func(cmd *exec.Cmd, log lockedBuf) {
		t.Helper()
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, log)
		}
	}

	d1, log1 := start("--keep-xdp")
	l.sendSecs(t, 0, 9)
	if s := waitStats(t, stats, 10); s.Verdicts["partner-dropped"] != 6 || s.Verdicts["secs-override"] != 4 {
		t.Fatalf("first daemon: verdicts %v, want 6 dropped and 4 overridden", s.Verdicts)
	}
	stop(d1, log1)
	if !strings.Contains(log1.String(), "XDP left attached") {
		t.Fatalf("serve --keep-xdp did not say it left XDP attached:\n%s", log1)
	}
	// No daemon: the program still filters (and counts).
	l.sendSecs(t, 0, 9)
	if s := waitStats(t, stats, 20); s.Verdicts["partner-dropped"] != 12 {
		t.Fatalf("between daemons: verdicts %v, want 12 dropped", s.Verdicts)
	}

	d2, log2 := start()
	if !strings.Contains(log2.String(), "XDP attached") {
		t.Fatalf("second daemon did not attach:\n%s", log2)
	}
	l.sendSecs(t, 0, 9)
	if s := waitStats(t, stats, 30); s.Verdicts["partner-dropped"] != 18 || s.Verdicts["secs-override"] != 12 {
		t.Fatalf("after the restart: verdicts %v, want the counters kept and 18 dropped, 12 overridden\n%s", s.Verdicts, log2)
	}
	attached := func() bool {
		out := run(t, exec.Command("ip", "-n", l.srv.Name, "-d", "link", "show", "dev", "srv0"))
		return strings.Contains(out, "prog/xdp")
	}
	if !attached() {
		t.Fatalf("no XDP program on srv0 while the second daemon runs:\n%s", log2)
	}
	stop(d2, log2)
	if attached() {
		t.Fatal("serve without --keep-xdp stopped but a program is still attached to srv0")
	}
	t.Logf("MEASURED restart with --keep-xdp: 6 partner frames dropped while no daemon ran; counters kept across the replace")
}
