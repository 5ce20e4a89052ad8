// Package lease is xdhcp's durable lease store and address allocator: leases
// live in an append-only journal file, every change is fsync'd before the
// caller may answer the client (concurrent changes share one write and one
// fsync: group commit), and new addresses come only from this server's
// share of each range.
package lease

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// State is a lease's binding state.
type State uint8

const (
	Bound    State = iota + 1 // held by its client until Expiry
	Released                  // given back by its client; free, remembered for that client
	Declined                  // reported in use by a client: unusable until Expiry (probation)
)

var stateNames = map[State]string{Bound: "bound", Released: "released", Declined: "declined"}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
func (s *State) UnmarshalText(b []byte) error {
	for k, n := range stateNames {
		if n == string(b) {
			*s = k
			return nil
		}
	}
	return fmt.Errorf("lease state %q: want bound, released or declined", b)
}

// ClientID identifies a client: option 61's payload when the client sends
// one, else the hardware type byte followed by chaddr (the same bytes a
// client using its MAC as client-identifier sends, so both forms match).
type ClientID []byte

func (c ClientID) String() string { return hex.EncodeToString(c) }

func (c ClientID) MarshalText() ([]byte, error) { return []byte(c.String()), nil }
func (c *ClientID) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(strings.ReplaceAll(string(b), ":", ""))
	if err != nil {
		return fmt.Errorf("client id %q: %w", b, err)
	}
	*c = v
	return nil
}

// Issuer says which server of the pair made a binding.
type Issuer struct {
	Role     decide.Role `json:"role"`
	ServerID netip.Addr  `json:"server_id"`
}

// Lease is one address's binding, as stored.
type Lease struct {
	IP       netip.Addr `json:"ip"`
	Client   ClientID   `json:"client_id,omitempty"`
	HWAddr   string     `json:"hwaddr,omitempty"`
	Hostname string     `json:"hostname,omitempty"`
	State    State      `json:"state"`
	// Start is when the binding was made or last renewed.
	Start time.Time `json:"start"`
	// Expiry is when the lease ends; for a released lease the release time,
	// for a declined one the end of its probation.
	Expiry   time.Time `json:"expiry"`
	IssuedBy Issuer    `json:"issued_by"`
	// RelayInfo is the relay agent information (option 82's payload, RFC
	// 3046) the binding was made through, for the partner and the operator;
	// a renewal sent straight to the server (no relay) keeps it.
	RelayInfo []byte `json:"relay_info,omitempty"`
	// DNSName is the name this binding registers in DNS (DDNS; empty: none).
	DNSName string `json:"dns_name,omitempty"`
}

// Active says whether the address is unavailable to other clients at now.
func (l Lease) Active(now time.Time) bool {
	return (l.State == Bound || l.State == Declined) && now.Before(l.Expiry)
}

// decodeBbolt reads a record of the bbolt store of earlier versions.
func decodeBbolt(k, v []byte) (Lease, error) {
	var l Lease
	if err := json.Unmarshal(v, &l); err != nil {
		return l, fmt.Errorf("lease record %x: %w", k, err)
	}
	if len(k) != 4 || !l.IP.Is4() || l.IP.As4() != [4]byte(k) {
		return l, fmt.Errorf("lease record %x: address %v does not match its key", k, l.IP)
	}
	if err := l.check(); err != nil {
		return l, fmt.Errorf("lease record %x: %w", k, err)
	}
	return l, nil
}
