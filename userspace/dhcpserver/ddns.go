package dhcpserver

import (
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/miekg/dns"
)

// Client FQDN option (81, RFC 4702) flags.
const (
	fqdnS = 0x01 // the server updates the A record
	fqdnO = 0x02 // the server overrode the client's wish (S=0)
	fqdnE = 0x04 // the name is in DNS wire format
	fqdnN = 0x08 // the server updates nothing
)

// clientFQDN is a request's option 81.
type clientFQDN struct {
	flags byte
	name  string
}

func parseFQDN(v []byte) *clientFQDN {
	if len(v) < 3 {
		return nil
	}
	f := &clientFQDN{flags: v[0]}
	if f.flags&fqdnE == 0 {
		f.name = string(v[3:])
		return f
	}
	wire := v[3:]
	if len(wire) > 0 && wire[len(wire)-1] != 0 {
		wire = append(append([]byte(nil), wire...), 0) // a partial name lacks the root label
	}
	if name, _, err := dns.UnpackDomainName(wire, 0); err == nil {
		f.name = name
	}
	return f
}

// readFQDN (ddns: configured) chooses the name the lease registers: the
// first label of the reservation's hostname, else of the client's FQDN
// option, else of its host name option (12), in the configured zone. A
// client that sets the FQDN option's N flag asks for no server updates.
func readFQDN(s *Server, x *Exchange) bool {
	x.fqdn = parseFQDN(x.Req.Options.Get(dhcpv4.OptionFQDN))
	cfg := s.Config().DDNS
	if cfg == nil || (x.fqdn != nil && x.fqdn.flags&fqdnN != 0) {
		return true
	}
	var name string
	switch {
	case x.Reservation != nil && x.Reservation.Hostname != "":
		name = x.Reservation.Hostname
	case x.fqdn != nil && x.fqdn.name != "":
		name = x.fqdn.name
	default:
		name = x.Req.HostName()
	}
	if label := hostLabel(name); label != "" {
		x.DNSName = label + "." + cfg.Zone
	}
	return true
}

// hostLabel is name's first label if it is a valid host name label
// (letters, digits, hyphens; RFC 1123), lower-cased; else "".
func hostLabel(name string) string {
	label, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(name)), ".")
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return ""
	}
	for _, c := range label {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return ""
		}
	}
	return label
}

// replyFQDN answers a client's FQDN option (ddns: configured) with the
// flags saying what the server does and the name it registers: S when it
// updates A and PTR (O when the client had asked to update A itself: this
// server always does both, keeping the pair's records consistent), N when
// it updates nothing.
func replyFQDN(s *Server, x *Exchange) bool {
	if x.fqdn == nil || x.Resp == nil || s.Config().DDNS == nil {
		return true
	}
	if t := x.Resp.MessageType(); t != dhcpv4.MessageTypeOffer && t != dhcpv4.MessageTypeAck {
		return true
	}
	flags := x.fqdn.flags & fqdnE
	name := x.DNSName
	switch {
	case name == "":
		flags |= fqdnN
		name = x.fqdn.name
	case x.fqdn.flags&fqdnS == 0:
		flags |= fqdnS | fqdnO
	default:
		flags |= fqdnS
	}
	v := []byte{flags, 255, 255} // RCODE1/2: 255 from a server (RFC 4702 section 4)
	if flags&fqdnE != 0 {
		wire := make([]byte, 256)
		if n, err := dns.PackDomainName(dns.Fqdn(name), wire, 0, nil, false); err == nil {
			v = append(v, wire[:n]...)
		}
	} else {
		v = append(v, name...)
	}
	x.Resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionFQDN, v))
	return true
}
