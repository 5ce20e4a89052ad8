package dhcpserver

import (
	"errors"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// offerShared asks the store for an address in each subnet of the
// client's shared network in turn, the client's own first: when one has
// nothing left (or no pool for the client's class) the next one gives it.
// The subnet that gives the address becomes the client's.
func (s *Server) offerShared(x *Exchange, req lease.OfferRequest) (netip.Addr, error) {
	err := lease.ErrNoAddress
	for _, sn := range s.sharedOrder(x) {
		req.Subnet, req.Class = sn.Prefix, x.PoolClass
		a, e := s.store.Offer(req)
		if e == nil {
			x.Subnet = effective(x, sn)
			return a, nil
		}
		if !errors.Is(e, lease.ErrNoAddress) && !errors.Is(e, lease.ErrNoPool) && !errors.Is(e, lease.ErrReserve) {
			return a, e
		}
		if !errors.Is(e, lease.ErrNoPool) || errors.Is(err, lease.ErrNoPool) {
			err = e // report the most telling refusal: a full pool over a missing one
		}
	}
	return netip.Addr{}, err
}

// sharedOrder is the client's subnet (x.base, before class settings), then
// the rest of its shared network in the file's order.
func (s *Server) sharedOrder(x *Exchange) []*config.Subnet {
	base := x.base
	if base == nil {
		base = x.Subnet
	}
	out := []*config.Subnet{base}
	for _, sn := range x.Shared {
		if sn != base {
			out = append(out, sn)
		}
	}
	return out
}

// subnetOfAddress makes the subnet of the shared network that holds the
// address a REQUEST, DECLINE, RELEASE or INFORM names the client's: a
// client that overflowed into the second subnet renews there.
func subnetOfAddress(s *Server, x *Exchange) bool {
	var a netip.Addr
	switch x.Req.MessageType() {
	case dhcpv4.MessageTypeRequest:
		if a = addrOf(x.Req.ClientIPAddr); !a.IsValid() {
			a = addrOf(x.Req.RequestedIPAddress())
		}
	case dhcpv4.MessageTypeDecline:
		a = addrOf(x.Req.RequestedIPAddress())
	case dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeInform:
		a = addrOf(x.Req.ClientIPAddr)
	}
	if !a.IsValid() || x.Subnet.Prefix.Contains(a) {
		return true
	}
	for _, sn := range x.Shared {
		if sn.Prefix.Contains(a) {
			x.Subnet = sn
			break
		}
	}
	return true
}
