package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/internal/labnet/testlock"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// newPairLab is a serveLab of two namespaces, the server's (srv0 at
// srvAddr) and a client's (cliIf at cliAddr, "" for none), named from
// prefix and this process, removed by the test's cleanup.
func newPairLab(t *testing.T, prefix, srvAddr, cliIf, cliAddr string) *serveLab {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("%s%d", prefix, os.Getpid()%100000)
	l := &serveLab{t: t, bin: buildBinary(t), dir: t.TempDir()}
	var err error
	if l.srv, err = labnet.NewNS(ctx, id+"s"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.srv.Close() })
	if l.cli, err = labnet.NewNS(ctx, id+"c"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.cli.Close() })
	if err := labnet.Veth(ctx, l.srv, "srv0", srvAddr, l.cli, cliIf, cliAddr); err != nil {
		t.Fatal(err)
	}
	return l
}

// serveLab: the server namespace S serves direct clients on srv0
// (198.18.0.0/24, client namespace C) and relayed clients behind a real
// dhcrelay in namespace R (server side 198.18.2.0/24, client side
// 198.18.3.0/24 in namespace C2).
type serveLab struct {
	t                 *testing.T
	bin, dir          string
	srv, cli, rel, c2 *labnet.NS
	daemon            *exec.Cmd
	log               *bytes.Buffer
}

const serveYAML = `
interfaces: [srv0, srv1]
decline-probation: 1h
subnets:
  - subnet: 198.18.0.0/24
    ranges: [198.18.0.100-198.18.0.150]
    routers: 198.18.0.1
    dns: 198.18.0.53
    domain: lab.example
    lease-time: 8s
    t1: 3s
    t2: 6s
    reservations:
      - {mac: "02:00:00:00:aa:01", ip: 198.18.0.10, hostname: reserved-host}
  - subnet: 198.18.3.0/24
    ranges: [198.18.3.100-198.18.3.150]
    routers: 198.18.3.1
`

func newServeLab(t *testing.T) *serveLab {
	t.Helper()
	needRoot(t)
	for _, tool := range []string{"dhclient", "dhcrelay"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh)", tool)
		}
	}
	ctx := context.Background()
	id := fmt.Sprintf("xr%d", os.Getpid()%100000)
	l := &serveLab{t: t, bin: buildBinary(t), dir: t.TempDir()}
	for _, p := range []struct {
		ns   **labnet.NS
		name string
	}{{&l.srv, id + "s"}, {&l.cli, id + "c"}, {&l.rel, id + "r"}, {&l.c2, id + "d"}} {
		ns, err := labnet.NewNS(ctx, p.name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Close() })
		*p.ns = ns
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(labnet.Veth(ctx, l.srv, "srv0", "198.18.0.1/24", l.cli, "cli0", ""))
	must(labnet.Veth(ctx, l.srv, "srv1", "198.18.2.1/24", l.rel, "r0", "198.18.2.2/24"))
	must(labnet.Veth(ctx, l.rel, "r1", "198.18.3.1/24", l.c2, "cli1", ""))
	must(l.srv.IP(ctx, "route", "add", "198.18.3.0/24", "via", "198.18.2.2"))
	must(os.WriteFile(filepath.Join(l.dir, "xdhcp.yaml"), []byte(serveYAML), 0o644))
	return l
}

func (l *serveLab) db() string      { return filepath.Join(l.dir, "leases.db") }
func (l *serveLab) control() string { return filepath.Join(l.dir, "control.sock") }

