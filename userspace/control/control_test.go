package control

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/xdhcp/xdhcp/userspace/daemon"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// fake is a node's services with fixed answers.
type fake struct {
	rule    decide.Rule
	tuneErr error
	got     []RuleChange
	health  Health
	pd      error
}

func (f *fake) All() []lease.Lease {
	return []lease.Lease{{IP: netip.MustParseAddr("198.18.0.10"), Hostname: "a", State: lease.Bound}}
}
func (f *fake) Stats() daemon.Stats { return daemon.Stats{Received: 3} }
func (f *fake) Rule() RuleView      { return RuleView{Rule: f.rule, Tuning: "/x.tuning"} }
func (f *fake) Tune(_ context.Context, ch RuleChange) (RuleView, error) {
	f.got = append(f.got, ch)
	if ch.Threshold != nil && f.tuneErr == nil {
		f.rule.Threshold = *ch.Threshold
	}
	return f.Rule(), f.tuneErr
}
func (f *fake) Health() Health { return f.health }
func (f *fake) Status() failover.Status {
	return failover.Status{State: decide.Normal, Connected: true}
}
func (f *fake) PartnerDown(context.Context) error { return f.pd }

// serve runs svc on a socket in a temp dir and returns a client.
func serve(t *testing.T, svc Services) (*Client, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(svc, nil).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket %s left behind after the server stopped: %v", path, err)
		}
	})
	return Dial(path), path
}

func TestRoutes(t *testing.T) {
	f := &fake{rule: decide.DefaultRule(), health: Health{OK: true, Serving: true}}
	c, _ := serve(t, Services{Leases: f, Stats: f, Rules: f, Health: f, Failover: f})
	ctx := context.Background()
	if ls, err := c.Leases(ctx); err != nil || len(ls) != 1 || ls[0].Hostname != "a" {
		t.Errorf("leases: %v %+v", err, ls)
	}
	if s, err := c.Stats(ctx); err != nil || s.Received != 3 {
		t.Errorf("stats: %v %+v", err, s)
	}
	if v, err := c.Rule(ctx); err != nil || v.Rule.Threshold != decide.DefaultThreshold || v.Tuning != "/x.tuning" {
		t.Errorf("rule: %v %+v", err, v)
	}
	two := uint16(2)
	if v, err := c.Tune(ctx, RuleChange{Threshold: &two}); err != nil || v.Rule.Threshold != 2 {
		t.Errorf("tune: %v %+v", err, v)
	}
	if st, err := c.Failover(ctx); err != nil || st.State != decide.Normal {
		t.Errorf("failover: %v %+v", err, st)
	}
	if _, err := c.PartnerDown(ctx); err != nil {
		t.Errorf("partner-down: %v", err)
	}
	f.pd = errors.New("the partner is connected")
	var ce *Error
	if _, err := c.PartnerDown(ctx); !errors.As(err, &ce) || ce.Status != http.StatusConflict || !strings.Contains(ce.Msg, "connected") {
		t.Errorf("partner-down refused: %v", err)
	}
	if h, err := c.Health(ctx); err != nil || !h.OK || h.Problems == nil {
		t.Errorf("health: %v %+v", err, h)
	}
	// A failing health is still an answer (503 with the body).
	f.health = Health{OK: false, Problems: []string{"fast path not attached on eth0"}}
	if h, err := c.Health(ctx); err != nil || h.OK || len(h.Problems) != 1 {
		t.Errorf("unhealthy: %v %+v", err, h)
	}
	// A refusal from the node comes back as the node said it.
	f.tuneErr = Refused("role: fixed while serve runs")
	if _, err := c.Tune(ctx, RuleChange{Threshold: &two}); !errors.As(err, &ce) || ce.Status != http.StatusConflict || ce.Msg != "role: fixed while serve runs" {
		t.Errorf("refused tune: %v", err)
	}
}

// Bad requests are refused with a reason and reach no service.
func TestBadRequests(t *testing.T) {
	f := &fake{}
	c, path := serve(t, Services{Leases: f, Stats: f, Rules: f, Health: f})
	ctx := context.Background()
	var ce *Error
	if _, err := c.Failover(ctx); !errors.As(err, &ce) || ce.Status != http.StatusNotFound || !strings.Contains(ce.Msg, "standalone") {
		t.Errorf("failover on a standalone node: %v", err)
	}
	if _, err := c.Tune(ctx, RuleChange{}); !errors.As(err, &ce) || ce.Status != http.StatusBadRequest {
		t.Errorf("empty change: %v", err)
	}
	raw := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	for _, body := range []string{`{"threshold": "six"}`, `{"nope": 1}`, `{"threshold": 2} {"threshold": 3}`, `{"hba": "xyz"}`, strings.Repeat(" ", 70<<10) + "{}"} {
		req, _ := http.NewRequest(http.MethodPut, "http://xdhcp/v1/rule", strings.NewReader(body))
		resp, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PUT %.40q: status %d, want 400", body, resp.StatusCode)
		}
	}
	if len(f.got) != 0 {
		t.Errorf("bad requests reached the node: %+v", f.got)
	}
	if _, err := Dial(filepath.Join(t.TempDir(), "none.sock")).Stats(ctx); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("no daemon: %v", err)
	}
}

// The socket is 0600 in a 0750 directory it creates; 0660 and the group's
// with a group.
func TestSocketModes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a socket to another group")
	}
	dir := filepath.Join(t.TempDir(), "run", "xdhcp")
	path := filepath.Join(dir, "control.sock")
	ln, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	st := func(p string) (os.FileMode, uint32) {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Gid
	}
	if m, _ := st(dir); m != 0o750 {
		t.Errorf("directory mode %v, want 0750", m)
	}
	if m, _ := st(path); m != 0o600 {
		t.Errorf("socket mode %v, want 0600", m)
	}
	ln.Close()
	g, err := user.LookupGroup("daemon")
	if err != nil {
		t.Skip("no group daemon")
	}
	gid, _ := strconv.Atoi(g.Gid)
	ln, err = Listen(path, "daemon")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if m, got := st(path); m != 0o660 || got != uint32(gid) {
		t.Errorf("socket with --control-group daemon: mode %v gid %d, want 0660 gid %d", m, got, gid)
	}
	if _, err := Listen(filepath.Join(dir, "other.sock"), "no-such-group-xdhcp"); err == nil || !strings.Contains(err.Error(), "--control-group") {
		t.Errorf("unknown group: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the socket only (no temporary names left)", len(entries))
	}
}

// A socket a live daemon answers on is never taken over; a stale one is
// replaced; a file that is not a socket is left alone.
func TestSocketOwnership(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	live, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := live.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := Listen(path, ""); err == nil || !strings.Contains(err.Error(), "another running daemon answers on it") {
		t.Errorf("second listener on a live socket: %v", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("the live daemon's socket was removed: %v", err)
	}
	live.Close()
	// A stale socket (its daemon was killed: the file stays, nobody listens).
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	ln, err := Listen(path, "")
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()
	plain := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(plain, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(plain, ""); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("a regular file as the socket path: %v", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "keep me" {
		t.Error("the regular file was touched")
	}
}
