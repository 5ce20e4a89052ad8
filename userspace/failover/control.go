package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// DefaultControl is the failover control socket of `xdhcp status` and
// `xdhcp partner-down`.
const DefaultControl = "/run/xdhcp/failover.sock"

// Status is the engine's state as `xdhcp status` shows it.
type Status struct {
	Role             decide.Role   `json:"role"`
	State            decide.State  `json:"state"`
	StateSince       time.Time     `json:"state_since"`
	Reason           string        `json:"reason"`
	PartnerState     *decide.State `json:"partner_state"` // null: never heard
	Connected        bool          `json:"connected"`
	Partner          string        `json:"partner,omitempty"`
	LastContact      *time.Time    `json:"last_contact"`
	BucketsOwned     int           `json:"buckets_owned"`
	HBA              decide.HBA    `json:"hba"`
	Unacked          int           `json:"unacked_updates"`
	MCLT             time.Duration `json:"mclt_ns"`
	ReceiveTimeout   time.Duration `json:"receive_timeout_ns"`
	PartnerDownSince *time.Time    `json:"partner_down_since,omitempty"`
	UsingPartnerFree bool          `json:"using_partner_free"`
	ShareSplit       int           `json:"share_split"` // the primary's part of every range, in 256ths
	Shares           []Share       `json:"shares"`
}

// Share is one side's part of one range and how much of it is free.
type Share struct {
	Range lease.Range `json:"range"`
	Owner decide.Role `json:"owner"`
	Mine  bool        `json:"mine"`
	Size  uint32      `json:"size"`
	Free  uint32      `json:"free"`
}

// Status reports the engine's state now.
func (e *Engine) Status() Status {
	e.mu.Lock()
	s := &e.st
	out := Status{Role: e.role, State: s.state, StateSince: s.since, Reason: s.reason, Connected: s.connected,
		BucketsOwned: e.bucketsOwned(), HBA: s.hba, Unacked: e.q.unacked(), MCLT: e.o.MCLT,
		ReceiveTimeout: e.o.ReceiveTimeout, UsingPartnerFree: s.state == decide.PartnerDown && s.tookShare}
	if s.partnerKnown {
		p := s.partner
		out.PartnerState = &p
	}
	if s.connected {
		out.Partner = s.remote
	}
	if !s.lastContact.IsZero() {
		t := s.lastContact
		out.LastContact = &t
	}
	if s.state == decide.PartnerDown {
		t := s.partnerDownSince
		out.PartnerDownSince = &t
	}
	out.ShareSplit = int(s.split)
	split := decide.MustSplit(int(s.split))
	e.mu.Unlock()
	out.Shares = shares(e.o.Pools, split, e.role, e.o.Bindings.All(), e.o.Now())
	return out
}

// shares counts the free addresses of each side's part of every range.
func shares(pools []lease.Range, split decide.HBA, me decide.Role, ls []lease.Lease, now time.Time) []Share {
	out := []Share{}
	for _, r := range pools {
		for _, role := range []decide.Role{decide.Primary, decide.Secondary} {
			part, ok := lease.Share(r, split, role)
			if !ok {
				continue
			}
			sh := Share{Range: part, Owner: role, Mine: role == me, Size: part.Size(), Free: part.Size()}
			for _, l := range ls {
				if part.Contains(l.IP) && l.Active(now) {
					sh.Free--
				}
			}
			out = append(out, sh)
		}
	}
	return out
}

// ServeControl answers `xdhcp status` (GET /status) and `xdhcp
// partner-down` (POST /partner-down) on a unix socket until ctx ends.
func (e *Engine) ServeControl(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("failover control socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failover control socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("failover control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(e.Status())
	})
	mux.HandleFunc("POST /partner-down", func(w http.ResponseWriter, r *http.Request) {
		if err := e.PartnerDown(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(e.Status())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		srv.Close()
		os.Remove(path)
	}()
	go srv.Serve(ln)
	return nil
}

// Control talks to a running daemon's failover control socket.
type Control struct{ c *http.Client }

// DialControl returns a client for the socket at path.
func DialControl(path string) *Control {
	return &Control{c: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

func (c *Control) do(ctx context.Context, method, what string) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, method, "http://xdhcp/"+what, nil)
	if err != nil {
		return st, err
	}
	resp, err := c.c.Do(req)
	if err != nil {
		return st, fmt.Errorf("failover control socket: %w (is xdhcp serve running with --peer?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return st, fmt.Errorf("daemon: %s", bytesTrim(b))
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func bytesTrim(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return string(b)
}

// Status reads the daemon's failover status.
func (c *Control) Status(ctx context.Context) (Status, error) {
	return c.do(ctx, http.MethodGet, "status")
}

// PartnerDown asks the daemon to move to PARTNER-DOWN.
func (c *Control) PartnerDown(ctx context.Context) (Status, error) {
	return c.do(ctx, http.MethodPost, "partner-down")
}
