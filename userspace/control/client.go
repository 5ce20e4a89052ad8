package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/xdhcp/xdhcp/userspace/daemon"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// ErrNoDaemon: nothing answers on the socket (no daemon, or another path).
var ErrNoDaemon = errors.New("no daemon answers")

// Client talks to a daemon's control socket.
type Client struct {
	path string
	http *http.Client
}

// Dial returns a client for the socket at path; nothing is connected
// until the first call.
func Dial(path string) *Client {
	if path == "" {
		path = DefaultSocket
	}
	return &Client{path: path, http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

// Path is the socket the client talks to.
func (c *Client) Path() string { return c.path }

// do sends a request and decodes a 2xx answer into out. A refusal comes
// back as *Error; a socket nobody answers on as ErrNoDaemon.
func (c *Client) do(ctx context.Context, method, route string, in, out any, okStatus ...int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://xdhcp"+route, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w on %s (is xdhcp serve running? --control, XDHCP_CONTROL): %v", ErrNoDaemon, c.path, err)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode/100 == 2
	for _, s := range okStatus {
		ok = ok || resp.StatusCode == s
	}
	if !ok {
		e := &Error{Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if json.Unmarshal(b, e) != nil || e.Msg == "" {
			e.Msg = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(b))
		}
		return e
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("control %s %s: decode answer: %w", method, route, err)
	}
	return nil
}

// Leases lists the daemon's lease records.
func (c *Client) Leases(ctx context.Context) ([]lease.Lease, error) {
	var ls []lease.Lease
	return ls, c.do(ctx, http.MethodGet, "/v1/leases", nil, &ls)
}

// Stats reads the daemon's counters.
func (c *Client) Stats(ctx context.Context) (daemon.Stats, error) {
	var s daemon.Stats
	return s, c.do(ctx, http.MethodGet, "/v1/stats", nil, &s)
}

// Rule reads the rule in force.
func (c *Client) Rule(ctx context.Context) (RuleView, error) {
	var v RuleView
	return v, c.do(ctx, http.MethodGet, "/v1/rule", nil, &v)
}

// Tune asks the daemon to change the rule; it answers with what the
// server(s) now use.
func (c *Client) Tune(ctx context.Context, ch RuleChange) (RuleView, error) {
	var v RuleView
	return v, c.do(ctx, http.MethodPut, "/v1/rule", ch, &v)
}

// Failover reads the failover status.
func (c *Client) Failover(ctx context.Context) (failover.Status, error) {
	var s failover.Status
	return s, c.do(ctx, http.MethodGet, "/v1/failover", nil, &s)
}

// PartnerDown asks the daemon to move to PARTNER-DOWN.
func (c *Client) PartnerDown(ctx context.Context) (failover.Status, error) {
	var s failover.Status
	return s, c.do(ctx, http.MethodPost, "/v1/failover/partner-down", nil, &s)
}

// Health reads the daemon's health (also when it is not OK).
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	return h, c.do(ctx, http.MethodGet, "/v1/health", nil, &h, http.StatusServiceUnavailable)
}
