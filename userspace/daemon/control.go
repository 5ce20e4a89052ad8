package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// serveControl answers the operator commands on a unix socket: GET /leases
// (the store holds bbolt's exclusive lock, so a running daemon's leases are
// read through it) and GET /stats.
func (d *Daemon) serveControl(ctx context.Context) (stop func(), err error) {
	path := d.opts.Control
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /leases", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, d.store.All()) })
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, d.Stats()) })
	mux.HandleFunc("GET /rule", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, d.Rule()) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go srv.Serve(ln)
	return func() {
		srv.Close()
		os.Remove(path)
	}, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// Client reads a running daemon's control socket.
type Client struct{ http *http.Client }

// Dial returns a client for the control socket at path.
func Dial(path string) *Client {
	return &Client{http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", path)
		},
	}}}
}

func (c *Client) get(what string, v any) error {
	resp, err := c.http.Get("http://xdhcp/" + what)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("daemon: %s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Leases lists the daemon's leases.
func (c *Client) Leases() ([]lease.Lease, error) {
	var ls []lease.Lease
	return ls, c.get("leases", &ls)
}

// Stats reads the daemon's counters.
func (c *Client) Stats() (Stats, error) {
	var s Stats
	return s, c.get("stats", &s)
}