// start runs the daemon in S and waits for its control socket.
func (l *serveLab) start(extra ...string) {
	t := l.t
	t.Helper()
	args := append([]string{"serve", "--config", filepath.Join(l.dir, "xdhcp.yaml"), "--db", l.db(), "--control", l.control()}, extra...)
	cmd := l.srv.Command(context.Background(), l.bin, args...)
	l.log = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = l.log, l.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.daemon = cmd
	t.Cleanup(func() { l.stop(syscall.SIGKILL) })
	// Loading the XDP program (verifier) can take seconds on this machine.
	deadline := time.Now().Add(40 * time.Second)
	for {
		if serving(l.control()) {
			return
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("daemon did not start:\n%s", l.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the daemon with sig (SIGKILL: a crash) and waits for it.
func (l *serveLab) stop(sig syscall.Signal) {
	if l.daemon == nil {
		return
	}
	l.daemon.Process.Signal(sig)
	l.daemon.Wait()
	l.daemon = nil
}

// leases lists the store through the leases command (socket or file).
func (l *serveLab) leases(t *testing.T) map[string]lease.Lease {
	t.Helper()
	out := run(t, exec.Command(l.bin, "leases", "--json", "--db", l.db(), "--control", l.control()))
	var ls []lease.Lease
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		t.Fatalf("leases --json: %v\n%s", err, out)
	}
	m := map[string]lease.Lease{}
	for _, x := range ls {
		m[x.IP.String()] = x
	}
	return m
}

// dhclient is one real ISC client in a namespace.
type dhclient struct {
	l      *serveLab
	ns     *labnet.NS
	iface  string
	lf, pf string
	out    bytes.Buffer
}

func (l *serveLab) client(ns *labnet.NS, iface, name string) *dhclient {
	c := &dhclient{l: l, ns: ns, iface: iface, lf: filepath.Join(l.dir, name+".leases"), pf: filepath.Join(l.dir, name+".pid")}
	l.t.Cleanup(c.kill)
	return c
}

// run runs dhclient -1 with script and returns its exit code; on success
// dhclient stays in the background (renewing) until kill or release.
func (c *dhclient) run(script string, extra ...string) int {
	c.l.t.Helper()
	c.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"-1", "-v", "-sf", script, "-lf", c.lf, "-pf", c.pf}, extra...)
	cmd := c.ns.Command(ctx, "dhclient", append(args, c.iface)...)
	c.out.Reset()
	cmd.Stdout, cmd.Stderr = &c.out, &c.out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		c.l.t.Fatalf("dhclient: %v", err)
	}
	return 0
}

var boundRE = regexp.MustCompile(`bound to (\S+) `)

// get obtains a lease and returns the bound address; extra are more
// dhclient arguments (-cf CONF).
func (c *dhclient) get(extra ...string) string {
	c.l.t.Helper()
	if code := c.run("/bin/true", extra...); code != 0 {
		c.l.t.Fatalf("dhclient exit %d:\n%s\ndaemon:\n%s", code, c.out.String(), c.l.log)
	}
	// dhclient forks into the background and then writes its pid file:
	// wait for it, so kill can find the process.
	waitFor(c.l.t, "dhclient's pid file", 5*time.Second, func() bool {
		b, err := os.ReadFile(c.pf)
		return err == nil && len(bytes.TrimSpace(b)) > 0
	})
	m := boundRE.FindStringSubmatch(c.out.String())
	if m == nil {
		c.l.t.Fatalf("dhclient did not bind:\n%s", c.out.String())
	}
	return m[1]
}

// kill stops a background dhclient by its pid file.
func (c *dhclient) kill() {
	b, err := os.ReadFile(c.pf)
	if err != nil {
		return
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	os.Remove(c.pf)
}

// release runs dhclient -r: it stops the background client and sends RELEASE.
func (c *dhclient) release() {
	c.l.t.Helper()
	cmd := c.ns.Command(context.Background(), "dhclient", "-r", "-v", "-sf", "/bin/true", "-lf", c.lf, "-pf", c.pf, c.iface)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.l.t.Fatalf("dhclient -r: %v\n%s", err, out)
	}
}

