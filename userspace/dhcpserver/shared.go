package dhcpserver

import (
	"errors"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// offerShared asks the store for an address in each subnet of the
// client's shared network in turn, the client's own (x.base, before class
// settings) first, then the others in the file's order: when one has
// nothing left (or no pool for the client's class) the next one gives it.
// The subnet that gives the address becomes the client's.
func (s *Server) offerShared(x *Exchange, req lease.OfferRequest) (netip.Addr, error) {
	base := x.base
	if base == nil {
		base = x.Subnet
	}
	err := lease.ErrNoAddress
	for i := -1; i < len(x.Shared); i++ {
		sn := base
		if i >= 0 {
			if sn = x.Shared[i]; sn == base {
				continue
			}
		}
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

// subnetOfAddress makes the subnet of the shared network that holds the
// address a REQUEST, DECLINE, RELEASE or INFORM names the client's: a
// client that overflowed into the second subnet renews there.
func subnetOfAddress(s *Server, x *Exchange) bool {
	if x.Shared == nil {
		return true
	}
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
