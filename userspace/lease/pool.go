package lease

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Range is an inclusive range of IPv4 addresses.
type Range struct {
	Start netip.Addr `json:"start"`
	End   netip.Addr `json:"end"`
}

// ParseRange reads "START-END" (or a single address).
func ParseRange(s string) (Range, error) {
	a, b, found := strings.Cut(strings.TrimSpace(s), "-")
	start, err := netip.ParseAddr(strings.TrimSpace(a))
	if err != nil || !start.Is4() {
		return Range{}, fmt.Errorf("range %q: start %q is not an IPv4 address", s, a)
	}
	end := start
	if found {
		if end, err = netip.ParseAddr(strings.TrimSpace(b)); err != nil || !end.Is4() {
			return Range{}, fmt.Errorf("range %q: end %q is not an IPv4 address", s, b)
		}
	}
	if u32(end) < u32(start) {
		return Range{}, fmt.Errorf("range %q: end before start", s)
	}
	return Range{start, end}, nil
}

func (r Range) String() string { return r.Start.String() + "-" + r.End.String() }

// Size is the number of addresses in r.
func (r Range) Size() uint32 { return u32(r.End) - u32(r.Start) + 1 }

// Contains says whether a is in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.Is4() && u32(a) >= u32(r.Start) && u32(a) <= u32(r.End)
}

// Share is role's part of r under hba: the primary gets the lower part, the
// secondary the upper part, in proportion to the buckets each owns (split
// 128 halves every range). ok is false when role's part is empty. The
// failover engine calls this (through Store.SetShare) when it rebalances.
func Share(r Range, hba decide.HBA, role decide.Role) (own Range, ok bool) {
	n := uint64(r.Size())
	primary := uint32(n * uint64(hba.Count(decide.Primary)) / 256)
	switch role {
	case decide.Primary:
		if primary == 0 {
			return Range{}, false
		}
		return Range{r.Start, addr(u32(r.Start) + primary - 1)}, true
	default:
		if uint64(primary) == n {
			return Range{}, false
		}
		return Range{addr(u32(r.Start) + primary), r.End}, true
	}
}

// Pool is the dynamic addresses of one subnet.
type Pool struct {
	Subnet netip.Prefix
	Ranges []Range
	// Excluded addresses are never handed out dynamically (reservations).
	Excluded map[netip.Addr]bool
	// Class names the client class this pool is kept for ("": the
	// subnet's own ranges, for clients of no class with ranges).
	Class string
}

// Contains says whether a is in one of p's ranges.
func (p Pool) Contains(a netip.Addr) bool {
	for _, r := range p.Ranges {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

func u32(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}
