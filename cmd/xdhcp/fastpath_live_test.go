package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/internal/labnet"
)

// lab is a server namespace and a client namespace joined by a veth pair.
type liveLab struct {
	srv, cli *labnet.NS
	tx       *labnet.PacketSocket
}

func newLab(t *testing.T, prefix string) *liveLab {
	t.Helper()
	needRoot(t)
	ctx := context.Background()
	id := fmt.Sprintf("%s%d", prefix, os.Getpid()%100000)
	srv, err := labnet.NewNS(ctx, id+"s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cli, err := labnet.NewNS(ctx, id+"c")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	if err := labnet.Veth(ctx, srv, "srv0", "198.18.0.1/24", cli, "cli0", ""); err != nil {
		t.Fatal(err)
	}
	tx, err := cli.OpenPacketSocket("cli0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Close() })
	return &liveLab{srv: srv, cli: cli, tx: tx}
}

type statsJSON struct {
	Total      uint64            `json:"total"`
	Dropped    uint64            `json:"dropped"`
	Verdicts   map[string]uint64 `json:"verdicts"`
	Interfaces []struct {
		Name    string `json:"name"`
		Total   uint64 `json:"total"`
		Dropped uint64 `json:"dropped"`
	} `json:"interfaces"`
}

func readStatsJSON(t *testing.T, out string) statsJSON {
	t.Helper()
	var s statsJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stats --json: %v\n%s", err, out)
	}
	return s
}

// sendSecs sends one DISCOVER per secs value for a client the primary owns.
func (l *liveLab) sendSecs(t *testing.T, from, to uint16) {
	t.Helper()
	mac := net.HardwareAddr{0, 0, 1, 2, 3, 5} // bucket 45: the primary's under split 128
	for s := from; s <= to; s++ {
		if err := l.tx.Send(frames.Discover(mac, s)); err != nil {
			t.Fatal(err)
		}
	}
}

