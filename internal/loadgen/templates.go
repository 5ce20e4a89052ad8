package loadgen

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Type is a kind of client message the generator sends.
type Type string

// The message kinds; each is a template the program stamps per packet.
const (
	Discover Type = "discover" // broadcast DISCOVER: hash-gated
	Request  Type = "request"  // SELECTING REQUEST naming the server id: server-id rule
	Reboot   Type = "reboot"   // INIT-REBOOT REQUEST (option 50, no 54, ciaddr 0): hash-gated
	Renew    Type = "renew"    // unicast REQUEST with ciaddr: always answered
	Rebind   Type = "rebind"   // broadcast REQUEST with ciaddr: always answered
	Decline  Type = "decline"  // DECLINE naming the server id
	Release  Type = "release"  // unicast RELEASE naming the server id
	Inform   Type = "inform"   // INFORM with ciaddr: hash-gated
)

// Types lists every kind in a stable order.
func Types() []Type {
	return []Type{Discover, Request, Reboot, Renew, Rebind, Decline, Release, Inform}
}

// ParseTypes reads a comma-separated list such as "discover,request".
func ParseTypes(s string) ([]Type, error) {
	var out []Type
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		ok := false
		for _, t := range Types() {
			if string(t) == f {
				out, ok = append(out, t), true
				break
			}
		}
		if !ok {
			names := make([]string, 0, len(Types()))
			for _, t := range Types() {
				names = append(names, string(t))
			}
			return nil, fmt.Errorf("message type %q: want one of %s", f, strings.Join(names, ", "))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("message types %q: none given", s)
	}
	return out, nil
}

// Template renders the frame for one message kind. serverID is the option
// 54 value (and the unicast destination) of the kinds that name a server.
func Template(t Type, serverID netip.Addr) ([]byte, error) {
	if !serverID.Is4() {
		return nil, fmt.Errorf("template %s: server id %s is not IPv4", t, serverID)
	}
	sid := net.IP(serverID.AsSlice())
	cip := net.IPv4(198, 18, 1, 10).To4()                   // a lab address (198.18.0.0/15)
	templateMAC := net.HardwareAddr{0x02, 0x18, 0, 0, 0, 0} // overwritten per packet
	var (
		mods    []dhcpv4.Modifier
		unicast bool
	)
	switch t {
	case Discover:
		mods = []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover), dhcpv4.WithBroadcast(true)}
	case Request:
		mods = []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithBroadcast(true),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid)), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(cip))}
	case Reboot:
		mods = []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithBroadcast(true),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(cip))}
	case Renew:
		mods = []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithClientIP(cip)}
		unicast = true
	case Rebind:
		mods = []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithClientIP(cip)}
	case Decline:
		mods = []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid)), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(cip))}
	case Release:
		mods = []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), dhcpv4.WithClientIP(cip),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid))}
		unicast = true
	case Inform:
		mods = []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeInform), dhcpv4.WithClientIP(cip)}
	default:
		return nil, fmt.Errorf("template: unknown message type %q", t)
	}
	mods = append(mods, dhcpv4.WithHwAddr(templateMAC))
	m, err := dhcpv4.New(mods...)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", t, err)
	}
	f := frames.Frame{Src: templateMAC, Payload: m.ToBytes()}
	if unicast {
		f.SrcIP, f.DstIP = cip, sid
		f.Dst = net.HardwareAddr{0x02, 0x18, 0xff, 0, 0, 1}
	}
	b := f.Bytes()
	// The program writes at fixed offsets; make sure this frame has them.
	if _, reason, ok := decide.ParseFrame(b); !ok || len(b) < bootpOff+chaddrOff+6 || b[bootpOff] != decide.BootRequest {
		return nil, fmt.Errorf("template %s: frame does not parse as DHCP at offset %d (%s)", t, bootpOff, reason)
	}
	return b, nil
}

// Offsets the program writes at (bpf/gen.c).
const (
	ethSrcOff = 6
	bootpOff  = 42
	chaddrOff = 28
)
