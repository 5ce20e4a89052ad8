package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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

func TestFailoverPairLab(t *testing.T) {
	l := newFoLab(t)
	a, b := l.a, l.b
	l.start(b)
	l.start(a, "--metrics", "127.0.0.1:9167")
	l.waitStates(10*time.Second, map[*foServer]decide.State{a: decide.Normal, b: decide.Normal})
	// The daemons attach XDP after their control sockets open; the
	// engine's rule reaches the map within one tick after that.
	waitLog(t, a, "msg=serving", 10*time.Second)
	waitLog(t, b, "msg=serving", 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	t.Run("normal: owner only below the threshold, both from it", func(t *testing.T) {
		perOwner := map[string]int{}
		for i := 0; i < 64; i++ {
			mac := labMAC(i)
			owner := ownerOf(mac)
			perOwner[owner]++
			if got := l.offers(mac, foThreshold-1, 60*time.Millisecond); len(got) != 1 || got[0] != owner {
				t.Errorf("%s (bucket %d) secs %d: offers from %v, want only the owner %s", mac, decide.Bucket(mac), foThreshold-1, got, owner)
			}
			if got := l.offers(mac, foThreshold, 60*time.Millisecond); len(got) != 2 {
				t.Errorf("%s secs %d: offers from %v, want both", mac, foThreshold, got)
			}
		}
		t.Logf("64 MACs: %d owned by A, %d by B", perOwner[foAddrA], perOwner[foAddrB])
		// partner-down is refused while the partner is connected.
		out, err := exec.Command(l.bin, "partner-down", "--control", a.control()).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "the partner is connected") {
			t.Errorf("partner-down while connected: %v\n%s", err, out)
		}
		text := run(t, exec.Command(l.bin, "status", "--control", a.control()))
		for _, want := range []string{"state              normal", "buckets owned now  128 of 256", "unacked updates    0", "primary (this server)"} {
			if !strings.Contains(text, want) {
				t.Errorf("status output lacks %q:\n%s", want, text)
			}
		}
		// The failover and pool gauges of serve --metrics.
		var body []byte
		if err := a.ns.Do(func() error { // dial on this thread: it is in A's namespace
			conn, err := net.Dial("tcp", "127.0.0.1:9167")
			if err != nil {
				return err
			}
			defer conn.Close()
			fmt.Fprint(conn, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err = io.ReadAll(resp.Body)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`xdhcp_failover_state{state="normal"} 1`, `xdhcp_failover_partner_state{state="normal"} 1`, `share="local"`, `share="partner"`} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("metrics lack %s", want)
			}
		}
		// The responder's counters: A offered at least once per MAC (at secs T).
		for _, name := range []string{"xdhcp_dhcp_offers_total", `xdhcp_dhcp_received_total{message_type="discover"}`} {
			if n := metricValue(body, name); n < 64 {
				t.Errorf("%s = %v, want >= 64 after 64 clients", name, n)
			}
		}
		st := l.statusCLI(a)
		if st.BucketsOwned != 128 || st.PartnerState == nil || *st.PartnerState != decide.Normal || st.LastContact == nil {
			t.Errorf("A status %+v", st)
		}
	})

	// Leases taken now must be in both stores.
	acked := map[string]string{} // ip -> mac, every ACK any client saw
	ackedBy := func(mac net.HardwareAddr, server, ip string) {
		t.Helper()
		if ip == "" {
			return
		}
		if prev, ok := acked[ip]; ok && prev != mac.String() {
			t.Errorf("address %s ACKed to %s and to %s (by %s)", ip, prev, mac, server)
		}
		acked[ip] = mac.String()
	}
	for i := 100; i < 108; i++ {
		mac := labMAC(i)
		srv, ip := l.dora(mac, 0, "")
		if srv != ownerOf(mac) {
			t.Errorf("%s: ACK from %q, want the owner %s", mac, srv, ownerOf(mac))
		}
		ackedBy(mac, srv, ip)
	}
	sameBindings := func(what string) {
		t.Helper()
		var ba, bb map[netip.Addr]string
		deadline := time.Now().Add(5 * time.Second)
		for {
			ba, bb = bound(l.leases(a)), bound(l.leases(b))
			if fmt.Sprint(ba) == fmt.Sprint(bb) && len(ba) > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if fmt.Sprint(ba) != fmt.Sprint(bb) {
			t.Errorf("%s: stores differ:\nA %v\nB %v", what, ba, bb)
		}
		clients := map[string]netip.Addr{}
		for ip, c := range ba {
			c, _, _ = strings.Cut(c, " ")
			if prev, ok := clients[c]; ok {
				t.Errorf("%s: client %s bound to %s and %s", what, c, prev, ip)
			}
			clients[c] = ip
		}
		t.Logf("%s: both stores hold the same %d bindings", what, len(ba))
	}
	sameBindings("after 8 leases")

	aOwned, bOwned := net.HardwareAddr(nil), net.HardwareAddr(nil)
	for i := 0; aOwned == nil || bOwned == nil; i++ {
		if mac := labMAC(i); ownerOf(mac) == foAddrA {
			aOwned = mac
		} else {
			bOwned = mac
		}
	}

	t.Run("kill -9: survivor answers at secs 0", func(t *testing.T) {
		killed := time.Now()
		l.stop(a, syscall.SIGKILL)
		d := l.takeover(aOwned, foAddrB, killed, 2*time.Second)
		t.Logf("MEASURED takeover after kill -9 of A: B offered to A's client at secs 0 after %s", d.Round(time.Millisecond))
		if d > 500*time.Millisecond {
			t.Errorf("takeover took %s, want within 0.5 s", d)
		}
		if st := l.status(b); st.State != decide.CommunicationsInterrupted || st.BucketsOwned != 256 || st.Connected {
			t.Errorf("B status %+v", st)
		}
		// The operator confirms A is down.
		var pd failover.Status
		out := run(t, exec.Command(l.bin, "partner-down", "--json", "--control", b.control()))
		if err := json.Unmarshal([]byte(out), &pd); err != nil || pd.State != decide.PartnerDown || pd.PartnerDownSince == nil {
			t.Errorf("partner-down: %v %+v", err, pd)
		}
		// B's clients meanwhile: two new leases only B knows.
		for i := 110; i < 112; i++ {
			mac := labMAC(i)
			srv, ip := l.dora(mac, 0, "")
			if srv != foAddrB {
				t.Errorf("%s: ACK from %q while A is down", mac, srv)
			}
			ackedBy(mac, srv, ip)
		}
	})

	t.Run("restart: both normal, same bindings", func(t *testing.T) {
		start := time.Now()
		l.start(a)
		l.waitStates(10*time.Second, map[*foServer]decide.State{a: decide.Normal, b: decide.Normal})
		t.Logf("A restarted and both normal after %s (XDP load included)", time.Since(start).Round(time.Millisecond))
		sameBindings("after restart")
		if got := l.offers(aOwned, 0, 100*time.Millisecond); len(got) != 1 || got[0] != foAddrA {
			t.Errorf("A's client after the restart: offers from %v, want only A", got)
		}
	})

	t.Run("silent loss, partition and heal", func(t *testing.T) {
		ctx := context.Background()
		cut := time.Now()
		// No FIN: B's end of the failover link goes down; TCP on both
		// sides only stops hearing.
		if err := b.ns.IP(ctx, "link", "set", "peer0", "down"); err != nil {
			t.Fatal(err)
		}
		defer b.ns.IP(ctx, "link", "set", "peer0", "up") // also when a check below fails
		d := l.takeover(aOwned, foAddrB, cut, 5*time.Second)
		t.Logf("MEASURED silent loss: B answered A's client at secs 0 after %s (receive timeout 3s)", d.Round(time.Millisecond))
		if d > 3*time.Second+200*time.Millisecond {
			t.Errorf("silent loss took %s, want within the receive timeout 3s", d)
		}
		l.waitStates(time.Second, map[*foServer]decide.State{a: decide.CommunicationsInterrupted, b: decide.CommunicationsInterrupted})
		// Clients against both sides while partitioned: each takes the first ACK.
		served := map[string]int{}
		for i := 120; i < 140; i++ {
			mac := labMAC(i)
			srv, ip := l.dora(mac, 0, []string{foAddrA, foAddrB}[i%2])
			if ip == "" {
				t.Errorf("%s got no lease during the partition", mac)
			}
			served[srv]++
			ackedBy(mac, srv, ip)
		}
		t.Logf("during the partition: ACKs per server %v; shares A %+v B %+v", served, l.status(a).Shares, l.status(b).Shares)
		// A client of A's rebinds (broadcast, ciaddr set) and takes B's ACK:
		// after the heal both stores must hold B's newer lease.
		var renewMAC net.HardwareAddr
		var renewIP string
		for i := 100; i < 108 && renewMAC == nil; i++ {
			if ownerOf(labMAC(i)) == foAddrA {
				renewMAC = labMAC(i)
			}
		}
		for ip, m := range acked {
			if m == renewMAC.String() {
				renewIP = ip
			}
		}
		rebind, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(renewMAC),
			dhcpv4.WithClientIP(net.ParseIP(renewIP)), dhcpv4.WithBroadcast(true))
		if err != nil {
			t.Fatal(err)
		}
		// The ACK is unicast to ciaddr: the client namespace must answer ARP for it.
		if err := l.cli.IP(ctx, "addr", "add", renewIP+"/32", "dev", "br0"); err != nil {
			t.Fatal(err)
		}
		ack := l.exchange(renewMAC, rebind, dhcpv4.MessageTypeAck, foAddrB)
		l.cli.IP(ctx, "addr", "del", renewIP+"/32", "dev", "br0")
		if ack == nil || ack.YourIPAddr.String() != renewIP {
			t.Fatalf("rebinding %s for %s at B during the partition: %v", renewMAC, renewIP, ack)
		}
		renewed := l.leases(b)[netip.MustParseAddr(renewIP)]
		if err := b.ns.IP(ctx, "link", "set", "peer0", "up"); err != nil {
			t.Fatal(err)
		}
		healed := time.Now()
		l.waitStates(10*time.Second, map[*foServer]decide.State{a: decide.Normal, b: decide.Normal})
		t.Logf("healed: both normal after %s", time.Since(healed).Round(time.Millisecond))
		sameBindings("after the partition")
		// Both servers may have answered the rebinding (both serve everyone
		// while partitioned); the client holds B's ACK, so neither store may
		// end the lease before B's expiry.
		for _, s := range []*foServer{a, b} {
			if got := l.leases(s)[netip.MustParseAddr(renewIP)]; got.Expiry.Before(renewed.Expiry) || got.Client.String() != renewed.Client.String() {
				t.Errorf("%s's record of %s after the heal: %+v, want the client's lease until at least B's %v", s.name, renewIP, got, renewed.Expiry)
			}
		}
		for ip, x := range bound(l.leases(a)) {
			x, _, _ = strings.Cut(x, " ")
			if mac, ok := acked[ip.String()]; ok && !strings.HasSuffix(x, strings.ReplaceAll(mac, ":", "")) {
				t.Errorf("%s: store says client %s, the ACK went to %s", ip, x, mac)
			}
		}
	})

	t.Run("garbage from the partner's address: refused, no state change", func(t *testing.T) {
		before := l.status(a)
		var c net.Conn
		err := b.ns.Do(func() error {
			var err error
			c, err = net.DialTimeout("tcp", foPeerA+":647", time.Second)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Write(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 20000))
		c.Close()
		waitLog(t, a, "peer connection refused", 2*time.Second)
		t.Logf("A's log: %s", lastLine(a.logText(), "peer connection refused"))
		if after := l.status(a); after.State != decide.Normal || !after.StateSince.Equal(before.StateSince) || !after.Connected {
			t.Errorf("A's state changed: %+v", after)
		}
	})

	t.Run("graceful SIGTERM hands the buckets over", func(t *testing.T) {
		stopped := time.Now()
		l.stop(b, syscall.SIGTERM)
		exited := time.Since(stopped)
		d := l.takeover(bOwned, foAddrA, stopped, 2*time.Second)
		t.Logf("MEASURED graceful stop: B exited after %s; A answered B's client at secs 0 after %s", exited.Round(time.Millisecond), d.Round(time.Millisecond))
		st := l.status(a)
		if st.State != decide.PartnerDown || !strings.Contains(st.Reason, "shutting down") {
			t.Errorf("A status after B's SIGTERM: %+v", st)
		}
		if !strings.Contains(a.logText(), "partner is shutting down") {
			t.Error("A's log does not say B shut down")
		}
	})

	t.Run("wrong secret and wrong role: refused in both logs, no state change", func(t *testing.T) {
		wrong := filepath.Join(l.dir, "wrong-secret")
		if err := os.WriteFile(wrong, []byte("not-the-pair's-secret-at-all"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name       string
			args       []string
			aLog, bLog string
		}{
			{"wrong secret", []string{"--secret-file", wrong}, "wrong shared secret", "MAC does not match"},
			{"wrong role", []string{"--role", "primary"}, "both servers are primary", "both servers are primary"},
		} {
			before := l.status(a)
			l.start(b, tc.args...)
			waitLog(t, a, tc.aLog, 3*time.Second)
			waitLog(t, b, tc.bLog, 3*time.Second)
			t.Logf("%s: A: %s", tc.name, lastLine(a.logText(), tc.aLog))
			t.Logf("%s: B: %s", tc.name, lastLine(b.logText(), tc.bLog))
			if st := l.status(a); st.State != decide.PartnerDown || !st.StateSince.Equal(before.StateSince) || st.Connected {
				t.Errorf("%s: A's state changed: %+v", tc.name, st)
			}
			if st := l.status(b); st.Connected || (st.State != decide.Startup && st.State != decide.CommunicationsInterrupted) {
				t.Errorf("%s: B connected or moved on: %+v", tc.name, st)
			}
			l.stop(b, syscall.SIGKILL)
		}
		l.start(b)
		l.waitStates(10*time.Second, map[*foServer]decide.State{a: decide.Normal, b: decide.Normal})
		sameBindings("B back with the right configuration")
	})
}

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
