package lab

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xdhcp/xdhcp/internal/probe"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Options configure a lab run.
type Options struct {
	Binary    string        // the xdhcp binary to run as the servers
	Prefix    string        // namespace name prefix
	Threshold uint16        // secs from which the partner answers
	Interval  time.Duration // time between a client's DISCOVERs
	Count     int           // DISCOVERs in act 1
	Clients   int           // clients per server in act 2
	Keep      bool          // leave everything up for exploration
	Out       io.Writer     // the human report (nil with JSON)
	Log       *slog.Logger
}

func (o Options) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Result is what the lab measured, for --json and tests.
type Result struct {
	Threshold uint16      `json:"threshold"`
	Act1      *Act1Result `json:"act1,omitempty"`
	Act2      *Act2Result `json:"act2,omitempty"`
	Act3      *Act3Result `json:"act3,omitempty"`
}

// Act1Result: one client's DISCOVERs with rising secs.
type Act1Result struct {
	Client string      `json:"client"`
	Bucket uint8       `json:"bucket"`
	Owner  string      `json:"owner"`
	Rows   []probe.Row `json:"rows"`
}

// ClientDelay: how long a client waited behind the one-sided relay.
type ClientDelay struct {
	Client      string        `json:"client"`
	Bucket      uint8         `json:"bucket"`
	Owner       string        `json:"owner"`
	SecsAtOffer int           `json:"secs_at_offer"` // -1: never answered
	OfferedBy   string        `json:"offered_by"`
	Waited      time.Duration `json:"waited_ns"`
}

// Act2Result: the relay reaches server a only.
type Act2Result struct {
	Clients     []ClientDelay   `json:"clients"`
	Diagnostics json.RawMessage `json:"relay_diagnostics,omitempty"`
	DiagText    string          `json:"-"`
}

// Act3Result: takeover and return.
type Act3Result struct {
	Client         string        `json:"client"`
	Takeover       time.Duration `json:"takeover_ns"`
	TakeoverBy     string        `json:"takeover_by"`
	BackToNormal   time.Duration `json:"back_to_normal_ns"`
	OwnerOnlyAfter bool          `json:"owner_only_after_return"`
}

// Run builds the lab, runs the three acts and tears it down.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	if o.Threshold == 0 {
		o.Threshold = decide.DefaultThreshold
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Count <= 0 {
		o.Count = int(o.Threshold) + 4
	}
	if o.Clients <= 0 {
		o.Clients = 4
	}
	if o.Prefix == "" {
		var b [2]byte
		_, _ = rand.Read(b[:])
		o.Prefix = fmt.Sprintf("xl%x", b)
	}
	rep := reporter{w: o.Out}
	rep.header("xdhcp lab: a failover pair behind a relay, in network namespaces %s-*", o.Prefix)
	t, err := build(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("build lab: %w", err)
	}
	defer func() {
		if o.Keep && err == nil {
			// Everything stays up (the relay runs in this process) until
			// the operator interrupts; then it is removed as usual.
			rep.keepHelp(t)
			<-ctx.Done()
		}
		if cerr := t.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("clean up lab: %w", cerr)
		}
	}()
	res = &Result{Threshold: o.Threshold}
	rep.line("servers: a %s (primary), b %s (secondary), split 128, threshold %d; relay %s; data in %s", t.A.addr, t.B.addr, o.Threshold, relayAddr, t.Dir)
	for _, s := range []*server{t.A, t.B} {
		if err := t.start(s); err != nil {
			return res, err
		}
	}
	if err := t.waitNormal(ctx, &rep, 20*time.Second); err != nil {
		return res, err
	}
	if res.Act1, err = t.act1(ctx, &rep); err != nil {
		return res, fmt.Errorf("act 1: %w", err)
	}
	if res.Act2, err = t.act2(ctx, &rep); err != nil {
		return res, fmt.Errorf("act 2: %w", err)
	}
	if res.Act3, err = t.act3(ctx, &rep); err != nil {
		return res, fmt.Errorf("act 3: %w", err)
	}
	return res, nil
}

// macOwnedBy finds n client MACs whose bucket the given role owns under split 128.
func macOwnedBy(role decide.Role, n int, salt byte) []net.HardwareAddr {
	hba := decide.MustSplit(128)
	var out []net.HardwareAddr
	for i := 0; len(out) < n; i++ {
		mac := net.HardwareAddr{0x02, 0x1a, salt, 0, byte(i >> 8), byte(i)}
		if hba.Owner(decide.Bucket(mac)) == role {
			out = append(out, mac)
		}
	}
	return out
}

