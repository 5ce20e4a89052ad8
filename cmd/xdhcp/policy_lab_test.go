package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/daemon"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// policyYAML: direct clients (cli0, 198.18.0.0/24) share floor1 with
// 198.18.1.0/24; relayed clients behind dhcrelay -a (198.18.3.0/24) get
// the circuit-id reservation of the relay's client-side interface r1.
// knot in the server's namespace serves lab.example and the reverse zone.
const policyYAML = `
interfaces: [srv0, srv1]
bootp: true
decline-probation: 1h
ping-check: {enabled: true, timeout: 300ms}
ddns:
  server: 198.18.0.1
  zone: lab.example
  reverse-zone: 0.18.198.in-addr.arpa
  tsig-name: xdhcp-key
  tsig-secret-file: %s
subnets:
  - subnet: 198.18.0.0/24
    shared-network: floor1
    ranges: [198.18.0.100-198.18.0.102]
    routers: 198.18.0.1
    next-server: 198.18.0.1
    boot-file: pxelinux.0
  - subnet: 198.18.1.0/24
    shared-network: floor1
    ranges: [198.18.1.100-198.18.1.150]
    routers: 198.18.1.1
  - subnet: 198.18.3.0/24
    ranges: [198.18.3.100-198.18.3.150]
    routers: 198.18.3.1
    reservations:
      - {circuit-id: "r1", ip: 198.18.3.50}
classes:
  - name: uefi-x64
    match: [{option: 93, hex: "0007"}, {option: 60, prefix: "PXEClient"}]
    next-server: 198.18.0.69
    boot-file: ipxe.efi
`

const tsigSecret = "eGRoY3AtcG9saWN5LWxhYi1zZWNyZXQtMzItYnl0ZXM="

