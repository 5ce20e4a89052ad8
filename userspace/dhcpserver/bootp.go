package dhcpserver

import (
	"errors"
	"math"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// bootpForever is an infinite BOOTP binding (the lease time ISC's
// dynamic-bootp gives when no limit is set): 2^32-1 seconds, "infinity" in
// DHCP's lease time option.
const bootpForever = time.Duration(math.MaxUint32) * time.Second

// bootp answers a BOOTREQUEST without a DHCP message type (RFC 951, 1542)
// with an address from the client's ranges, bound at once: a BOOTP client
// neither requests nor renews. The binding lasts bootp-lease-time
// (infinite by default); in a failover pair the MCLT rule caps a dynamic
// one like any lease (a reserved address is exempt: no partner gives it).
func bootp(s *Server, x *Exchange) bool {
	cfg := s.Config()
	if f := s.store.Fault(); f != nil {
		s.drops.storeFault.Add(1)
		return x.silent("lease store failing (%s): no BOOTREPLY", f.Cause)
	}
	req := lease.OfferRequest{Client: x.Client, Hold: cfg.OfferHold, Reserve: cfg.Limits.PoolReserve}
	if x.Reservation != nil {
		req.Reserved, req.Reserve = x.Reservation.IP, lease.Reserve{}
	}
	a, err := s.offerShared(x, req)
	if err != nil {
		if errors.Is(err, lease.ErrNoAddress) {
			s.drops.noAddress.Add(1)
		}
		return x.silent("no BOOTP address: %v", err)
	}
	lt := cfg.BOOTPLeaseTime
	if lt == 0 {
		lt = bootpForever
	}
	reserved := x.Reservation != nil && x.Reservation.IP == a
	if !reserved {
		lt = s.leaseTime(a, lt)
	}
	l, pending, err := s.store.BindAsync(lease.BindRequest{
		Subnet: x.Subnet.Prefix, Client: x.Client, IP: a, LeaseTime: lt,
		HWAddr: x.Req.ClientHWAddr.String(), Hostname: hostname(x),
		Reserved: reserved, Reserve: cfg.Limits.PoolReserve,
		Class: x.PoolClass, RelayInfo: x.Relay.Raw, DNSName: x.DNSName,
	})
	if err != nil {
		return x.silent("BOOTP bind %v: %v", a, err)
	}
	x.Pending = pending
	x.Resp.YourIPAddr = ip4(l.IP)
	return true
}

// dhcpOnly are the options a BOOTREPLY must not carry.
var dhcpOnly = []dhcpv4.OptionCode{
	dhcpv4.OptionDHCPMessageType, dhcpv4.OptionServerIdentifier, dhcpv4.OptionIPAddressLeaseTime,
	dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue, dhcpv4.OptionClientIdentifier,
}

// finishBOOTP strips DHCP's own options from a BOOTREPLY: what remains is
// RFC 1497 vendor information (mask, routers, DNS, names).
func finishBOOTP(s *Server, x *Exchange) bool {
	if x.BOOTP && x.Resp != nil {
		for _, c := range dhcpOnly {
			x.Resp.Options.Del(c)
		}
	}
	return true
}