func TestServeWithRealClients(t *testing.T) {
	l := newServeLab(t)
	l.start()
	ctx := context.Background()

	t.Run("dhclient gets, renews and releases a lease", func(t *testing.T) {
		c := l.client(l.cli, "cli0", "direct")
		ip := c.get()
		first, ok := l.leases(t)[ip]
		if !ok || first.State != lease.Bound || !strings.HasPrefix(ip, "198.18.0.1") {
			t.Fatalf("bound %s, store has %+v", ip, first)
		}
		// Give the client its address so its unicast RENEW (T1 = 3 s) has a source.
		if err := l.cli.IP(ctx, "addr", "add", ip+"/24", "dev", "cli0"); err != nil {
			t.Fatal(err)
		}
		defer l.cli.IP(ctx, "addr", "del", ip+"/24", "dev", "cli0")
		waitFor(t, "a renewal in the store", 10*time.Second, func() bool {
			r := l.leases(t)[ip]
			return r.State == lease.Bound && r.Start.After(first.Start)
		})
		c.release()
		waitFor(t, "the release in the store", 5*time.Second, func() bool { return l.leases(t)[ip].State == lease.Released })
	})

	t.Run("relayed client through dhcrelay", func(t *testing.T) {
		relay := l.rel.Command(ctx, "dhcrelay", "-4", "-d", "--no-pid", "-iu", "r0", "-id", "r1", "198.18.2.1")
		var rlog bytes.Buffer
		relay.Stdout, relay.Stderr = &rlog, &rlog
		if err := relay.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { relay.Process.Kill(); relay.Wait() }()
		time.Sleep(300 * time.Millisecond) // let dhcrelay open its sockets
		c := l.client(l.c2, "cli1", "relayed")
		ip := c.get()
		if !strings.HasPrefix(ip, "198.18.3.1") {
			t.Fatalf("relayed client bound %s, want 198.18.3.100-150\nrelay:\n%s", ip, rlog.String())
		}
		if r := l.leases(t)[ip]; r.State != lease.Bound {
			t.Fatalf("store: %+v", r)
		}
		c.kill()
	})

	t.Run("NAK for an address from the wrong subnet", func(t *testing.T) {
		c := l.client(l.cli, "cli0", "nak")
		// A lease from another network: dhclient asks for it first (INIT-REBOOT).
		stale := `lease {
  interface "cli0";
  fixed-address 198.18.9.50;
  option subnet-mask 255.255.255.0;
  option dhcp-server-identifier 198.18.9.1;
  renew 4 2037/01/01 00:00:00;
  rebind 4 2037/01/01 00:00:00;
  expire 4 2037/01/01 00:00:00;
}
`
		if err := os.WriteFile(c.lf, []byte(stale), 0o644); err != nil {
			t.Fatal(err)
		}
		ip := c.get()
		out := c.out.String()
		if !strings.Contains(out, "DHCPREQUEST for 198.18.9.50") || !strings.Contains(out, "DHCPNAK from 198.18.0.1") {
			t.Fatalf("no NAK for the stale address:\n%s", out)
		}
		if !strings.HasPrefix(ip, "198.18.0.1") {
			t.Fatalf("after the NAK the client bound %s", ip)
		}
		c.kill()
	})

	t.Run("DECLINE then a different address", func(t *testing.T) {
		c := l.client(l.cli, "cli0", "decline")
		// dhclient declines when its script rejects the address (the ARP
		// check in dhclient-script): /bin/false rejects every address.
		if code := c.run("/bin/false"); code == 0 {
			t.Fatalf("dhclient accepted with a failing script:\n%s", c.out.String())
		}
		m := regexp.MustCompile(`DHCPACK of (\S+) from`).FindStringSubmatch(c.out.String())
		if m == nil || !strings.Contains(c.out.String(), "DHCPDECLINE") {
			t.Fatalf("no DECLINE sent:\n%s", c.out.String())
		}
		declined := m[1]
		waitFor(t, "the decline in the store", 5*time.Second, func() bool { return l.leases(t)[declined].State == lease.Declined })
		os.Remove(c.lf)
		if ip := c.get(); ip == declined {
			t.Fatalf("got the declined address %s again", ip)
		}
		c.kill()
	})

	t.Run("reservation by MAC", func(t *testing.T) {
		if err := l.cli.IP(ctx, "link", "set", "cli0", "address", "02:00:00:00:aa:01"); err != nil {
			t.Fatal(err)
		}
		c := l.client(l.cli, "cli0", "reserved")
		if ip := c.get(); ip != "198.18.0.10" {
			t.Fatalf("reserved client bound %s, want 198.18.0.10", ip)
		}
		lf, _ := os.ReadFile(c.lf)
		if !strings.Contains(string(lf), `host-name "reserved-host"`) {
			t.Fatalf("no reserved host name in the lease:\n%s", lf)
		}
		c.kill()
	})

	t.Run("restart after kill -9 keeps every lease", func(t *testing.T) {
		if err := l.cli.IP(ctx, "link", "set", "cli0", "address", "02:00:00:00:bb:02"); err != nil {
			t.Fatal(err)
		}
		c := l.client(l.cli, "cli0", "restart")
		mine := c.get()
		c.kill()
		before := l.leases(t)
		if len(before) < 4 {
			t.Fatalf("only %d leases before the restart", len(before))
		}
		l.stop(syscall.SIGKILL)
		// The daemon is gone: the leases command reads the file itself.
		onDisk := l.leases(t)
		l.start()
		after := l.leases(t)
		for ip, b := range before {
			for name, m := range map[string]map[string]lease.Lease{"file": onDisk, "restarted daemon": after} {
				a, ok := m[ip]
				if !ok || a.State != b.State || !a.Expiry.Equal(b.Expiry) || a.Client.String() != b.Client.String() {
					t.Fatalf("%s: lease %s was %+v, now %+v", name, ip, b, a)
				}
			}
		}
		// The client comes back (no lease file: a plain DISCOVER) and gets
		// its address again from the restarted daemon.
		os.Remove(c.lf)
		if ip := c.get(); ip != mine {
			t.Fatalf("after restart bound %s, before %s", ip, mine)
		}
		c.kill()
	})
}

