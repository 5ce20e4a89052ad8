package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/userspace/dhcpserver"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// crashYAML: one relayed /18 (perfdhcp's giaddr 198.18.64.2 selects it),
// leases far longer than the run, so no address may legitimately move
// from one client to another while the test watches.
const crashYAML = `
interfaces: [srv0]
lease-time: 1h
subnets:
  - subnet: 198.18.64.0/18
    ranges: [198.18.64.10-198.18.127.250]
    routers: 198.18.64.1
`

// ackRec is one ACK as the client side received it.
type ackRec struct {
	client string // lease.ClientID as hex, as the store records it
	ip     netip.Addr
	lease  time.Duration
	at     time.Time
}

// ackCapture records every ACK arriving at the client interface: perfdhcp
// does not log per-client ACKs, so this is the clients' view of what the
// server promised.
type ackCapture struct {
	mu   sync.Mutex
	acks []ackRec
	sock *labnet.PacketSocket
	done chan struct{}
}

func captureAcks(t *testing.T, ctx context.Context, ns *labnet.NS, iface string) *ackCapture {
	t.Helper()
	sock, err := ns.OpenPacketSocket(iface)
	if err != nil {
		t.Fatal(err)
	}
	if err := sock.SetRecvBuffer(64 << 20); err != nil {
		sock.Close()
		t.Fatal(err)
	}
	c := &ackCapture{sock: sock, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		buf := make([]byte, 4096)
		for ctx.Err() == nil {
			n, err := sock.Recv(buf, 100)
			if err != nil {
				continue
			}
			// perfdhcp is a relay: replies come to giaddr:67.
			p, ok := udpPayloadTo(buf[:n], 67)
			if !ok {
				continue
			}
			m, err := dhcpv4.FromBytes(p)
			if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || m.MessageType() != dhcpv4.MessageTypeAck {
				continue
			}
			ip, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
			r := ackRec{client: dhcpserver.ClientIDOf(m).String(), ip: ip, lease: m.IPAddressLeaseTime(0), at: time.Now()}
			c.mu.Lock()
			c.acks = append(c.acks, r)
			c.mu.Unlock()
		}
	}()
	return c
}

// snapshot is every ACK captured so far.
func (c *ackCapture) snapshot() []ackRec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ackRec(nil), c.acks...)
}

// close waits for the reader and reports the frames the kernel dropped
// (ACKs possibly missed: fewer checked, never a false violation).
func (c *ackCapture) close() uint32 {
	<-c.done
	drops, _ := c.sock.Drops()
	c.sock.Close()
	return drops
}

// ackCheck compares the ACKs the clients received with the store.
type ackCheck struct {
	acks, clients, leases int
	violations            []string
}

// checkAcks: for each client its latest ACK is bound to it in the store
// at that address, lasting at least as long as the ACK promised (a
// renewal's ACK must not be lost either); and no address was ever ACKed
// to two clients.
func checkAcks(acks []ackRec, store []lease.Lease) ackCheck {
	r := ackCheck{acks: len(acks), leases: len(store)}
	byIP := map[netip.Addr]lease.Lease{}
	for _, l := range store {
		byIP[l.IP] = l
	}
	latest := map[string]ackRec{}
	owner := map[netip.Addr]string{}
	for _, a := range acks {
		latest[a.client] = a
		if o, ok := owner[a.ip]; ok && o != a.client {
			r.violations = append(r.violations, fmt.Sprintf("%v ACKed to %s and to %s", a.ip, o, a.client))
		}
		owner[a.ip] = a.client
	}
	r.clients = len(latest)
	for c, a := range latest {
		l, ok := byIP[a.ip]
		switch {
		case !ok:
			r.violations = append(r.violations, fmt.Sprintf("%v ACKed to %s at %s is not in the store", a.ip, c, a.at.Format(time.StampMilli)))
		case l.State != lease.Bound || l.Client.String() != c:
			r.violations = append(r.violations, fmt.Sprintf("%v ACKed to %s is %v to %s in the store", a.ip, c, l.State, l.Client))
		case l.Expiry.Before(a.at.Add(a.lease - 2*time.Second)):
			// 2 s: the ACK carries whole seconds and is captured after the server stamped it.
			r.violations = append(r.violations, fmt.Sprintf("%v ACKed to %s until %s, store says %s", a.ip, c,
				a.at.Add(a.lease).Format(time.StampMilli), l.Expiry.Format(time.StampMilli)))
		}
	}
	return r
}

