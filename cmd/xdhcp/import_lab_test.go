package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
	"github.com/xdhcp/xdhcp/userspace/migrate/kea"
)

// iscConf: options of several kinds, a reservation, and one statement
// xdhcp does not carry over (log-facility) so the report must list it.
const iscConf = `authoritative;
ping-check false;
log-facility local7;
default-lease-time 600;
use-host-decl-names on;
option domain-name "lab.example";
option domain-name-servers 198.18.0.53, 198.18.0.54;
subnet 198.18.0.0 netmask 255.255.255.0 {
  option routers 198.18.0.1;
  option ntp-servers 198.18.0.123;
  option interface-mtu 1400;
  pool {
    range 198.18.0.100 198.18.0.150;
  }
}
host printer {
  hardware ethernet 02:00:00:00:aa:01;
  fixed-address 198.18.0.10;
}
`

// background runs a server process in the lab until the test ends.
func background(t *testing.T, cmd *exec.Cmd, ready func(log string) bool, what string) *bytes.Buffer {
	t.Helper()
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitFor(t, what+" to start", 15*time.Second, func() bool { return ready(log.String()) })
	return &log
}

// stopServer ends a server with SIGTERM, as an operator stops it before the switch.
func stopServer(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// lastLeaseOptions are the options of the last lease block of a dhclient
// lease file: what the server that answered last gave.
func lastLeaseOptions(t *testing.T, lf string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(lf)
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "lease {")
	out := map[string]string{}
	for _, line := range strings.Split(blocks[len(blocks)-1], "\n") {
		if f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ";")); len(f) >= 3 && f[0] == "option" {
			out[f[1]] = strings.Join(f[2:], " ")
		}
	}
	return out
}

// A real ISC dhcpd 4.4 leases addresses to real dhclients and stops; its
// files are imported; xdhcp serves the result: every client's INIT-REBOOT
// for its old address is ACKed, with the options dhcpd gave, and the
// reserved client is offered its address.
func TestImportFromRealISC(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"dhcpd", "dhclient"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh)", tool)
		}
	}
	l := newPairLab(t, "xi", "198.18.0.1/24", "cli0", "")
	ctx := context.Background()
	conf, leases := filepath.Join(l.dir, "dhcpd.conf"), filepath.Join(l.dir, "dhcpd.leases")
	os.WriteFile(conf, []byte(iscConf), 0o644)
	os.WriteFile(leases, nil, 0o644)
	dhcpd := l.srv.Command(ctx, "dhcpd", "-4", "-f", "-d", "-cf", conf, "-lf", leases, "-pf", filepath.Join(l.dir, "dhcpd.pid"), "srv0")
	dlog := background(t, dhcpd, func(s string) bool { return strings.Contains(s, "Server starting service") }, "dhcpd")

	setMAC := func(mac string) {
		t.Helper()
		if err := l.cli.IP(ctx, "link", "set", "cli0", "address", mac); err != nil {
			t.Fatal(err)
		}
	}
	macs := []string{"02:00:00:00:01:01", "02:00:00:00:01:02", "02:00:00:00:01:03", "02:00:00:00:aa:01"}
	bound := map[string]string{}
	before := map[string]map[string]string{}
	for i, mac := range macs {
		setMAC(mac)
		c := l.client(l.cli, "cli0", fmt.Sprintf("c%d", i))
		bound[mac] = c.get()
		c.kill() // no RELEASE: the client keeps its lease, as a switch over a weekend finds them
		before[mac] = lastLeaseOptions(t, c.lf)
	}
	if bound[macs[3]] != "198.18.0.10" {
		t.Fatalf("dhcpd gave the reserved client %s\n%s", bound[macs[3]], dlog)
	}
	stopServer(t, dhcpd)

	yamlOut := filepath.Join(l.dir, "xdhcp.yaml")
	imp := exec.Command(l.bin, "import", "isc", "--conf", conf, "--leases", leases, "--config-out", yamlOut, "--db", l.db(), "--iface", "srv0")
	out, err := imp.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitSkipped {
		t.Fatalf("import: %v (want exit %d: log-facility is not carried over)\n%s", err, exitSkipped, out)
	}
	if !regexp.MustCompile(`dhcpd.conf:3:1: log-facility local7: `).Match(out) {
		t.Fatalf("the report does not list log-facility with its line:\n%s", out)
	}
	store := l.leases(t)
	for mac, ip := range bound {
		if ip == "198.18.0.10" {
			continue // dhcpd keeps no lease for a fixed address: the reservation is the record
		}
		if s, ok := store[ip]; !ok || s.State != lease.Bound || s.HWAddr != mac {
			t.Fatalf("store after import: %s is %+v, want bound to %s", ip, s, mac)
		}
	}

	l.start() // xdhcp serve --config xdhcp.yaml (the imported one) --split 256
	// First a stranger claims the first client's address by INIT-REBOOT:
	// only the imported lease says it is taken, and xdhcp must refuse.
	setMAC("02:00:00:00:01:99")
	stranger := l.client(l.cli, "cli0", "stranger")
	os.WriteFile(stranger.lf, []byte("lease {\n  interface \"cli0\";\n  fixed-address "+bound[macs[0]]+";\n  option subnet-mask 255.255.255.0;\n  expire never;\n}\n"), 0o644)
	if got := stranger.get(); got == bound[macs[0]] || !strings.Contains(stranger.out.String(), "DHCPNAK") {
		t.Fatalf("a stranger's INIT-REBOOT for %s's imported address: bound %s\n%s", macs[0], got, stranger.out.String())
	}
	stranger.kill()
	for i, mac := range macs {
		setMAC(mac)
		c := l.client(l.cli, "cli0", fmt.Sprintf("c%d", i))
		if got := c.get(); got != bound[mac] {
			t.Fatalf("%s: bound %s after the switch, had %s\n%s", mac, got, bound[mac], c.out.String())
		}
		// INIT-REBOOT: dhclient asked for its address straight away and
		// xdhcp said yes; a DISCOVER would mean xdhcp refused or ignored it.
		if o := c.out.String(); strings.Contains(o, "DHCPDISCOVER") || !strings.Contains(o, "DHCPREQUEST for "+bound[mac]) {
			t.Fatalf("%s did not keep its address by INIT-REBOOT:\n%s\ndaemon:\n%s", mac, o, l.log)
		}
		c.kill()
		after := lastLeaseOptions(t, c.lf)
		for k, v := range before[mac] {
			if after[k] != v {
				t.Errorf("%s: option %s was %q from dhcpd, %q from xdhcp", mac, k, v, after[k])
			}
		}
		for k := range after {
			if _, ok := before[mac][k]; !ok && k != "dhcp-renewal-time" && k != "dhcp-rebinding-time" {
				t.Errorf("%s: xdhcp sends option %s that dhcpd did not", mac, k)
			}
		}
	}
	// A new client with the reservation's MAC is offered the reserved address.
	setMAC("02:00:00:00:aa:01")
	fresh := l.client(l.cli, "cli0", "fresh")
	if got := fresh.get(); got != "198.18.0.10" || !strings.Contains(fresh.out.String(), "DHCPOFFER of 198.18.0.10") {
		t.Fatalf("reserved client offered %s:\n%s", got, fresh.out.String())
	}
}

