package dhcpserver

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Via is how a reply leaves.
type Via uint8

const (
	ViaRelay     Via = iota + 1 // UDP to giaddr:67
	ViaUnicast                  // UDP to ciaddr:68 (the client has its address)
	ViaBroadcast                // 255.255.255.255:68 on the receiving interface
	ViaL2                       // to yiaddr:68 in a frame to chaddr: no ARP needed
)

func (v Via) String() string {
	switch v {
	case ViaRelay:
		return "relay"
	case ViaUnicast:
		return "unicast"
	case ViaBroadcast:
		return "broadcast"
	case ViaL2:
		return "l2-unicast"
	}
	return fmt.Sprintf("via(%d)", uint8(v))
}

// Dest is where a reply goes.
type Dest struct {
	Via  Via
	IP   netip.Addr
	Port uint16
	MAC  net.HardwareAddr // ViaL2 only
}

func (d Dest) String() string { return fmt.Sprintf("%s %v:%d", d.Via, d.IP, d.Port) }

var bcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// Route applies RFC 2131 4.1: relayed requests go back to the relay's
// port 67; a NAK to a direct client is broadcast; a client that has an
// address (ciaddr) gets unicast; the broadcast flag or a client that cannot
// receive unicast before it has an address gets broadcast; otherwise the
// reply is unicast to yiaddr at layer 2.
func Route(req, resp *dhcpv4.DHCPv4) Dest {
	if gi := addrOf(req.GatewayIPAddr); gi.IsValid() {
		return Dest{Via: ViaRelay, IP: gi, Port: dhcpv4.ServerPort}
	}
	if resp.MessageType() == dhcpv4.MessageTypeNak {
		return Dest{Via: ViaBroadcast, IP: bcast, Port: dhcpv4.ClientPort}
	}
	if ci := addrOf(req.ClientIPAddr); ci.IsValid() {
		return Dest{Via: ViaUnicast, IP: ci, Port: dhcpv4.ClientPort}
	}
	yi := addrOf(resp.YourIPAddr)
	if req.IsBroadcast() || !yi.IsValid() || len(req.ClientHWAddr) != 6 {
		return Dest{Via: ViaBroadcast, IP: bcast, Port: dhcpv4.ClientPort}
	}
	return Dest{Via: ViaL2, IP: yi, Port: dhcpv4.ClientPort, MAC: req.ClientHWAddr}
}