// crashLab is a daemon in namespace S configured by crashYAML and perfdhcp
// in namespace C, joined by srv0 198.18.64.1/18 - pf0 198.18.64.2/18.
func newCrashLab(t *testing.T) (*serveLab, context.Context) {
	t.Helper()
	needRoot(t)
	if _, err := exec.LookPath("perfdhcp"); err != nil {
		t.Skip("perfdhcp not installed (kea-admin, scripts/install-deps.sh)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l := newPairLab(t, "xk", "198.18.64.1/18", "pf0", "198.18.64.2/18")
	if err := os.WriteFile(filepath.Join(l.dir, "xdhcp.yaml"), []byte(crashYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return l, ctx
}

// startPerfdhcp drives load until the returned stop is called: relayed
// clients drawn at random from `clients`, so many come back and renew.
func startPerfdhcp(t *testing.T, ctx context.Context, l *serveLab, rate, clients int) (stop func() string) {
	t.Helper()
	pf := l.cli.Command(ctx, "perfdhcp", "-4", "-l", "pf0", "-r", strconv.Itoa(rate), "-R", strconv.Itoa(clients),
		"-p", "600", "198.18.64.1")
	var out bytes.Buffer
	pf.Stdout, pf.Stderr = &out, &out
	if err := pf.Start(); err != nil {
		t.Fatalf("perfdhcp: %v", err)
	}
	var once sync.Once
	stop = func() string {
		once.Do(func() {
			// ip netns exec execs perfdhcp: this PID is perfdhcp's.
			pf.Process.Signal(syscall.SIGINT)
			pf.Wait()
		})
		return out.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// envInt reads a tuning knob of scripts/crash.sh.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// countSince counts ACKs captured at or after t0.
func countSince(acks []ackRec, t0 time.Time) int {
	n := 0
	for _, a := range acks {
		if !a.at.Before(t0) {
			n++
		}
	}
	return n
}

// Under perfdhcp load, xdhcp serve is killed with SIGKILL at random
// moments and restarted on the same store; after each kill the store file
// holds every lease a client was ACKed, and no address was ever ACKed to
// two clients. Last, SIGTERM under load: serve exits 0 at once and the
// file again holds every ACKed lease. XDHCP_CRASH_KILLS, _RATE, _SEED tune
// it (scripts/crash.sh).
func TestServeCrashConsistency(t *testing.T) {
	l, ctx := newCrashLab(t)
	kills := envInt(t, "XDHCP_CRASH_KILLS", 5)
	rate := envInt(t, "XDHCP_CRASH_RATE", 800)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("XDHCP_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rnd := rand.New(rand.NewPCG(seed, seed))
	pause := func() time.Duration {
		return 300*time.Millisecond + time.Duration(rnd.Int64N(int64(1200*time.Millisecond)))
	}
	t.Logf("seed %d (XDHCP_CRASH_SEED to replay), %d kills, %d exchanges/s", seed, kills, rate)

	l.start()
	capCtx, stopCapture := context.WithCancel(ctx)
	capt := captureAcks(t, capCtx, l.cli, "pf0")
	stopPerf := startPerfdhcp(t, ctx, l, rate, 4*rate)

	check := func(t *testing.T, when string) ackCheck {
		t.Helper()
		r := checkAcks(capt.snapshot(), mustReadFile(t, l.db()))
		for i, v := range r.violations {
			if i == 10 {
				t.Errorf("%s: ... %d violations in all", when, len(r.violations))
				break
			}
			t.Errorf("%s: %s", when, v)
		}
		return r
	}
	up := time.Now()
	for i := 1; i <= kills; i++ {
		time.Sleep(pause())
		l.stop(syscall.SIGKILL)
		// The daemon is gone: what the file holds is what a restart loads.
		time.Sleep(20 * time.Millisecond) // ACKs already on the wire reach the capture
		r := check(t, fmt.Sprintf("after kill %d", i))
		during := countSince(capt.snapshot(), up)
		t.Logf("kill %d: %d ACKs while up, %d ACKs so far to %d clients, %d leases in the file, %d violations",
			i, during, r.acks, r.clients, r.leases, len(r.violations))
		if during == 0 {
			t.Fatalf("kill %d: no ACK while the daemon was up: not under load\n%s", i, l.log)
		}
		l.start()
		up = time.Now()
	}

	t.Run("SIGTERM under load flushes the store and exits 0", func(t *testing.T) {
		time.Sleep(pause())
		t0 := time.Now()
		l.daemon.Process.Signal(syscall.SIGTERM)
		err := l.daemon.Wait()
		took := time.Since(t0)
		code := l.daemon.ProcessState.ExitCode()
		l.daemon = nil
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if code != 0 || took > 5*time.Second {
			t.Errorf("serve exited %d after %s on SIGTERM, want 0 within 5 s\n%s", code, took, l.log)
		}
		time.Sleep(20 * time.Millisecond)
		r := check(t, "after SIGTERM")
		t.Logf("MEASURED sigterm: exit %d in %s, %d ACKs (%d since the last restart) to %d clients, %d leases in the file, %d violations",
			code, took.Round(time.Millisecond), r.acks, countSince(capt.snapshot(), up), r.clients, r.leases, len(r.violations))
	})

	out := stopPerf()
	stopCapture()
	drops := capt.close()
	final := checkAcks(capt.snapshot(), mustReadFile(t, l.db()))
	if final.acks < 1000 {
		t.Fatalf("only %d ACKs captured: the load did not run\nperfdhcp:\n%s", final.acks, out)
	}
	t.Logf("MEASURED crash: %d kill -9 + 1 SIGTERM, %d ACKs seen, %d distinct clients, %d leases in store, %d violations, %d capture drops",
		kills, final.acks, final.clients, final.leases, len(final.violations), drops)
	// The capture must have seen every ACK perfdhcp counted (it may see
	// a few more: those after perfdhcp stopped counting).
	if m := perfdhcpReceived.FindAllStringSubmatch(out, -1); len(m) == 2 {
		if n, _ := strconv.Atoi(m[1][1]); drops == 0 && final.acks < n {
			t.Errorf("capture saw %d ACKs, perfdhcp received %d", final.acks, n)
		}
		t.Logf("perfdhcp received %s ACKs", m[1][1])
	} else {
		t.Errorf("no perfdhcp statistics:\n%s", out)
	}
}

var perfdhcpReceived = regexp.MustCompile(`received packets: (\d+)`)

func mustReadFile(t *testing.T, db string) []lease.Lease {
	t.Helper()
	ls, err := lease.ReadFile(db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}
