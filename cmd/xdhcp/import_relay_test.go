package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/labnet"
)

// relayClient speaks for clients the way a relay agent does (giaddr set,
// from port 67) and reads the server's answers sent back to giaddr:67:
// how the import tests ask a server about any client they like.
type relayClient struct {
	conn   *net.UDPConn
	giaddr net.IP
	server *net.UDPAddr
}

func newRelayClient(t *testing.T, ns *labnet.NS, giaddr, server string) *relayClient {
	t.Helper()
	rc := &relayClient{giaddr: net.ParseIP(giaddr).To4(), server: &net.UDPAddr{IP: net.ParseIP(server), Port: 67}}
	err := ns.Do(func() error {
		var err error
		rc.conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: rc.giaddr, Port: 67})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.conn.Close() })
	return rc
}

// requested are the options the probes ask for (and compare).
var requested = []dhcpv4.OptionCode{dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
	dhcpv4.OptionDomainName, dhcpv4.OptionInterfaceMTU, dhcpv4.OptionNTPServers, dhcpv4.OptionIPAddressLeaseTime}

// ask sends m relayed and returns the answer, or nil after wait.
func (rc *relayClient) ask(t *testing.T, m *dhcpv4.DHCPv4, wait time.Duration) *dhcpv4.DHCPv4 {
	t.Helper()
	m.GatewayIPAddr, m.HopCount = rc.giaddr, 1
	if _, err := rc.conn.WriteToUDP(m.ToBytes(), rc.server); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(wait)
	for {
		rc.conn.SetReadDeadline(deadline)
		n, _, err := rc.conn.ReadFromUDP(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := dhcpv4.FromBytes(buf[:n])
		if err == nil && r.TransactionID == m.TransactionID {
			return r
		}
	}
}

// message builds a client message of type mt from mac with client id cid.
func message(t *testing.T, mt dhcpv4.MessageType, mac net.HardwareAddr, cid []byte, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	mods = append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(mt), dhcpv4.WithRequestedOptions(requested...)}, mods...)
	if cid != nil {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(cid)))
	}
	m, err := dhcpv4.New(mods...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// initReboot is a REQUEST in INIT-REBOOT: the client asks for the address
// it had, naming no server.
func initReboot(t *testing.T, mac net.HardwareAddr, cid []byte, ip net.IP) *dhcpv4.DHCPv4 {
	return message(t, dhcpv4.MessageTypeRequest, mac, cid, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip)))
}

// optionsOf lists the requested options of a reply, code=hex, sorted.
func optionsOf(m *dhcpv4.DHCPv4) string {
	var out []string
	for _, c := range requested {
		if v := m.Options.Get(c); v != nil {
			out = append(out, fmt.Sprintf("%d=%x", c.Code(), v))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
