package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdhcp/xdhcp/internal/bench"
	"github.com/xdhcp/xdhcp/internal/labnet/testlock"
	"github.com/xdhcp/xdhcp/internal/loadgen"
)

func benchNeedRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for BPF programs and network namespaces (run as root; CI does)")
	}
}

func TestBenchParseFlags(t *testing.T) {
	for _, tc := range []struct {
		in      string
		pps     uint64
		wantErr bool
	}{{"max", 0, false}, {"MAX", 0, false}, {"250000", 250000, false}, {"0", 0, true}, {"-5", 0, true}, {"1e6", 0, true}} {
		got, err := loadgen.ParsePPS(tc.in)
		if (err != nil) != tc.wantErr || got != tc.pps {
			t.Errorf("pps %q: %d, %v; want %d, error %v", tc.in, got, err, tc.pps, tc.wantErr)
		}
	}
	for _, tc := range []struct {
		in      string
		lo, hi  uint16
		wantErr bool
	}{{"0", 0, 0, false}, {"3-9", 3, 9, false}, {" 5 - 5 ", 5, 5, false}, {"9-3", 0, 0, true}, {"70000", 0, 0, true}, {"a-b", 0, 0, true}, {"", 0, 0, true}} {
		lo, hi, err := loadgen.ParseSecs(tc.in)
		if (err != nil) != tc.wantErr || lo != tc.lo || hi != tc.hi {
			t.Errorf("secs %q: %d-%d, %v; want %d-%d, error %v", tc.in, lo, hi, err, tc.lo, tc.hi, tc.wantErr)
		}
	}
}

// Bad arguments fail before anything is loaded, naming the flag.
func TestBenchGenBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--iface", "lo", "--secs", "9-3"}, "--secs"},
		{[]string{"--iface", "lo", "--pps", "fast"}, "--pps"},
		{[]string{"--iface", "lo", "--types", "discover,offer"}, "offer"},
		{[]string{"--iface", "lo", "--peer-share", "1.5"}, "peer share"},
		{[]string{"--iface", "lo", "--split", "256", "--peer-share", "0.5"}, "owns no bucket"},
		{[]string{"--iface", "lo", "--server-id", "::1"}, "--server-id"},
		{[]string{"--iface", "lo", "--clients", "0"}, "clients"},
	} {
		_, err := runApp(t, append([]string{"bench", "gen"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %q", tc.args, err, tc.want)
		}
	}
}

func TestBenchXDPJSON(t *testing.T) {
	benchNeedRoot(t)
	var out bytes.Buffer
	if err := execute(context.Background(), &out, os.Stderr, []string{"xdhcp", "bench", "xdp", "--repeat", "20000", "--rounds", "1", "--json"}); err != nil {
		t.Fatal(err)
	}
	var res struct {
		TrivialNs float64 `json:"trivial_ns_per_packet"`
		Paths     []struct {
			Path        string  `json:"path"`
			Reason      string  `json:"reason"`
			NsPerPacket float64 `json:"ns_per_packet"`
			Ratio       float64 `json:"ratio"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	paths, _ := bench.Paths()
	if res.TrivialNs <= 0 || len(res.Paths) != len(paths) {
		t.Fatalf("trivial %v ns, %d paths: %s", res.TrivialNs, len(res.Paths), out.String())
	}
	for _, p := range res.Paths {
		if p.Ratio <= 0 || p.NsPerPacket <= 0 || p.Reason == "" {
			t.Errorf("%s: %v ns, ratio %v", p.Path, p.NsPerPacket, p.Ratio)
		}
	}
}

// `xdhcp bench gen` under `ip netns exec`, the way an operator runs it: the
// receiver's XDP counter sees exactly the packets the command says it sent.
func TestBenchGenCommandIntoVeth(t *testing.T) {
	benchNeedRoot(t)
	bin := filepath.Join(t.TempDir(), "xdhcp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	testlock.Exclusive(t) // a flood
	lab, err := bench.NewLab(fmt.Sprintf("xb-cmd-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	ctr, err := bench.NewCounter(2) // XDP_PASS
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	lk, err := lab.AttachIn(ctr.Prog)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	cmd := exec.Command("ip", "netns", "exec", lab.Name, bin, "bench", "gen", "--iface", lab.Out, "--count", "100000",
		"--clients", "5000", "--peer-share", "1", "--secs", "0-3", "--types", "discover,request,renew", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var view bench.GenResult
	if err := json.Unmarshal(stdout.Bytes(), &view); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	got, err := ctr.Count()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d at %.0f pps (baseline %.0f pps, ratio %.2f); receiver counted %d", view.Gen.Sent, view.Gen.Rate, view.Baseline.Rate, view.Ratio, got)
	if view.Gen.Sent < 100000 || view.Baseline.Rate <= 0 || view.Ratio <= 0 {
		t.Fatalf("result %+v", view)
	}
	// The baseline phase's packets arrive too.
	if want := view.Gen.Sent + view.Baseline.Sent; got != want {
		t.Fatalf("receiver counted %d, the command sent %d", got, want)
	}
}

// `xdhcp bench drop --json`: the ratio fields the README names, a round per
// --rounds, and the three receivers each saw the flood.
func TestBenchDropJSON(t *testing.T) {
	benchNeedRoot(t)
	testlock.Exclusive(t) // a flood; or a rate the floods would starve
	var out bytes.Buffer
	if err := execute(context.Background(), &out, os.Stderr, []string{"xdhcp", "bench", "drop", "--rounds", "3", "--phase", "150ms", "--clients", "2048", "--json"}); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Ratio         float64 `json:"ratio"`
		RatioRates    float64 `json:"ratio_of_rates"`
		AtOfferedLoad bool    `json:"at_offered_load"`
		Q1            float64 `json:"ratio_q1"`
		Q3            float64 `json:"ratio_q3"`
		Rounds        []struct {
			Ratio float64 `json:"ratio"`
		} `json:"rounds"`
		Trivial, XDHCP struct {
			Received uint64 `json:"received_and_dropped"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(res.Rounds) != 3 || !res.AtOfferedLoad || res.Ratio <= 0 || res.RatioRates <= 0 || res.Q1 > res.Ratio || res.Q3 < res.Ratio {
		t.Errorf("unexpected result: %s", out.String())
	}
	if res.Trivial.Received == 0 || res.XDHCP.Received == 0 {
		t.Errorf("a receiver saw nothing: %s", out.String())
	}
}

func TestBenchDropBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--rounds", "0"}, {"--phase", "0s"}, {"--threads", "-1"}} {
		_, err := runApp(t, append([]string{"bench", "drop"}, args...)...)
		if err == nil || !strings.HasPrefix(err.Error(), args[0]+" ") {
			t.Errorf("%v: error %v, want one naming %s", args, err, args[0])
		}
	}
}
