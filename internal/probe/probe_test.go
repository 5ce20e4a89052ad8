package probe

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
)

// A real ISC dhcpd in a namespace answers the probe; the probe reports its
// server id and the address offered for every secs value.
func TestProbeAgainstISCDhcpd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for namespaces and packet sockets (run as root; CI does)")
	}
	dhcpd, err := exec.LookPath("dhcpd")
	if err != nil {
		t.Skip("dhcpd (isc-dhcp-server) not installed: run scripts/install-deps.sh")
	}
	ctx := context.Background()
	id := fmt.Sprintf("xpr%d", os.Getpid()%100000)
	srv, err := labnet.NewNS(ctx, id+"s")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := labnet.NewNS(ctx, id+"c")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := labnet.Veth(ctx, srv, "srv0", "198.18.0.1/24", cli, "cli0", ""); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "dhcpd.conf")
	if err := os.WriteFile(conf, []byte(`authoritative;
ping-check false;
default-lease-time 600;
subnet 198.18.0.0 netmask 255.255.255.0 { range 198.18.0.100 198.18.0.150; }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	leases := filepath.Join(dir, "dhcpd.leases")
	if err := os.WriteFile(leases, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := srv.Command(ctx, dhcpd, "-4", "-f", "-cf", conf, "-lf", leases, "-pf", filepath.Join(dir, "dhcpd.pid"), "srv0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	sock, err := cli.OpenPacketSocket("cli0")
	if err != nil {
		t.Fatal(err)
	}
	c := Wrap(sock)
	defer c.Close()
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 7}
	// dhcpd needs a moment to open its socket: retry the first DISCOVER.
	var row Row
	for i := 0; i < 20 && len(row.Offers) == 0; i++ {
		if row, err = c.Discover(ctx, mac, 0x1234, 0, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := c.Series(ctx, mac, 0x1234, 3, 2, 700*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows = append([]Row{row}, rows...)
	for _, r := range rows {
		if len(r.Offers) != 1 || r.Offers[0].ServerID != netip.MustParseAddr("198.18.0.1") || !netip.MustParsePrefix("198.18.0.0/24").Contains(r.Offers[0].YourIP) {
			t.Errorf("secs %d: offers %+v, want one from 198.18.0.1 in 198.18.0.0/24", r.Secs, r.Offers)
		}
	}
	if rows[1].Secs != 3 || rows[2].Secs != 4 {
		t.Errorf("series secs %d, %d, want 3, 4", rows[1].Secs, rows[2].Secs)
	}
}
