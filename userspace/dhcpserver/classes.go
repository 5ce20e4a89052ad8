package dhcpserver

import (
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
)

// classify finds the client's classes and its effective settings.
//
// Evaluation order (docs/configuration.md, "classes"): every class is
// tested in the file's order; a client is a member of each class whose
// match conditions all hold. For each setting the most specific source
// wins: the reservation (boot fields, hostname), then the first member
// class that sets it, then the subnet, then the global value. The client's
// pool is the first member class with ranges: such a class's members get
// addresses only from its ranges, and nobody else does.
func classify(s *Server, x *Exchange) bool {
	x.base = x.Subnet
	for _, cl := range s.Config().Classes {
		if memberOf(x, cl) {
			x.Classes = append(x.Classes, cl)
			if x.PoolClass == "" && len(cl.Ranges) > 0 {
				x.PoolClass = cl.Name
			}
		}
	}
	x.Subnet = effective(x, x.base)
	return true
}

// memberOf says whether every condition of cl holds for the request.
func memberOf(x *Exchange, cl *config.Class) bool {
	for _, m := range cl.Match {
		var v []byte
		var ok bool
		if m.Relay != 0 {
			v, ok = x.Relay.Sub(m.Relay)
		} else {
			code := dhcpv4.GenericOptionCode(m.Option)
			v, ok = x.Req.Options.Get(code), x.Req.Options.Has(code)
		}
		if !m.Holds(v, ok) {
			return false
		}
	}
	return len(cl.Match) > 0
}

// effective is subnet sn as the client sees it: its member classes'
// options and lease time over the subnet's, and the boot fields of the
// reservation over the classes' over the subnet's (x.Boot). Without
// classes it is sn itself.
func effective(x *Exchange, sn *config.Subnet) *config.Subnet {
	x.Boot = sn.Boot
	for i := len(x.Classes) - 1; i >= 0; i-- {
		x.Boot = x.Boot.Over(x.Classes[i].Boot)
	}
	if r := x.Reservation; r != nil {
		x.Boot = x.Boot.Over(r.Boot)
	}
	if len(x.Classes) == 0 {
		return sn
	}
	e := *sn
	e.Options = append([]config.Option(nil), sn.Options...)
	// setOptions applies them in order, a later one replacing an earlier
	// one of the same code: the first class goes last.
	for i := len(x.Classes) - 1; i >= 0; i-- {
		e.Options = append(e.Options, x.Classes[i].Options...)
	}
	for _, cl := range x.Classes {
		if cl.LeaseTime > 0 {
			// The subnet's T1 and T2 were chosen for its own lease time.
			e.LeaseTime, e.T1, e.T2 = cl.LeaseTime, 0, 0
			break
		}
	}
	return &e
}