// waitStats polls stats until total reaches want (frames cross the veth asynchronously).
func waitStats(t *testing.T, stats func() statsJSON, want uint64) statsJSON {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := stats()
		if s.Verdicts["partner-dropped"]+s.Verdicts["secs-override"]+s.Verdicts["state-pass"]+s.Verdicts["owned"] >= want || time.Now().After(deadline) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Each command is its own process under its own `ip netns exec` (a fresh
// /sys, no host bpffs): attach must outlive its process, and every later
// command must find the program's maps again through the interface.
func TestFastPathCommandsUnderIPNetnsExec(t *testing.T) {
	l := newLab(t, "xdn")
	bin := buildBinary(t)
	ctx := context.Background()
	x := func(args ...string) string { return run(t, l.srv.Command(ctx, bin, args...)) }
	t.Cleanup(func() { _ = l.srv.Command(ctx, bin, "detach", "--iface", "srv0").Run() })

	out := x("attach", "--iface", "srv0", "--mode", "native", "--role", "secondary", "--split", "128", "--threshold", "6", "--json")
	if !strings.Contains(out, `"via": "netlink"`) {
		t.Fatalf("attach under ip netns exec should use netlink: %s", out)
	}
	stats := func() statsJSON { return readStatsJSON(t, x("stats", "--json")) }
	l.sendSecs(t, 0, 9)
	s := waitStats(t, stats, 10)
	if s.Verdicts["partner-dropped"] != 6 || s.Verdicts["secs-override"] != 4 {
		t.Fatalf("threshold 6: verdicts %v, want 6 dropped and 4 overridden", s.Verdicts)
	}
	// Per interface: srv0 saw them all (plus whatever else crossed the veth).
	if len(s.Interfaces) != 1 || s.Interfaces[0].Name != "srv0" || s.Interfaces[0].Dropped != 6 || s.Interfaces[0].Total != s.Total {
		t.Fatalf("per-interface stats %+v, want srv0 with 6 dropped of %d", s.Interfaces, s.Total)
	}

	x("threshold", "set", "3")
	if got := x("threshold", "get", "--json"); !strings.Contains(got, `"threshold": 3`) {
		t.Fatalf("threshold get: %s", got)
	}
	l.sendSecs(t, 0, 9)
	s = waitStats(t, stats, 20)
	if s.Verdicts["partner-dropped"] != 6+3 || s.Verdicts["secs-override"] != 4+7 {
		t.Fatalf("threshold 3: verdicts %v", s.Verdicts)
	}

	x("buckets", "set", "--role", "primary")
	l.sendSecs(t, 0, 1)
	s = waitStats(t, stats, 22)
	if s.Verdicts["owned"] != 2 {
		t.Fatalf("as primary: verdicts %v, want 2 owned", s.Verdicts)
	}

	x("state", "set", "partner-down")
	x("buckets", "set", "--role", "secondary")
	l.sendSecs(t, 0, 4)
	s = waitStats(t, stats, 27)
	if s.Verdicts["state-pass"] != 5 || s.Verdicts["partner-dropped"] != 9 {
		t.Fatalf("partner-down: verdicts %v, want 5 state-pass and no new drops", s.Verdicts)
	}

	// Re-attaching replaces the program in place and keeps the counters.
	out = x("attach", "--iface", "srv0", "--mode", "native", "--role", "secondary", "--threshold", "6", "--json")
	if !strings.Contains(out, `"via": "netlink"`) {
		t.Fatalf("re-attach: %s", out)
	}
	if s2 := stats(); s2.Total < s.Total {
		t.Fatalf("re-attach lost counters: %d then %d", s.Total, s2.Total)
	}
	x("detach", "--iface", "srv0")
	if err := l.srv.Command(ctx, bin, "stats", "--json").Run(); err == nil {
		t.Fatal("stats after detach found a program")
	}
}

// With the host's mounts (nsenter --net), attach pins the maps and a bpf_link
// under the pin dir; later commands find them there.
func TestFastPathCommandsWithPins(t *testing.T) {
	l := newLab(t, "xdp")
	bin := buildBinary(t)
	ctx := context.Background()
	pinDir := fmt.Sprintf("/sys/fs/bpf/xdhcp-test-xd-%d", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(pinDir) })
	x := func(args ...string) string {
		return run(t, l.srv.NetCommand(ctx, bin, append(args, "--pin-dir", pinDir)...))
	}
	t.Cleanup(func() {
		_ = l.srv.NetCommand(ctx, bin, "detach", "--iface", "srv0", "--unpin", "--pin-dir", pinDir).Run()
	})

	out := x("attach", "--iface", "srv0", "--role", "secondary", "--threshold", "6", "--json")
	if !strings.Contains(out, `"via": "link"`) {
		t.Fatalf("attach with host mounts should pin a bpf_link: %s", out)
	}
	for _, name := range []string{"xdhcp_cfg", "xdhcp_stats", "links/srv0"} {
		if _, err := os.Stat(filepath.Join(pinDir, name)); err != nil {
			t.Errorf("pin %s: %v", name, err)
		}
	}
	l.sendSecs(t, 0, 9)
	s := waitStats(t, func() statsJSON { return readStatsJSON(t, x("stats", "--json")) }, 10)
	if s.Verdicts["partner-dropped"] != 6 || s.Verdicts["secs-override"] != 4 {
		t.Fatalf("verdicts %v, want 6 dropped and 4 overridden", s.Verdicts)
	}
	// Replace through the pinned link: same maps, program swapped with no gap.
	out = x("attach", "--iface", "srv0", "--role", "secondary", "--threshold", "6", "--json")
	if !strings.Contains(out, `"via": "link"`) {
		t.Fatalf("re-attach: %s", out)
	}
	x("detach", "--iface", "srv0", "--unpin")
	if _, err := os.Stat(pinDir); !os.IsNotExist(err) {
		t.Errorf("pin dir still there after detach --unpin: %v", err)
	}
}