// keaConf: a subnet with options at two levels, a reservation by MAC and
// one by client id, relayed clients (perfdhcp is a relay).
func keaConf(dir string) string {
	return `{"Dhcp4": {
  "interfaces-config": {"interfaces": ["srv0"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "lfc-interval": 0, "name": "` + filepath.Join(dir, "kea-leases4.csv") + `"},
  "valid-lifetime": 1200,
  "authoritative": true,
  // global options, inherited
  "option-data": [{"name": "domain-name-servers", "data": "198.18.0.53, 198.18.0.54"}, {"name": "domain-name", "data": "lab.example"}],
  "subnet4": [{"id": 7, "subnet": "198.18.0.0/24",
    "pools": [{"pool": "198.18.0.100 - 198.18.0.199"}],
    "option-data": [{"name": "routers", "data": "198.18.0.1"}, {"name": "ntp-servers", "data": "198.18.0.123"}, {"name": "interface-mtu", "data": "1400"}],
    "reservations": [{"hw-address": "02:00:00:00:aa:01", "ip-address": "198.18.0.10", "hostname": "printer"},
                     {"client-id": "01:02:00:00:00:aa:02", "ip-address": "198.18.0.11"}]}],
  "loggers": [{"name": "kea-dhcp4", "severity": "INFO", "output_options": [{"output": "stdout"}]}]
}}`
}

