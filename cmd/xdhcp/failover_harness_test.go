package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/internal/probe"
	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// The failover lab: two xdhcp daemons (A primary, B secondary) in their
// own namespaces serve one segment (a bridge in the client namespace C,
// the probe sends on the bridge itself) and talk failover over a
// dedicated veth (198.19.0.1 - 198.19.0.2).
const (
	foThreshold = 3
	foAddrA     = "198.18.0.1"
	foAddrB     = "198.18.0.2"
	foPeerA     = "198.19.0.1"
	foPeerB     = "198.19.0.2"
)

const foYAML = `
interfaces: [lan0]
subnets:
  - subnet: 198.18.0.0/24
    ranges: [198.18.0.10-198.18.0.250]
    lease-time: 10m
`

type foServer struct {
	name, addr, peerIf, peerAddr, partner string
	role                                  string
	ns                                    *labnet.NS
	cmd                                   *exec.Cmd
	log                                   *bytes.Buffer
	logMu                                 *sync.Mutex
	dir                                   string
}

type foLab struct {
	t      *testing.T
	bin    string
	dir    string
	a, b   *foServer
	cli    *labnet.NS
	probe  *probe.Conn
	sock   *labnet.PacketSocket
	secret string
}

func newFoLab(t *testing.T) *foLab {
	t.Helper()
	needRoot(t)
	ctx := context.Background()
	id := fmt.Sprintf("xf%d", os.Getpid()%100000)
	l := &foLab{t: t, bin: buildBinary(t), dir: t.TempDir()}
	var err error
	mk := func(suffix string) *labnet.NS {
		ns, err := labnet.NewNS(ctx, id+suffix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Close() })
		return ns
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	l.cli = mk("c")
	l.a = &foServer{name: "A", role: "primary", addr: foAddrA, peerIf: "peer0", peerAddr: foPeerA, partner: foPeerB, ns: mk("a")}
	l.b = &foServer{name: "B", role: "secondary", addr: foAddrB, peerIf: "peer0", peerAddr: foPeerB, partner: foPeerA, ns: mk("b")}
	must(l.cli.IP(ctx, "link", "add", "br0", "type", "bridge"))
	must(l.cli.IP(ctx, "link", "set", "br0", "up"))
	must(l.cli.IP(ctx, "addr", "add", "198.18.0.9/24", "dev", "br0"))
	for _, s := range []*foServer{l.a, l.b} {
		port := "p" + strings.ToLower(s.name)
		must(labnet.Veth(ctx, s.ns, "lan0", s.addr+"/24", l.cli, port, ""))
		must(l.cli.IP(ctx, "link", "set", port, "master", "br0"))
		s.dir = filepath.Join(l.dir, s.name)
		must(os.MkdirAll(s.dir, 0o755))
	}
	must(labnet.Veth(ctx, l.a.ns, "peer0", foPeerA+"/30", l.b.ns, "peer0", foPeerB+"/30"))
	must(os.WriteFile(filepath.Join(l.dir, "xdhcp.yaml"), []byte(foYAML), 0o644))
	l.secret = filepath.Join(l.dir, "secret")
	must(os.WriteFile(l.secret, []byte("lab-shared-secret-0123456789\n"), 0o600))
	if l.sock, err = l.cli.OpenPacketSocket("br0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.sock.Close() })
	l.probe = probe.Wrap(l.sock)
	return l
}

func (s *foServer) control() string { return filepath.Join(s.dir, "control.sock") }
func (s *foServer) db() string      { return filepath.Join(s.dir, "leases.db") }
func (s *foServer) logText() string { s.logMu.Lock(); defer s.logMu.Unlock(); return s.log.String() }

// start runs s's daemon with the pair's flags (extra override) and waits
// until it serves.
func (l *foLab) start(s *foServer, extra ...string) {
	t := l.t
	t.Helper()
	args := append([]string{"serve", "--config", filepath.Join(l.dir, "xdhcp.yaml"), "--db", s.db(),
		"--pin-dir", fmt.Sprintf("/sys/fs/bpf/xdhcp-test-xf-%d-%s", os.Getpid(), s.name),
		"--role", s.role, "--split", "128", "--threshold", fmt.Sprint(foThreshold),
		"--peer", s.partner, "--listen-peer", s.peerAddr + ":647", "--secret-file", l.secret,
		"--mclt", "10s", "--receive-timeout", "3s", "--control", s.control()}, extra...)
	cmd := s.ns.Command(context.Background(), l.bin, args...)
	s.log, s.logMu = &bytes.Buffer{}, &sync.Mutex{}
	cmd.Stdout, cmd.Stderr = lockedBuf{s.logMu, s.log}, lockedBuf{s.logMu, s.log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	t.Cleanup(func() { l.stop(s, syscall.SIGKILL) })
	deadline := time.Now().Add(40 * time.Second)
	for {
		if serving(s.control()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon %s did not start:\n%s", s.name, s.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *foLab) stop(s *foServer, sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(sig)
	s.cmd.Wait()
	s.cmd = nil
}

func (l *foLab) status(s *foServer) failover.Status {
	l.t.Helper()
	st, err := control.Dial(s.control()).Failover(context.Background())
	if err != nil {
		l.t.Fatalf("status of %s: %v", s.name, err)
	}
	return st
}

// statusCLI reads the status through the command, as an operator does.
func (l *foLab) statusCLI(s *foServer) failover.Status {
	l.t.Helper()
	out := run(l.t, exec.Command(l.bin, "status", "--json", "--control", s.control()))
	var st failover.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		l.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

func (l *foLab) waitStates(within time.Duration, want map[*foServer]decide.State) {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok := true
		for s, st := range want {
			if l.status(s).State != st {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for s := range want {
				l.t.Logf("%s status %+v\nlog:\n%s", s.name, l.status(s), s.logText())
			}
			l.t.Fatalf("states %v not reached within %s", want, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leases reads a daemon's store through `xdhcp leases`.
func (l *foLab) leases(s *foServer) map[netip.Addr]lease.Lease {
	l.t.Helper()
	out := run(l.t, exec.Command(l.bin, "leases", "--json", "--db", s.db(), "--control", s.control()))
	var ls []lease.Lease
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		l.t.Fatalf("leases --json: %v\n%s", err, out)
	}
	m := map[netip.Addr]lease.Lease{}
	for _, x := range ls {
		m[x.IP] = x
	}
	return m
}

// bound is the comparable part of the bound leases: address -> client.
func bound(m map[netip.Addr]lease.Lease) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for ip, x := range m {
		if x.State == lease.Bound {
			out[ip] = x.Client.String() + " until " + x.Expiry.UTC().Format(time.RFC3339Nano)
		}
	}
	return out
}

func labMAC(i int) net.HardwareAddr { return net.HardwareAddr{0x02, 0xf0, 0, 0, byte(i >> 8), byte(i)} }

// ownerOf is the reference hash's owner of a MAC under split 128.
func ownerOf(mac net.HardwareAddr) string {
	if decide.MustSplit(128).Owner(decide.Bucket(mac)) == decide.Primary {
		return foAddrA
	}
	return foAddrB
}

func (l *foLab) offers(mac net.HardwareAddr, secs uint16, wait time.Duration) []string {
	l.t.Helper()
	row, err := l.probe.Discover(context.Background(), mac, uint32(time.Now().UnixNano()), secs, wait)
	for errors.Is(err, syscall.EINTR) { // the Go runtime's signals interrupt poll
		row, err = l.probe.Discover(context.Background(), mac, uint32(time.Now().UnixNano()), secs, wait)
	}
	if err != nil {
		l.t.Fatal(err)
	}
	var out []string
	for _, a := range row.Servers() {
		out = append(out, a.String())
	}
	return out
}

// takeover sends DISCOVERs at secs 0 for a MAC the given server owns until
// the other server offers, and returns how long that took from since.
func (l *foLab) takeover(mac net.HardwareAddr, survivor string, since time.Time, within time.Duration) time.Duration {
	l.t.Helper()
	for time.Since(since) < within {
		for _, s := range l.offers(mac, 0, 15*time.Millisecond) {
			if s == survivor {
				return time.Since(since)
			}
		}
	}
	l.t.Fatalf("%s did not answer %s at secs 0 within %s", survivor, mac, within)
	return 0
}

// dora gets a lease for mac from whichever server offers first and
// returns the ACKing server and address ("" on NAK or silence).
func (l *foLab) dora(mac net.HardwareAddr, secs uint16, prefer string) (server, ip string) {
	l.t.Helper()
	xid := dhcpv4.TransactionID{byte(time.Now().UnixNano()), mac[4], mac[5], 0x55}
	disc, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithTransactionID(xid), dhcpv4.WithBroadcast(true))
	if err != nil {
		l.t.Fatal(err)
	}
	disc.NumSeconds = secs
	offer := l.exchange(mac, disc, dhcpv4.MessageTypeOffer, prefer)
	if offer == nil && prefer != "" {
		offer = l.exchange(mac, disc, dhcpv4.MessageTypeOffer, "")
	}
	if offer == nil {
		return "", ""
	}
	req, err := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithBroadcast(true))
	if err != nil {
		l.t.Fatal(err)
	}
	ack := l.exchange(mac, req, dhcpv4.MessageTypeAck, "")
	if ack == nil {
		return "", ""
	}
	// lease-time is 10m and MCLT 10s: the partner has acknowledged nothing
	// beyond now for a new binding, so the MCLT rule caps the lease at 10s.
	if lt := ack.IPAddressLeaseTime(0); lt <= 0 || lt > 10*time.Second {
		l.t.Errorf("ACK for %s from %s carries lease time %s, want (0, MCLT 10s]", mac, ack.ServerIdentifier(), lt)
	}
	return ack.ServerIdentifier().String(), ack.YourIPAddr.String()
}

// exchange sends m and returns the first reply of type want for it (from
// server, when given: a client that picks one of several offers).
func (l *foLab) exchange(mac net.HardwareAddr, m *dhcpv4.DHCPv4, want dhcpv4.MessageType, server string) *dhcpv4.DHCPv4 {
	return sockExchange(l.t, l.sock, mac, m, want, server)
}

// sockExchange sends m from mac on a client's packet socket and returns
// the first reply of type want (from server, when given); nil on a NAK or
// after 500 ms.
func sockExchange(t *testing.T, sock *labnet.PacketSocket, mac net.HardwareAddr, m *dhcpv4.DHCPv4, want dhcpv4.MessageType, server string) *dhcpv4.DHCPv4 {
	t.Helper()
	if err := sock.Send(frames.Frame{Src: mac, Payload: m.ToBytes()}.Bytes()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		n, err := sock.Recv(buf, 50)
		if err != nil {
			continue
		}
		p, ok := clientPayload(buf[:n])
		if !ok {
			continue
		}
		r, err := dhcpv4.FromBytes(p)
		if err != nil || r.OpCode != dhcpv4.OpcodeBootReply || r.TransactionID != m.TransactionID {
			continue
		}
		if r.MessageType() == want && (server == "" || r.ServerIdentifier().String() == server) {
			return r
		}
		if r.MessageType() == dhcpv4.MessageTypeNak {
			return nil
		}
	}
	return nil
}

// clientPayload is the UDP payload of an IPv4 frame to port 68.
func clientPayload(f []byte) ([]byte, bool) { return udpPayloadTo(f, 68) }

func waitLog(t *testing.T, s *foServer, text string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(s.logText(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%s's log has no %q:\n%s", s.name, text, s.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastLine(log, text string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], text) {
			return lines[i]
		}
	}
	return ""
}

// metricValue reads one sample's value from the text exposition (-1: absent).
func metricValue(body []byte, name string) float64 {
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

// udpPayloadTo is the UDP payload of an IPv4 frame to port (67: replies to a relay).
func udpPayloadTo(f []byte, port uint16) ([]byte, bool) {
	if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[14+9] != 17 {
		return nil, false
	}
	ihl := int(f[14]&0x0f) * 4
	u := f[14+ihl:]
	if len(u) < 8 || binary.BigEndian.Uint16(u[2:]) != port {
		return nil, false
	}
	return u[8:], true
}