func (t *Topology) serverName(id netip.Addr) string {
	switch id {
	case t.A.addr:
		return "a " + id.String()
	case t.B.addr:
		return "b " + id.String()
	}
	return id.String()
}

// act1: the experiment of the original Windows observation.
func (t *Topology) act1(ctx context.Context, rep *reporter) (*Act1Result, error) {
	mac := macOwnedBy(decide.Primary, 1, 1)[0]
	b := decide.Bucket(mac)
	rep.header("Act 1: one client, DISCOVERs every %s with secs 0, 1, 2, ... and never a REQUEST", t.opts.Interval)
	rep.line("client %s hashes to bucket %d: server a owns it; b should join at secs %d", mac, b, t.opts.Threshold)
	res := &Act1Result{Client: mac.String(), Bucket: b, Owner: "a"}
	tw := rep.table("secs", "offered by", "addresses offered")
	rep.progress("DISCOVER secs")
	_, err := t.probe.Series(ctx, mac, randXID(), 0, t.opts.Count, t.opts.Interval, func(r probe.Row) {
		res.Rows = append(res.Rows, r)
		var by, addrs []string
		for _, o := range r.Offers {
			by = append(by, t.serverName(o.ServerID))
			addrs = append(addrs, o.YourIP.String())
		}
		rep.tick("%d", r.Secs)
		tw.row(fmt.Sprint(r.Secs), join(by), join(addrs))
	})
	tw.flush()
	return res, err
}

// act2: the relay forwards to server a only.
func (t *Topology) act2(ctx context.Context, rep *reporter) (*Act2Result, error) {
	rep.header("Act 2: the relay forwards to server a only (a misconfigured relay)")
	t.relay.SetServers(t.A.addr)
	defer t.relay.SetServers(t.A.addr, t.B.addr)
	macs := append(macOwnedBy(decide.Primary, t.opts.Clients, 2), macOwnedBy(decide.Secondary, t.opts.Clients, 2)...)
	res := &Act2Result{Clients: make([]ClientDelay, len(macs))}
	rep.progress("%d clients send DISCOVERs with secs 0, 1, 2, ... until answered", len(macs))
	var wg sync.WaitGroup
	errs := make([]error, len(macs))
	for i, mac := range macs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Clients[i], errs[i] = t.untilOffer(ctx, mac, int(t.opts.Threshold)+3)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return res, err
		}
	}
	tw := rep.table("client", "bucket", "owner", "answered at secs", "by", "waited")
	for _, c := range res.Clients {
		at := "never"
		if c.SecsAtOffer >= 0 {
			at = fmt.Sprint(c.SecsAtOffer)
		}
		tw.row(c.Client, fmt.Sprint(c.Bucket), c.Owner, at, c.OfferedBy, c.Waited.Round(time.Millisecond).String())
	}
	tw.flush()
	out, err := t.xdhcp(ctx, t.A, "relays", "--json")
	if err == nil {
		res.Diagnostics = json.RawMessage(out)
	}
	text, err := t.xdhcp(ctx, t.A, "relays")
	if err != nil {
		return res, fmt.Errorf("relay diagnostics on a: %w", err)
	}
	res.DiagText = text
	rep.line("what server a's fast path says about its relays (xdhcp relays):")
	rep.raw(text)
	return res, nil
}

// untilOffer sends DISCOVERs with rising secs until someone offers.
func (t *Topology) untilOffer(ctx context.Context, mac net.HardwareAddr, maxSecs int) (ClientDelay, error) {
	b := decide.Bucket(mac)
	cd := ClientDelay{Client: mac.String(), Bucket: b, Owner: "a", SecsAtOffer: -1, OfferedBy: "-"}
	if decide.MustSplit(128).Owner(b) == decide.Secondary {
		cd.Owner = "b"
	}
	sock, err := t.Client.OpenPacketSocket("cli0")
	if err != nil {
		return cd, err
	}
	c := probe.Wrap(sock)
	defer c.Close()
	xid := randXID()
	start := time.Now()
	for secs := 0; secs <= maxSecs; secs++ {
		r, err := c.Discover(ctx, mac, xid, uint16(secs), t.opts.Interval)
		if err != nil {
			return cd, err
		}
		if len(r.Offers) > 0 {
			cd.SecsAtOffer, cd.OfferedBy = secs, t.serverName(r.Offers[0].ServerID)
			cd.Waited = time.Since(start) - t.opts.Interval + r.Offers[0].After
			return cd, nil
		}
	}
	cd.Waited = time.Since(start)
	return cd, nil
}