// startKnot runs knotd in ns serving lab.example and 0.18.198.in-addr.arpa
// on 198.18.0.1:53, updatable with the TSIG key.
func startKnot(t *testing.T, ns *labnet.NS, dir string) *bytes.Buffer {
	t.Helper()
	knotd, err := exec.LookPath("knotd")
	if err != nil {
		if knotd, err = exec.LookPath("/usr/sbin/knotd"); err != nil {
			t.Skip("knotd not installed (scripts/install-deps.sh)")
		}
	}
	zones := map[string]string{
		"lab.example":           "@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 198.18.0.1\n",
		"0.18.198.in-addr.arpa": "@ SOA ns.lab.example. hostmaster.lab.example. 1 3600 900 604800 60\n@ NS ns.lab.example.\n",
	}
	conf := fmt.Sprintf(`server:
    rundir: "%[1]s"
    listen: 198.18.0.1@53
database:
    storage: "%[1]s/db"
key:
  - id: xdhcp-key
    algorithm: hmac-sha256
    secret: %[2]s
acl:
  - id: update
    key: xdhcp-key
    action: update
template:
  - id: default
    storage: "%[1]s"
    zonefile-sync: -1
    semantic-checks: off
zone:
`, dir, tsigSecret)
	for z, body := range zones {
		if err := os.WriteFile(filepath.Join(dir, z+".zone"), []byte("$ORIGIN "+z+".\n$TTL 60\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		conf += fmt.Sprintf("  - domain: %s\n    file: %s.zone\n    acl: update\n", z, z)
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil { // the journal of updates
		t.Fatal(err)
	}
	cf := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command(context.Background(), knotd, "-c", cf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "knotd to answer", 10*time.Second, func() bool {
		_, err := lookup(ns, "ns.lab.example.", dns.TypeA)
		return err == nil
	})
	return &out
}

// lookup asks the lab's DNS server (from inside ns) for name's records.
func lookup(ns *labnet.NS, name string, typ uint16) ([]dns.RR, error) {
	var rrs []dns.RR
	err := ns.Do(func() error {
		m := new(dns.Msg)
		m.SetQuestion(name, typ)
		r, err := dns.Exchange(m, "198.18.0.1:53")
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			return fmt.Errorf("%s: %s", name, dns.RcodeToString[r.Rcode])
		}
		rrs = r.Answer
		return nil
	})
	return rrs, err
}

// clientConf writes a dhclient.conf sending the given statements.
func clientConf(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicyWithRealPeers: ISC dhcrelay -a and a circuit-id reservation,
// a ping-check conflict with a host that answers ping, DDNS records in a
// real knot server after ACK and gone after RELEASE, shared-network
// overflow, a UEFI PXE client getting its class's boot file and next
// server, and a BOOTP client (bootpc).
func TestPolicyWithRealPeers(t *testing.T) {
	l := newServeLab(t)
	for _, tool := range []string{"bootpc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh)", tool)
		}
	}
	ctx := context.Background()
	key := filepath.Join(l.dir, "tsig.key")
	if err := os.WriteFile(key, []byte("key \"xdhcp-key\" {\n\talgorithm hmac-sha256;\n\tsecret \""+tsigSecret+"\";\n};\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.dir, "xdhcp.yaml"), []byte(fmt.Sprintf(policyYAML, key)), 0o644); err != nil {
		t.Fatal(err)
	}
	knotLog := startKnot(t, l.srv, l.dir)
	l.start()
	stats := func() daemon.Stats {
		s, err := control.Dial(l.control()).Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("dhcrelay -a: circuit-id reservation, option 82 stored", func(t *testing.T) {
		relay := l.rel.Command(ctx, "dhcrelay", "-4", "-d", "--no-pid", "-a", "-iu", "r0", "-id", "r1", "198.18.2.1")
		var rlog bytes.Buffer
		relay.Stdout, relay.Stderr = &rlog, &rlog
		if err := relay.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { relay.Process.Kill(); relay.Wait() }()
		time.Sleep(300 * time.Millisecond) // let dhcrelay open its sockets
		c := l.client(l.c2, "cli1", "relayed")
		if ip := c.get(); ip != "198.18.3.50" {
			t.Fatalf("relayed client bound %s, want the circuit-id reservation 198.18.3.50\nrelay:\n%s", ip, rlog.String())
		}
		got := l.leases(t)["198.18.3.50"]
		if !bytes.Contains(got.RelayInfo, []byte{1, 2, 'r', '1'}) {
			t.Fatalf("lease's relay info %x lacks circuit id r1", got.RelayInfo)
		}
		c.kill()
	})

	var hostA string
	t.Run("ping check: a host answers on the first address", func(t *testing.T) {
		// A squatter on cli0 holds the range's first address.
		if err := l.cli.IP(ctx, "addr", "add", "198.18.0.100/24", "dev", "cli0"); err != nil {
			t.Fatal(err)
		}
		defer l.cli.IP(ctx, "addr", "del", "198.18.0.100/24", "dev", "cli0")
		c := l.client(l.cli, "cli0", "pc-a")
		hostA = c.get("-cf", clientConf(t, l.dir, "pc-a", `send dhcp-client-identifier "pc-a";`, `send host-name "pc-a";`))
		if hostA != "198.18.0.101" {
			t.Fatalf("bound %s, want 198.18.0.101 (198.18.0.100 answers ping)", hostA)
		}
		if r := l.leases(t)["198.18.0.100"]; r.State != lease.Declined {
			t.Fatalf("the address that answered ping: %+v", r)
		}
		if p := stats().Policy; p.PingConflicts != 1 || p.PingChecks < 2 {
			t.Fatalf("ping counters %+v", p)
		}
		c.kill()
	})

	t.Run("DDNS: A and PTR in knot after ACK", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			rrs, err := lookup(l.srv, "pc-a.lab.example.", dns.TypeA)
			if err == nil && len(rrs) == 1 && rrs[0].(*dns.A).A.String() == hostA {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no A record pc-a -> %s in knot (%v %v); DDNS %+v\ndaemon:\n%s\nknot:\n%s", hostA, rrs, err, stats().Policy.DDNS, l.log, knotLog)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rrs, err := lookup(l.srv, "101.0.18.198.in-addr.arpa.", dns.TypePTR)
		if err != nil || len(rrs) != 1 || rrs[0].(*dns.PTR).Ptr != "pc-a.lab.example." {
			t.Fatalf("PTR: %v %v", rrs, err)
		}
		if rrs, _ := lookup(l.srv, "pc-a.lab.example.", dns.TypeDHCID); len(rrs) != 1 {
			t.Fatalf("DHCID: %v", rrs)
		}
	})

	t.Run("shared network: the third client overflows", func(t *testing.T) {
		b := l.client(l.cli, "cli0", "pc-b")
		if ip := b.get("-cf", clientConf(t, l.dir, "pc-b", `send dhcp-client-identifier "pc-b";`)); ip != "198.18.0.102" {
			t.Fatalf("second client bound %s, want 198.18.0.102", ip)
		}
		b.kill()
		c := l.client(l.cli, "cli0", "pc-c")
		if ip := c.get("-cf", clientConf(t, l.dir, "pc-c", `send dhcp-client-identifier "pc-c";`)); !strings.HasPrefix(ip, "198.18.1.") {
			t.Fatalf("third client bound %s, want 198.18.1.100-150 (floor1's second subnet)", ip)
		}
		c.kill()
	})

	t.Run("DDNS: records gone after RELEASE", func(t *testing.T) {
		// dhclient sends RELEASE unicast from the leased address.
		if err := l.cli.IP(ctx, "addr", "add", hostA+"/24", "dev", "cli0"); err != nil {
			t.Fatal(err)
		}
		defer l.cli.IP(ctx, "addr", "del", hostA+"/24", "dev", "cli0")
		c := l.client(l.cli, "cli0", "pc-a")
		cf := filepath.Join(l.dir, "pc-a.conf")
		cmd := l.cli.Command(ctx, "dhclient", "-r", "-v", "-cf", cf, "-sf", "/bin/true", "-lf", c.lf, "-pf", c.pf, "cli0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dhclient -r: %v\n%s", err, out)
		}
		waitFor(t, "the release in the store", 5*time.Second, func() bool { return l.leases(t)[hostA].State == lease.Released })
		waitFor(t, "pc-a's records removed", 5*time.Second, func() bool {
			a, err1 := lookup(l.srv, "pc-a.lab.example.", dns.TypeA)
			ptr, err2 := lookup(l.srv, "101.0.18.198.in-addr.arpa.", dns.TypePTR)
			return err1 == nil && err2 == nil && len(a) == 0 && len(ptr) == 0
		})
		// Added counts pc-a and the relayed client when dhclient's default
		// configuration sends the machine's host name.
		if d := stats().Policy.DDNS; d.Added < 1 || d.Removed != 1 || d.Failed != 0 || d.Dropped != 0 {
			t.Fatalf("DDNS counters %+v", d)
		}
	})

	t.Run("UEFI PXE client gets its class's boot file and next server", func(t *testing.T) {
		c := l.client(l.cli, "cli0", "uefi")
		env := filepath.Join(l.dir, "uefi.env")
		script := filepath.Join(l.dir, "dump-env.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\nenv > "+env+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		conf := clientConf(t, l.dir, "uefi", `option arch code 93 = unsigned integer 16;`, `send arch 7;`,
			`send vendor-class-identifier "PXEClient:Arch:00007:UNDI:003016";`, `send dhcp-client-identifier "uefi";`,
			`request subnet-mask, routers, tftp-server-name, bootfile-name;`)
		if code := c.run(script, "-cf", conf); code != 0 {
			t.Fatalf("dhclient exit %d:\n%s", code, c.out.String())
		}
		// dhclient stays in the background holding port 68 (bootpc needs
		// it next): stop it once its pid file is written.
		waitFor(t, "dhclient's pid file", 5*time.Second, func() bool {
			b, err := os.ReadFile(c.pf)
			return err == nil && len(bytes.TrimSpace(b)) > 0
		})
		defer c.kill()
		b, _ := os.ReadFile(env)
		vars := string(b)
		for _, want := range []string{"new_filename=ipxe.efi", "new_bootfile_name=ipxe.efi", "new_next_server=198.18.0.69"} {
			if !strings.Contains(vars, want) {
				t.Fatalf("dhclient's environment lacks %s:\n%s", want, vars)
			}
		}
	})

	t.Run("BOOTP client (bootpc)", func(t *testing.T) {
		// bootpc broadcasts through the route table: give it one.
		if err := l.cli.IP(ctx, "route", "add", "default", "dev", "cli0"); err != nil {
			t.Fatal(err)
		}
		cmd := l.cli.Command(ctx, "bootpc", "--dev", "cli0", "--returniffail", "--serverbcast")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bootpc: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`IPADDR='?([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("bootpc printed no address:\n%s", out)
		}
		ip := string(m[1])
		if !netip.MustParsePrefix("198.18.0.0/23").Contains(netip.MustParseAddr(ip)) {
			t.Fatalf("BOOTP address %s is not in floor1", ip)
		}
		if !bytes.Contains(out, []byte("pxelinux.0")) && !strings.HasPrefix(ip, "198.18.1.") {
			t.Fatalf("BOOTP reply lacks the subnet's boot file:\n%s", out)
		}
		r := l.leases(t)[ip]
		if r.State != lease.Bound || r.Expiry.Sub(r.Start) < 100*365*24*time.Hour {
			t.Fatalf("BOOTP binding %+v: want bound, infinite", r)
		}
	})
	l.stop(syscall.SIGTERM)
}
