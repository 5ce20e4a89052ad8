package dhcpserver

import (
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
)

// RelayInfo is the relay agent information option (82, RFC 3046) of a
// request: its payload, kept with the lease and echoed in the reply (the
// reply copies option 82 as received), and the sub-options policy uses.
type RelayInfo struct {
	Raw []byte
	sub map[uint8][]byte
}

// Sub returns sub-option code's value and whether the relay sent it.
func (r RelayInfo) Sub(code uint8) ([]byte, bool) {
	v, ok := r.sub[code]
	return v, ok
}

// LinkSelection is sub-option 5 (RFC 3527): the link the client is on when
// giaddr cannot say it (a relay reaching the server from another network).
func (r RelayInfo) LinkSelection() netip.Addr {
	v, ok := r.sub[config.RelayLinkSelection]
	if !ok || len(v) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(v))
}

// parseRelayInfo reads option 82's sub-options (code, length, value); a
// malformed option keeps its payload (echoed as received) but gives no
// sub-options to match on.
func parseRelayInfo(raw []byte) RelayInfo {
	r := RelayInfo{Raw: raw}
	if len(raw) == 0 {
		return r
	}
	subs := map[uint8][]byte{}
	for b := raw; len(b) > 0; {
		if len(b) < 2 || int(b[1]) > len(b)-2 {
			return r
		}
		if _, dup := subs[b[0]]; !dup {
			subs[b[0]] = b[2 : 2+b[1]]
		}
		b = b[2+b[1]:]
	}
	r.sub = subs
	return r
}

// readRelayInfo parses option 82. It is read with or without giaddr: a
// switch snooping DHCP adds it to requests it bridges (giaddr 0).
func readRelayInfo(s *Server, x *Exchange) bool {
	x.Relay = parseRelayInfo(x.Req.Options.Get(dhcpv4.OptionRelayAgentInformation))
	return true
}

// linkAddress is the address that names the client's link, in the order
// RFC 3527 and RFC 3011 give: the relay's link-selection sub-option, the
// client's subnet selection option (118), then giaddr. The relay is
// trusted before the client: a relay that sets link selection has decided.
func linkAddress(x *Exchange) (netip.Addr, string) {
	if a := x.Relay.LinkSelection(); a.IsValid() {
		return a, "link selection"
	}
	if v := x.Req.Options.Get(dhcpv4.OptionSubnetSelection); len(v) == 4 {
		if a := netip.AddrFrom4([4]byte(v)); !a.IsUnspecified() {
			return a, "subnet selection option"
		}
	}
	if gi := addrOf(x.Req.GatewayIPAddr); gi.IsValid() {
		return gi, "relay"
	}
	return netip.Addr{}, ""
}
