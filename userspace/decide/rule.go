package decide

import (
	"fmt"
	"net/netip"
	"strings"
)

// State is the failover state as the fast path sees it. Only Normal applies
// the load-balancing rules; every other state passes all DHCP traffic and the
// daemon decides. The zero value (Startup) is therefore the fail-open one.
type State uint8

const (
	Startup State = iota
	Normal
	CommunicationsInterrupted
	PartnerDown
	Recover
	RecoverWait
	RecoverDone
	PotentialConflict
	Paused
	Shutdown
	ResolutionInterrupted
	ConflictDone
	numStates
)

var stateNames = [...]string{
	Startup:                   "startup",
	Normal:                    "normal",
	CommunicationsInterrupted: "communications-interrupted",
	PartnerDown:               "partner-down",
	Recover:                   "recover",
	RecoverWait:               "recover-wait",
	RecoverDone:               "recover-done",
	PotentialConflict:         "potential-conflict",
	Paused:                    "paused",
	Shutdown:                  "shutdown",
	ResolutionInterrupted:     "resolution-interrupted",
	ConflictDone:              "conflict-done",
}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ParseState reads a state name as printed by String.
func ParseState(s string) (State, error) {
	want := strings.ToLower(strings.TrimSpace(s))
	for i, n := range stateNames {
		if n == want {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("state %q: want one of %s", s, strings.Join(stateNames[:], ", "))
}

func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MaxServerIDs is how many server identifiers the fast path can hold.
const MaxServerIDs = 8

// DefaultThreshold is the secs value from which a non-owner answers
// (Windows Server 2022 answers from secs 6).
const DefaultThreshold = 6

// Rule is everything the decision needs. The XDP program holds the same
// fields in its config map (loader converts).
type Rule struct {
	HBA  HBA  `json:"hba"`
	Role Role `json:"role"`
	// Threshold: a client this server does not own is answered when
	// secs >= Threshold. 0 turns load balancing off. ISC's
	// `load balance max seconds M` is Threshold M+1.
	Threshold uint16 `json:"threshold"`
	Rule      State  `json:"state"`
	// ServerIDs are this server's identifiers (option 54). Empty means
	// "unknown": requests naming a server are then hash-gated instead.
	ServerIDs []netip.Addr `json:"server_ids"`
	// ChaddrOnly hashes chaddr even when option 61 is present (Windows).
	ChaddrOnly bool `json:"chaddr_only"`
	// SwapSecs reads secs > 255 with a zero low byte as byte-swapped
	// (ISC check-secs-byte-order, Kea).
	SwapSecs bool `json:"swap_secs"`
	// DropMalformed drops unparseable packets to port 67 instead of passing them.
	DropMalformed bool `json:"drop_malformed"`
	// RelayStats records per-relay counters in the fast path.
	RelayStats bool `json:"relay_stats"`
}

// DefaultRule is a primary at a 50:50 split in NORMAL state with the Windows threshold.
func DefaultRule() Rule {
	return Rule{HBA: MustSplit(128), Role: Primary, Threshold: DefaultThreshold, Rule: Normal, RelayStats: true}
}

// Validate reports the first field that the fast path cannot hold.
func (c Rule) Validate() error {
	if c.Role > Secondary {
		return fmt.Errorf("role %d: want primary or secondary", c.Role)
	}
	if c.Rule >= numStates {
		return fmt.Errorf("state %d: unknown", c.Rule)
	}
	if len(c.ServerIDs) > MaxServerIDs {
		return fmt.Errorf("server ids: %d given, at most %d", len(c.ServerIDs), MaxServerIDs)
	}
	for _, a := range c.ServerIDs {
		if !a.Is4() {
			return fmt.Errorf("server id %s: not an IPv4 address", a)
		}
	}
	return nil
}

// Owns says whether this server owns bucket b.
func (c Rule) Owns(b uint8) bool { return c.HBA.Owner(b) == c.Role }

// hasServerID says whether id is one of this server's identifiers.
func (c Rule) hasServerID(id [4]byte) bool {
	for _, a := range c.ServerIDs {
		if a.As4() == id {
			return true
		}
	}
	return false
}
