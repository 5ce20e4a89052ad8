package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/urfave/cli/v2"

	dto "github.com/prometheus/client_model/go"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// metricsApp runs runWithMetrics with run standing in for the daemon.
func metricsApp(run func(context.Context) error) *cli.App {
	return &cli.App{Name: "xdhcp", Commands: []*cli.Command{{
		Name: "serve", Flags: []cli.Flag{metricsFlag(), pinDirFlag},
		Action: func(c *cli.Context) error { return runWithMetrics(c, run) },
	}}}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrapeText GETs /metrics (retrying while the listener comes up) and parses it.
func scrapeText(ctx context.Context, addr string) (map[string]*dto.MetricFamily, error) {
	var lastErr error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		return p.TextToMetricFamilies(resp.Body)
	}
	return nil, fmt.Errorf("scrape %s: %w", addr, lastErr)
}

func gaugeValue(fams map[string]*dto.MetricFamily, name string) (float64, bool) {
	f, ok := fams[name]
	if !ok || len(f.GetMetric()) != 1 {
		return 0, false
	}
	return f.GetMetric()[0].GetGauge().GetValue(), true
}

// serve --metrics: the endpoint runs beside the daemon, reads the fast path
// through the pins at scrape time, and stops when the daemon stops.
func TestServeMetricsEndpoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs (run as root; CI does)")
	}
	pinDir := fmt.Sprintf("/sys/fs/bpf/xdhcp-test-xo-%d-metrics", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(pinDir) })
	pins, err := loader.OpenPinDir(pinDir)
	if err != nil {
		t.Fatal(err)
	}
	if !pins.Persistent {
		t.Skip("this process does not share the host's mounts: no pins")
	}
	p, err := loader.Load(loader.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetRule(decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 9, Rule: decide.Normal}); err != nil {
		t.Fatal(err)
	}
	if err := pins.PinMaps(p.Maps); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	var fams map[string]*dto.MetricFamily
	daemon := func(ctx context.Context) error {
		var err error
		fams, err = scrapeText(ctx, addr)
		return err // the "daemon" ends after one scrape
	}
	if err := metricsApp(daemon).Run([]string{"xdhcp", "serve", "--metrics", addr, "--pin-dir", pinDir}); err != nil {
		t.Fatal(err)
	}
	if up, ok := gaugeValue(fams, "xdhcp_fastpath_up"); !ok || up != 1 {
		t.Errorf("xdhcp_fastpath_up = %v (%v)", up, ok)
	}
	if th, ok := gaugeValue(fams, "xdhcp_fastpath_threshold_seconds"); !ok || th != 9 {
		t.Errorf("threshold from the pinned config = %v (%v), want 9", th, ok)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no runtime metrics")
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Error("metrics endpoint still listening after the daemon stopped")
	}
}

// A port already taken stops the daemon with an error naming the address.
func TestServeMetricsBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stopped := make(chan struct{})
	daemon := func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return nil
	}
	err = metricsApp(daemon).Run([]string{"xdhcp", "serve", "--metrics", ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("want an error naming %s, got %v", ln.Addr(), err)
	}
	select {
	case <-stopped:
	default:
		t.Error("daemon not stopped")
	}
	// Without --metrics the daemon runs alone.
	ran := false
	if err := metricsApp(func(context.Context) error { ran = true; return nil }).Run([]string{"xdhcp", "serve"}); err != nil || !ran {
		t.Errorf("without --metrics: %v, ran %v", err, ran)
	}
}
