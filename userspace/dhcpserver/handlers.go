package dhcpserver

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// checkRequest accepts well-formed DHCP requests and starts the reply.
func checkRequest(s *Server, x *Exchange) bool {
	r := x.Req
	if r.OpCode != dhcpv4.OpcodeBootRequest {
		return x.silent("not a BOOTREQUEST (op %d)", r.OpCode)
	}
	if r.MessageType() == dhcpv4.MessageTypeNone {
		if !s.Config().BOOTP {
			return x.silent("BOOTP request without a DHCP message type: not served (bootp: false)")
		}
		x.BOOTP = true
	}
	if len(r.ClientHWAddr) == 0 || len(r.ClientHWAddr) > 16 {
		return x.silent("hardware address length %d", len(r.ClientHWAddr))
	}
	sid := x.Meta.ServerID
	if !sid.IsValid() {
		sid = x.Meta.IfAddr
	}
	if !sid.Is4() {
		return x.silent("no server identifier for interface %s", x.Meta.Iface)
	}
	x.Meta.ServerID = sid
	resp, err := dhcpv4.NewReplyFromRequest(r, dhcpv4.WithServerIP(nil),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip4(sid))))
	if err != nil {
		return x.silent("build reply: %v", err)
	}
	x.Resp = resp
	return true
}

// selectSubnet picks the client's network: the relay's link selection,
// the client's subnet selection option, the relay's address (linkAddress),
// else the subnet bound to the receiving interface, else the interface's
// address; then the rest of its shared network.
func selectSubnet(s *Server, x *Exchange) bool {
	cfg := s.Config()
	if a, by := linkAddress(x); a.IsValid() {
		if x.Subnet = cfg.SubnetFor(a); x.Subnet == nil {
			return x.silent("no subnet for %s %v", by, a)
		}
	} else {
		for _, sn := range cfg.Subnets {
			if sn.Interface != "" && sn.Interface == x.Meta.Iface {
				x.Subnet = sn
				break
			}
		}
		if x.Subnet == nil && x.Meta.IfAddr.IsValid() {
			x.Subnet = cfg.SubnetFor(x.Meta.IfAddr)
		}
		if x.Subnet == nil {
			return x.silent("no subnet for interface %s (%v)", x.Meta.Iface, x.Meta.IfAddr)
		}
	}
	if x.Subnet.SharedNetwork != "" {
		x.Shared = cfg.SharedWith(x.Subnet)
	}
	return true
}

// ClientIDOf is the client's identity: option 61, else htype + chaddr.
func ClientIDOf(r *dhcpv4.DHCPv4) lease.ClientID {
	if id := r.GetOneOption(dhcpv4.OptionClientIdentifier); len(id) > 0 {
		return lease.ClientID(id)
	}
	return append(lease.ClientID{byte(r.HWType)}, r.ClientHWAddr...)
}

// identifyClient sets the client's identity and finds its reservation in
// the client's shared network (its subnet first): by client id, MAC, then
// the relay's circuit id and remote id. A reservation in another subnet of
// the shared network makes that subnet the client's.
func identifyClient(s *Server, x *Exchange) bool {
	x.Client = ClientIDOf(x.Req)
	circuit, hasCircuit := x.Relay.Sub(config.RelayCircuitID)
	remote, hasRemote := x.Relay.Sub(config.RelayRemoteID)
	subnets := x.Shared
	if subnets == nil {
		subnets = []*config.Subnet{x.Subnet}
	}
	for _, sn := range subnets {
		for _, r := range sn.Reservations {
			if (len(r.ClientID) > 0 && bytes.Equal(r.ClientID, x.Client)) ||
				(len(r.HWAddr) > 0 && bytes.Equal(r.HWAddr, x.Req.ClientHWAddr)) ||
				(hasCircuit && len(r.CircuitID) > 0 && bytes.Equal(r.CircuitID, circuit)) ||
				(hasRemote && len(r.RemoteID) > 0 && bytes.Equal(r.RemoteID, remote)) {
				x.Reservation, x.Subnet = r, sn
				return true
			}
		}
	}
	return true
}