// perfdhcp (it behaves as a relay and sends option 61) brings 10,000
// distinct clients at a moderate rate: every exchange completes and no
// address is given twice. The daemon is configured by flags and
// environment variables only (the quick start).
func TestServePerfdhcp10000Clients(t *testing.T) {
	needRoot(t)
	testlock.Exclusive(t) // a flood; or a rate the floods would starve
	if _, err := exec.LookPath("perfdhcp"); err != nil {
		t.Skip("perfdhcp not installed (kea-admin, scripts/install-deps.sh)")
	}
	ctx := context.Background()
	l := newPairLab(t, "xr", "198.18.64.1/18", "pf0", "198.18.64.2/18")
	cmd := l.srv.Command(ctx, l.bin, "serve", "--iface", "srv0", "--subnet", "198.18.64.0/18",
		"--range", "198.18.64.10-198.18.127.250", "--router", "198.18.64.1", "--db", l.db())
	// Standalone by default: every bucket is this server's.
	cmd.Env = append(os.Environ(), "XDHCP_CONTROL="+l.control(), "XDHCP_LEASE_TIME=1h", "XDHCP_DNS=198.18.64.53")
	l.log = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = l.log, l.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.daemon = cmd
	t.Cleanup(func() { l.stop(syscall.SIGKILL) })
	waitFor(t, "the daemon to serve", 40*time.Second, func() bool { return serving(l.control()) })

	// -R 2^24 random clients, fixed seed: 10,100 exchanges from about as
	// many distinct clients; -W waits for the last answers.
	pf := l.cli.Command(ctx, "perfdhcp", "-4", "-l", "pf0", "-r", "1000", "-d", "2", "-R", "16777216", "-s", "7", "-u",
		"-n", "10100", "-W", "2000000", "198.18.64.1")
	out, err := pf.CombinedOutput()
	if err != nil {
		t.Fatalf("perfdhcp: %v (exit 3 means incomplete exchanges)\n%s\ndaemon:\n%s", err, out, l.log)
	}
	drops := regexp.MustCompile(`drops: (\d+)`).FindAllStringSubmatch(string(out), -1)
	if len(drops) != 2 || drops[0][1] != "0" || drops[1][1] != "0" {
		t.Fatalf("perfdhcp drops %v:\n%s", drops, out)
	}
	// -u: perfdhcp itself checks that no address was handed out twice.
	if n := strings.Count(string(out), "non unique addresses: 0"); n != 2 {
		t.Fatalf("perfdhcp saw non-unique addresses:\n%s", out)
	}
	ls := l.leases(t)
	ips, clients := map[string]bool{}, map[string]bool{}
	for ip, x := range ls {
		if x.State != lease.Bound {
			t.Fatalf("lease %s is %v", ip, x.State)
		}
		ips[x.IP.String()] = true
		clients[x.Client.String()] = true
	}
	if len(clients) < 10000 || len(ips) != len(clients) {
		t.Fatalf("%d distinct clients, %d addresses, want >= 10000 and one address each", len(clients), len(ips))
	}
	t.Logf("%d distinct clients bound, %d distinct addresses, 0 drops", len(clients), len(ips))
	for _, line := range strings.Split(l.log.String(), "\n") {
		if strings.Contains(line, "XDP") {
			t.Log(line[:min(len(line), 200)])
		}
	}
}
