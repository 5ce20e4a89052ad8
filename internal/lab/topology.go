// Package lab reproduces the failover experiment in network namespaces: a
// client segment, a relay, and two xdhcp servers in a failover pair with
// XDP attached. It builds everything it needs and removes it again, also
// when interrupted or when an act fails halfway.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/internal/probe"
	"github.com/xdhcp/xdhcp/internal/relay"
)

// Addresses (198.18.0.0/15, the benchmarking range, inside our namespaces only).
var (
	clientNet = netip.MustParsePrefix("198.18.10.0/24")
	relayAddr = netip.MustParseAddr("198.18.10.1") // giaddr
	rangeLow  = netip.MustParseAddr("198.18.10.100")
	rangeHigh = netip.MustParseAddr("198.18.10.199")
)

// server is one xdhcp daemon of the pair.
type server struct {
	name      string // a or b
	role      string
	ns        *labnet.NS
	uplink    string     // interface towards the relay (XDP attached here)
	addr      netip.Addr // its address towards the relay: the server identifier
	relaySide netip.Addr
	peerAddr  netip.Addr // its address on the failover link
	db        string
	control   string
	logPath   string
	cmd       *exec.Cmd
}

// Topology is the running lab.
type Topology struct {
	Prefix string
	Dir    string
	Client *labnet.NS
	Relay  *labnet.NS
	A, B   *server
	relay  *relay.Relay
	probe  *probe.Conn
	bin    string
	secret string
	opts   Options
	nss    []*labnet.NS
	cancel context.CancelFunc
	log    *slog.Logger
}

// build creates the namespaces and links.
func build(ctx context.Context, o Options) (t *Topology, err error) {
	t = &Topology{Prefix: o.Prefix, bin: o.Binary, opts: o, log: o.log()}
	defer func() {
		if err != nil {
			t.Close()
			t = nil
		}
	}()
	if t.Dir, err = os.MkdirTemp("", "xdhcp-lab-"); err != nil {
		return t, fmt.Errorf("lab dir: %w", err)
	}
	mk := func(s string) (*labnet.NS, error) {
		n, err := labnet.NewNS(ctx, t.Prefix+s)
		if err != nil {
			return nil, err
		}
		t.nss = append(t.nss, n)
		return n, nil
	}
	if t.Client, err = mk("-client"); err != nil {
		return t, err
	}
	if t.Relay, err = mk("-relay"); err != nil {
		return t, err
	}
	t.A = &server{name: "a", role: "primary", uplink: "eth0", addr: netip.MustParseAddr("198.18.1.2"), relaySide: netip.MustParseAddr("198.18.1.1"), peerAddr: netip.MustParseAddr("198.18.3.1")}
	t.B = &server{name: "b", role: "secondary", uplink: "eth0", addr: netip.MustParseAddr("198.18.2.2"), relaySide: netip.MustParseAddr("198.18.2.1"), peerAddr: netip.MustParseAddr("198.18.3.2")}
	for _, s := range []*server{t.A, t.B} {
		if s.ns, err = mk("-" + s.name); err != nil {
			return t, err
		}
		s.db = filepath.Join(t.Dir, s.name+".db")
		s.control = filepath.Join(t.Dir, s.name+".sock")
		s.logPath = filepath.Join(t.Dir, s.name+".log")
	}
	if err = labnet.Veth(ctx, t.Client, "cli0", "", t.Relay, "down0", relayAddr.String()+"/24"); err != nil {
		return t, err
	}
	for _, s := range []*server{t.A, t.B} {
		up := fmt.Sprintf("up%s", s.name)
		if err = labnet.Veth(ctx, t.Relay, up, s.relaySide.String()+"/30", s.ns, s.uplink, s.addr.String()+"/30"); err != nil {
			return t, err
		}
		if err = s.ns.IP(ctx, "route", "add", clientNet.String(), "via", s.relaySide.String()); err != nil {
			return t, err
		}
	}
	// The failover link: its own veth, so a partition cuts only the servers.
	if err = labnet.Veth(ctx, t.A.ns, "peer0", t.A.peerAddr.String()+"/30", t.B.ns, "peer0", t.B.peerAddr.String()+"/30"); err != nil {
		return t, err
	}
	t.secret = filepath.Join(t.Dir, "secret")
	if err = os.WriteFile(t.secret, []byte("xdhcp lab shared secret, not for production\n"), 0o600); err != nil {
		return t, fmt.Errorf("lab secret: %w", err)
	}

	t.relay = &relay.Relay{ClientIface: "down0", Giaddr: relayAddr, Log: t.log}
	t.relay.SetServers(t.A.addr, t.B.addr)
	var conn *relay.Conn
	if err = t.Relay.Do(func() error { var e error; conn, e = t.relay.Listen(); return e }); err != nil {
		return t, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go func() { _ = t.relay.Serve(rctx, conn) }()

	sock, err := t.Client.OpenPacketSocket("cli0")
	if err != nil {
		return t, err
	}
	t.probe = probe.Wrap(sock)
	return t, nil
}

// serveArgs is the command line of one daemon.
func (t *Topology) serveArgs(s, partner *server) []string {
	return []string{"serve",
		"--iface", s.uplink,
		"--subnet", clientNet.String(),
		"--range", rangeLow.String() + "-" + rangeHigh.String(),
		"--router", relayAddr.String(),
		"--server-id", s.addr.String(),
		"--lease-time", "10m",
		"--db", s.db,
		"--role", s.role,
		"--split", "128",
		"--threshold", fmt.Sprint(t.opts.Threshold),
		"--xdp", "native",
		"--peer", partner.peerAddr.String() + ":647",
		"--listen-peer", s.peerAddr.String() + ":647",
		"--secret-file", t.secret,
		"--control", s.control,
		"--pin-dir", filepath.Join(t.Dir, "pins-"+s.name),
	}
}

// start runs one daemon in its namespace (ip netns exec, as an operator
// would) with its output in the lab dir.
func (t *Topology) start(s *server) error {
	partner := t.B
	if s == t.B {
		partner = t.A
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("server %s log: %w", s.name, err)
	}
	cmd := s.ns.Command(context.Background(), t.bin, t.serveArgs(s, partner)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start server %s: %w", s.name, err)
	}
	logf.Close()
	s.cmd = cmd
	return nil
}

// kill stops a daemon by the PID the lab started, with sig.
func (s *server) kill(sig syscall.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	err := s.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// Close stops everything the lab started and removes what it created.
func (t *Topology) Close() error {
	var errs []error
	for _, s := range []*server{t.A, t.B} {
		if s != nil {
			errs = append(errs, s.kill(syscall.SIGKILL))
		}
	}
	if t.cancel != nil {
		t.cancel()
	}
	if t.probe != nil {
		t.probe.Close()
	}
	for i := len(t.nss) - 1; i >= 0; i-- {
		errs = append(errs, t.nss[i].Close())
	}
	if t.Dir != "" && !t.opts.Keep {
		errs = append(errs, os.RemoveAll(t.Dir))
	}
	return errors.Join(errs...)
}

// tail returns the end of a server's log for error messages.
func (s *server) tail() string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
