package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/metrics"
)

// metricsFlag is serve's --metrics; finishApp adds it to serve.
func metricsFlag() cli.Flag {
	return &cli.StringFlag{Name: "metrics", EnvVars: []string{envName("metrics")},
		Usage: "serve Prometheus metrics at http://ADDR/metrics (e.g. :9167 or 127.0.0.1:9167); empty: off"}
}

func addMetricsFlag(cmd *cli.Command) {
	for _, f := range cmd.Flags {
		if f.Names()[0] == "metrics" {
			return
		}
	}
	cmd.Flags = append(cmd.Flags, metricsFlag())
}

// wrapWithMetrics makes cmd's action run under runWithMetrics, so serve
// needs no code of its own for --metrics.
func wrapWithMetrics(cmd *cli.Command) {
	action := cmd.Action
	if action == nil {
		return
	}
	cmd.Action = func(c *cli.Context) error {
		return runWithMetrics(c, func(ctx context.Context) error {
			c.Context = ctx // the daemon stops when the endpoint fails
			return action(c)
		})
	}
}

// runWithMetrics runs the daemon (run) and, with --metrics, the metrics
// endpoint beside it: either failing stops both. The fast path's maps are
// found at scrape time, so the daemon may attach it after this starts.
func runWithMetrics(c *cli.Context, run func(context.Context) error) error {
	addr := c.String("metrics")
	if addr == "" {
		return run(c.Context)
	}
	fp := &liveFastPath{pinDir: c.String("pin-dir")}
	defer fp.close()
	m := metrics.New(metrics.Options{FastPath: fp, Runtime: true, Logger: slog.Default()})
	ctx, cancel := context.WithCancel(withMetrics(c.Context, m)) // failover feeds it: serve_failover.go
	defer cancel()
	daemonErr, metricsErr := make(chan error, 1), make(chan error, 1)
	go func() { daemonErr <- run(ctx) }()
	go func() { metricsErr <- metrics.Serve(ctx, addr, m) }()
	slog.Info("metrics: starting", "addr", addr, "path", metrics.Path)
	select {
	case err := <-daemonErr:
		cancel()
		return errors.Join(err, <-metricsErr)
	case err := <-metricsErr:
		cancel() // a busy port stops the daemon: the operator asked for metrics
		return errors.Join(err, <-daemonErr)
	}
}

// liveFastPath opens the attached fast path's maps on first use and again
// after a read fails (the program was re-attached or detached meanwhile).
type liveFastPath struct {
	pinDir string
	mu     sync.Mutex
	maps   *loader.Maps
}

func (p *liveFastPath) open() (*loader.Maps, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maps != nil {
		return p.maps, nil
	}
	pins, err := loader.OpenPinDir(p.pinDir)
	if err != nil {
		return nil, err
	}
	m, err := loader.Open("", pins)
	if err != nil {
		return nil, fmt.Errorf("find the fast path: %w", err)
	}
	p.maps = m
	return m, nil
}

func (p *liveFastPath) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maps != nil {
		p.maps.Close()
		p.maps = nil
	}
}

// read runs fn on the maps; a failure drops them so the next scrape reopens.
func read[T any](p *liveFastPath, fn func(*loader.Maps) (T, error)) (T, error) {
	m, err := p.open()
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := fn(m)
	if err != nil {
		p.close()
		return v, errors.Join(err, errors.New("will reopen the fast path's maps on the next scrape"))
	}
	return v, nil
}

func (p *liveFastPath) Rule() (decide.Rule, error) {
	return read(p, (*loader.Maps).Rule)
}

func (p *liveFastPath) Verdicts() (loader.Verdicts, error) {
	return read(p, (*loader.Maps).Verdicts)
}

func (p *liveFastPath) Buckets() ([256]loader.BucketStats, error) {
	return read(p, (*loader.Maps).Buckets)
}

func (p *liveFastPath) Relays() ([]loader.RelayStats, error) {
	return read(p, (*loader.Maps).Relays)
}
