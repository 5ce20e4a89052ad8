package relay

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/internal/probe"
)

// client -- relay -- real ISC dhcpd: the probe gets offers through the relay,
// with giaddr set; with no servers configured nothing is forwarded.
func TestRelayToISCDhcpd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for namespaces (run as root; CI does)")
	}
	dhcpd, err := exec.LookPath("dhcpd")
	if err != nil {
		t.Skip("dhcpd (isc-dhcp-server) not installed: run scripts/install-deps.sh")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id := fmt.Sprintf("xry%d", os.Getpid()%100000)
	var nss []*labnet.NS
	defer func() {
		for _, n := range nss {
			n.Close()
		}
	}()
	mk := func(s string) *labnet.NS {
		n, err := labnet.NewNS(ctx, id+s)
		if err != nil {
			t.Fatal(err)
		}
		nss = append(nss, n)
		return n
	}
	cli, rly, srv := mk("c"), mk("r"), mk("s")
	if err := labnet.Veth(ctx, cli, "cli0", "", rly, "down0", "198.18.10.1/24"); err != nil {
		t.Fatal(err)
	}
	if err := labnet.Veth(ctx, rly, "up0", "198.18.1.1/30", srv, "srv0", "198.18.1.2/30"); err != nil {
		t.Fatal(err)
	}
	if err := srv.IP(ctx, "route", "add", "198.18.10.0/24", "via", "198.18.1.1"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "dhcpd.conf")
	os.WriteFile(conf, []byte("authoritative;\nping-check false;\nsubnet 198.18.1.0 netmask 255.255.255.252 {}\nsubnet 198.18.10.0 netmask 255.255.255.0 { range 198.18.10.100 198.18.10.150; }\n"), 0o644)
	leases := filepath.Join(dir, "leases")
	os.WriteFile(leases, nil, 0o644)
	cmd := srv.Command(ctx, dhcpd, "-4", "-f", "-cf", conf, "-lf", leases, "-pf", filepath.Join(dir, "pid"), "srv0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	r := &Relay{ClientIface: "down0", Giaddr: netip.MustParseAddr("198.18.10.1")}
	r.SetServers(netip.MustParseAddr("198.18.1.2"))
	var conn *Conn
	if err := rly.Do(func() error { var err error; conn, err = r.Listen(); return err }); err != nil {
		t.Fatal(err)
	}
	go r.Serve(ctx, conn)

	sock, err := cli.OpenPacketSocket("cli0")
	if err != nil {
		t.Fatal(err)
	}
	p := probe.Wrap(sock)
	defer p.Close()
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 9}
	var row probe.Row
	for i := 0; i < 20 && len(row.Offers) == 0; i++ {
		if row, err = p.Discover(ctx, mac, 77, 0, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if len(row.Offers) != 1 || !netip.MustParsePrefix("198.18.10.0/24").Contains(row.Offers[0].YourIP) {
		t.Fatalf("offers through the relay: %+v (relay %+v)", row.Offers, r.Stats())
	}
	r.SetServers()
	before := r.Stats()
	row, err = p.Discover(ctx, mac, 78, 0, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if after := r.Stats(); len(row.Offers) != 0 || after.Forwarded != before.Forwarded || after.Requests != before.Requests+1 {
		t.Fatalf("relay with no servers: offers %+v, stats %+v -> %+v", row.Offers, before, after)
	}
}