// act3: kill -9 server a; b takes over; a returns.
func (t *Topology) act3(ctx context.Context, rep *reporter) (*Act3Result, error) {
	rep.header("Act 3: server a is killed (kill -9), b takes over, a comes back")
	mac := macOwnedBy(decide.Primary, 1, 3)[0]
	res := &Act3Result{Client: mac.String()}
	killed := time.Now()
	if err := t.A.kill(syscall.SIGKILL); err != nil {
		return res, fmt.Errorf("kill server a: %w", err)
	}
	rep.progress("killed a; a client of a's sends DISCOVERs at secs 0 every 50ms")
	deadline := killed.Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r, err := t.probe.Discover(ctx, mac, randXID(), 0, 50*time.Millisecond)
		if err != nil {
			return res, err
		}
		if len(r.Offers) > 0 {
			res.Takeover = time.Since(killed) - 50*time.Millisecond + r.Offers[0].After
			res.TakeoverBy = t.serverName(r.Offers[0].ServerID)
			break
		}
	}
	if res.TakeoverBy == "" {
		return res, fmt.Errorf("server b never answered a's client at secs 0 within 15 s after the kill\nb's log:\n%s", t.B.tail())
	}
	rep.line("takeover: %s answered a's client at secs 0 %s after the kill", res.TakeoverBy, res.Takeover.Round(time.Millisecond))
	back := time.Now()
	if err := t.start(t.A); err != nil {
		return res, err
	}
	if err := t.waitNormal(ctx, rep, 30*time.Second); err != nil {
		return res, err
	}
	res.BackToNormal = time.Since(back)
	r, err := t.probe.Discover(ctx, mac, randXID(), 0, 500*time.Millisecond)
	if err != nil {
		return res, err
	}
	res.OwnerOnlyAfter = len(r.Offers) == 1 && r.Offers[0].ServerID == t.A.addr
	rep.line("a restarted: the pair is back in NORMAL after %s; a's client at secs 0 answered by: %s", res.BackToNormal.Round(time.Millisecond), t.offeredBy(r))
	return res, nil
}

func (t *Topology) offeredBy(r probe.Row) string {
	var by []string
	for _, o := range r.Offers {
		by = append(by, t.serverName(o.ServerID))
	}
	return join(by)
}

// waitNormal waits until both fast paths apply the NORMAL rules: the
// daemons write the failover state into the XDP maps.
func (t *Topology) waitNormal(ctx context.Context, rep *reporter, limit time.Duration) error {
	rep.progress("waiting for the pair to reach NORMAL")
	deadline := time.Now().Add(limit)
	for {
		ok := true
		for _, s := range []*server{t.A, t.B} {
			if s.cmd == nil {
				return fmt.Errorf("server %s is not running", s.name)
			}
			if s.cmd.ProcessState != nil {
				return fmt.Errorf("server %s exited:\n%s", s.name, s.tail())
			}
			if !t.normal(ctx, s) {
				ok = false
			}
		}
		if ok {
			rep.progressDone()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the pair did not reach NORMAL within %s\na's log:\n%s\nb's log:\n%s", limit, t.A.tail(), t.B.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// normal says whether a daemon's failover engine is NORMAL and connected
// and its fast path applies the NORMAL rules.
func (t *Topology) normal(ctx context.Context, s *server) bool {
	out, err := t.xdhcp(ctx, s, "status", "--json", "--control", s.control)
	if err != nil {
		return false
	}
	var st struct {
		State     string `json:"state"`
		Connected bool   `json:"connected"`
	}
	if json.Unmarshal([]byte(out), &st) != nil || st.State != "normal" || !st.Connected {
		return false
	}
	out, err = t.xdhcp(ctx, s, "state", "get", "--json", "--pin-dir", filepath.Join(t.Dir, "pins-"+s.name))
	return err == nil && strings.Contains(out, `"normal"`)
}

// xdhcp runs an operator command inside a server's namespace.
func (t *Topology) xdhcp(ctx context.Context, s *server, args ...string) (string, error) {
	var stderr strings.Builder
	cmd := s.ns.Command(ctx, t.bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("xdhcp %s in %s: %w: %s", strings.Join(args, " "), s.ns.Name, err, stderr.String())
	}
	return string(out), nil
}

func randXID() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func join(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}