// A real kea-dhcp4 2.2 leases addresses to perfdhcp's clients and stops;
// its configuration and memfile are imported; xdhcp serves the result:
// every lease's INIT-REBOOT is ACKed, reservations are offered, and the
// options are Kea's.
func TestImportFromRealKea(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"kea-dhcp4", "perfdhcp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh)", tool)
		}
	}
	l := newPairLab(t, "xk", "198.18.0.1/24", "pf0", "198.18.0.2/24")
	ctx := context.Background()
	conf := filepath.Join(l.dir, "kea-dhcp4.conf")
	os.WriteFile(conf, []byte(keaConf(l.dir)), 0o644)
	keaCmd := l.srv.Command(ctx, "kea-dhcp4", "-c", conf)
	keaCmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+l.dir, "KEA_LOCKFILE_DIR="+l.dir)
	klog := background(t, keaCmd, func(s string) bool { return strings.Contains(s, "DHCP4_STARTED") }, "kea-dhcp4")

	pf := l.cli.Command(ctx, "perfdhcp", "-4", "-l", "pf0", "-r", "100", "-R", "40", "-n", "40", "-s", "11", "-W", "1000000", "198.18.0.1")
	if out, err := pf.CombinedOutput(); err != nil {
		t.Fatalf("perfdhcp: %v\n%s\n%s", err, out, klog)
	}
	rc := newRelayClient(t, l.cli, "198.18.0.2", "198.18.0.1")
	// What Kea tells a new client, to compare with xdhcp's answer later.
	newcomer := net.HardwareAddr{2, 0, 0, 0, 0xbb, 1}
	keaOffer := rc.ask(t, message(t, dhcpv4.MessageTypeDiscover, newcomer, nil), 3*time.Second)
	if keaOffer == nil {
		t.Fatalf("no offer from Kea\n%s", klog)
	}
	stopServer(t, keaCmd)

	csv := filepath.Join(l.dir, "kea-leases4.csv")
	yamlOut := filepath.Join(l.dir, "xdhcp.yaml")
	out, err := exec.Command(l.bin, "import", "kea", "--conf", conf, "--leases", csv, "--config-out", yamlOut, "--db", l.db(), "--json").Output()
	var rep importReport
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		t.Fatalf("import: %v %v\n%s", err, jerr, out)
	}
	// Only the loggers are not carried over (xdhcp logs to stderr): exit 2.
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitSkipped || len(rep.Skipped) != 1 || rep.Skipped[0].Statement != "loggers" {
		t.Fatalf("import: %v, skipped %+v", err, rep.Skipped)
	}
	if rep.LeasesKept != 40 {
		t.Fatalf("import kept %d leases, perfdhcp made 40", rep.LeasesKept)
	}
	r := migrate.NewResult()
	src, _ := os.ReadFile(conf)
	if err := kea.ImportConf(conf, src, r); err != nil {
		t.Fatal(err)
	}
	src, _ = os.ReadFile(csv)
	if err := kea.ImportLeases(csv, src, time.Now(), r); err != nil {
		t.Fatal(err)
	}

	l.start()
	// The check can fail: a stranger's INIT-REBOOT for a leased address is refused.
	first := r.Leases[0]
	if a := rc.ask(t, initReboot(t, net.HardwareAddr{2, 0, 0, 0, 0xbb, 2}, nil, first.IP.AsSlice()), 3*time.Second); a == nil || a.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("a stranger asking for %v (leased to %s): %v\n%s", first.IP, first.HWAddr, a, l.log)
	}
	for _, x := range r.Leases {
		mac, _ := net.ParseMAC(x.HWAddr)
		a := rc.ask(t, initReboot(t, mac, x.Client, x.IP.AsSlice()), 3*time.Second)
		if a == nil || a.MessageType() != dhcpv4.MessageTypeAck || !a.YourIPAddr.Equal(x.IP.AsSlice()) {
			t.Fatalf("INIT-REBOOT of %s for %v: %v\n%s", x.HWAddr, x.IP, a, l.log)
		}
	}
	for _, res := range []struct {
		mac net.HardwareAddr
		cid []byte
		ip  string
	}{{net.HardwareAddr{2, 0, 0, 0, 0xaa, 1}, nil, "198.18.0.10"}, {net.HardwareAddr{2, 0, 0, 0, 0xaa, 2}, []byte{1, 2, 0, 0, 0, 0xaa, 2}, "198.18.0.11"}} {
		o := rc.ask(t, message(t, dhcpv4.MessageTypeDiscover, res.mac, res.cid), 3*time.Second)
		if o == nil || o.YourIPAddr.String() != res.ip {
			t.Fatalf("reservation %s: offered %v", res.ip, o)
		}
	}
	xOffer := rc.ask(t, message(t, dhcpv4.MessageTypeDiscover, newcomer, nil), 3*time.Second)
	if xOffer == nil {
		t.Fatalf("no offer from xdhcp\n%s", l.log)
	}
	if k, x := optionsOf(keaOffer), optionsOf(xOffer); k != x {
		t.Fatalf("options differ:\nKea   %s\nxdhcp %s", k, x)
	}
}