// leaseByMessage does what the message type asks of the lease store.
func leaseByMessage(s *Server, x *Exchange) bool {
	switch x.Req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		return discover(s, x)
	case dhcpv4.MessageTypeRequest:
		return request(s, x)
	case dhcpv4.MessageTypeDecline:
		return decline(s, x)
	case dhcpv4.MessageTypeRelease:
		return release(s, x)
	case dhcpv4.MessageTypeInform:
		x.Resp.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeAck))
		x.Resp.ClientIPAddr = x.Req.ClientIPAddr
		return true
	case dhcpv4.MessageTypeNone:
		if x.BOOTP {
			return bootp(s, x)
		}
	}
	return x.silent("message type %v is not a client request", x.Req.MessageType())
}

func discover(s *Server, x *Exchange) bool {
	cfg := s.Config()
	if f := s.store.Fault(); f != nil {
		// The REQUEST that follows could not be stored: offer nothing.
		s.drops.storeFault.Add(1)
		return x.silent("lease store failing (%s): no offer", f.Cause)
	}
	req := lease.OfferRequest{
		Subnet: x.Subnet.Prefix, Client: x.Client, Hold: cfg.OfferHold,
		Requested: addrOf(x.Req.RequestedIPAddress()),
		Reserve:   cfg.Limits.PoolReserve,
	}
	if x.Reservation != nil {
		req.Reserved = x.Reservation.IP
		req.Reserve = lease.Reserve{} // reserved clients may use the reserve
	}
	a, err := s.offerShared(x, req)
	switch {
	case errors.Is(err, lease.ErrReserve):
		s.drops.poolReserve.Add(1)
		return x.silent("no offer: %v", err)
	case errors.Is(err, lease.ErrNoAddress):
		s.drops.noAddress.Add(1)
		return x.silent("no offer: %v", err)
	case err != nil:
		return x.silent("no offer: %v", err)
	}
	x.Resp.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeOffer))
	x.Resp.YourIPAddr = ip4(a)
	return true
}

// request handles SELECTING (server id), INIT-REBOOT (requested address,
// no ciaddr) and RENEWING/REBINDING (ciaddr).
func request(s *Server, x *Exchange) bool {
	cfg := s.Config()
	var want netip.Addr
	sid := addrOf(x.Req.ServerIdentifier())
	ciaddr := addrOf(x.Req.ClientIPAddr)
	switch {
	case sid.IsValid():
		if sid != x.Meta.ServerID {
			return x.silent("client selected server %v", sid)
		}
		want = addrOf(x.Req.RequestedIPAddress())
	case ciaddr.IsValid():
		want = ciaddr
	default:
		want = addrOf(x.Req.RequestedIPAddress())
	}
	if !want.IsValid() {
		return x.silent("REQUEST names no address")
	}
	if !x.Subnet.Prefix.Contains(want) {
		return nak(s, x, "address "+want.String()+" is not on the client's network "+x.Subnet.Prefix.String())
	}
	if x.Reservation != nil && x.Reservation.IP != want {
		return nak(s, x, "client has a reservation for "+x.Reservation.IP.String())
	}
	lt, _, _ := cfg.Timers(x.Subnet)
	lt = s.leaseTime(want, lt)
	l, pending, err := s.store.BindAsync(lease.BindRequest{
		Subnet: x.Subnet.Prefix, Client: x.Client, IP: want, LeaseTime: lt,
		HWAddr: x.Req.ClientHWAddr.String(), Hostname: hostname(x),
		Reserved: x.Reservation != nil, Reserve: cfg.Limits.PoolReserve,
		Class: x.PoolClass, RelayInfo: x.Relay.Raw, DNSName: x.DNSName,
	})
	switch {
	case errors.Is(err, lease.ErrReserve):
		// Silence, not NAK: the client goes back to DISCOVER, which the
		// reserve refuses too, and a NAK storm helps nobody.
		s.drops.poolReserve.Add(1)
		return x.silent("%v", err)
	case errors.Is(err, lease.ErrInUse), errors.Is(err, lease.ErrNotInSubnet):
		return nak(s, x, err.Error())
	case errors.Is(err, lease.ErrUnknownAddress):
		// No record of this address: only an authoritative server refuses.
		return nak(s, x, err.Error())
	case err != nil:
		return x.silent("store: %v", err)
	}
	x.Pending = pending
	x.Resp.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeAck))
	x.Resp.YourIPAddr = ip4(l.IP)
	x.Resp.ClientIPAddr = x.Req.ClientIPAddr
	return true
}

func hostname(x *Exchange) string {
	if x.Reservation != nil && x.Reservation.Hostname != "" {
		return x.Reservation.Hostname
	}
	return x.Req.HostName()
}

// nak refuses a REQUEST when authoritative (RFC 2131 4.3.2), else stays silent.
func nak(s *Server, x *Exchange, why string) bool {
	if !s.Config().Authoritative {
		return x.silent("not authoritative: %s", why)
	}
	resp, err := dhcpv4.NewReplyFromRequest(x.Req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip4(x.Meta.ServerID))),
		dhcpv4.WithOption(dhcpv4.OptMessage(why)))
	if err != nil {
		return x.silent("build NAK: %v", err)
	}
	if !x.Req.GatewayIPAddr.IsUnspecified() {
		resp.SetBroadcast() // the relay must broadcast it: the client's address is wrong
	}
	x.Resp, x.Why = resp, why
	return false
}

func decline(s *Server, x *Exchange) bool {
	a := addrOf(x.Req.RequestedIPAddress())
	if !a.IsValid() {
		return x.silent("DECLINE without a requested address")
	}
	_, pending, err := s.store.DeclineAsync(a, x.Client, s.Config().DeclineProbation)
	if err != nil {
		return x.silent("decline: %v", err)
	}
	x.Pending = pending
	s.log.Info("address declined, on probation", "ip", a, "client", x.Client, "for", s.Config().DeclineProbation)
	return x.silent("declined %v", a)
}

func release(s *Server, x *Exchange) bool {
	a := addrOf(x.Req.ClientIPAddr)
	_, pending, err := s.store.ReleaseAsync(a, x.Client)
	if err != nil {
		return x.silent("release: %v", err)
	}
	x.Pending = pending
	return x.silent("released %v", a)
}

// setOptions adds the lease timers and the subnet's options. With a
// parameter request list only the requested ones are sent (subnet mask and
// the timers always: clients need them to configure).
func setOptions(s *Server, x *Exchange) bool {
	cfg := s.Config()
	sn := x.Subnet
	r := x.Resp
	if x.Req.MessageType() != dhcpv4.MessageTypeInform {
		lt, t1, t2 := cfg.Timers(sn)
		if capped := s.leaseTime(addrOf(r.YourIPAddr), lt); capped < lt {
			// Keep the timers' proportions (RFC 2131: T1 0.5, T2 0.875).
			lt, t1, t2 = capped, min(t1, capped/2), min(t2, capped*7/8)
		}
		r.UpdateOption(dhcpv4.OptIPAddressLeaseTime(lt.Truncate(time.Second)))
		r.UpdateOption(dhcpv4.OptRenewTimeValue(t1.Truncate(time.Second)))
		r.UpdateOption(dhcpv4.OptRebindingTimeValue(t2.Truncate(time.Second)))
	}
	r.UpdateOption(dhcpv4.OptSubnetMask(net.CIDRMask(sn.Prefix.Bits(), 32)))
	prl := x.Req.ParameterRequestList()
	want := func(code dhcpv4.OptionCode) bool {
		// Compare numbers: parsed codes and GenericOptionCode differ in type.
		for _, c := range prl {
			if c.Code() == code.Code() {
				return true
			}
		}
		return len(prl) == 0
	}
	if len(sn.Routers) > 0 && want(dhcpv4.OptionRouter) {
		r.UpdateOption(dhcpv4.OptRouter(ips(sn.Routers)...))
	}
	if len(sn.DNS) > 0 && want(dhcpv4.OptionDomainNameServer) {
		r.UpdateOption(dhcpv4.OptDNS(ips(sn.DNS)...))
	}
	if sn.Domain != "" && want(dhcpv4.OptionDomainName) {
		r.UpdateOption(dhcpv4.OptDomainName(sn.Domain))
	}
	if x.Reservation != nil && x.Reservation.Hostname != "" && want(dhcpv4.OptionHostName) {
		r.UpdateOption(dhcpv4.OptHostName(x.Reservation.Hostname))
	}
	for _, o := range sn.Options {
		if code := dhcpv4.GenericOptionCode(o.Code); want(code) {
			r.UpdateOption(dhcpv4.OptGeneric(code, o.Value))
		}
	}
	return true
}

func ips(as []netip.Addr) []net.IP {
	out := make([]net.IP, len(as))
	for i, a := range as {
		out[i] = ip4(a)
	}
	return out
}
