package decide

import "fmt"

// Reason says why a packet got its verdict. The values equal the XDP
// program's enum xdhcp_reason (loader's tests check), so one counter layout
// serves both.
type Reason uint32

const (
	ReasonNotDHCP            Reason = iota // not IPv4/UDP to port 67: passed untouched
	ReasonFragment                         // an IP fragment: passed untouched
	ReasonNotRequest                       // op is not BOOTREQUEST
	ReasonMalformed                        // truncated or inconsistent: passed (fail open)
	ReasonMalformedDropped                 // the same, dropped because drop-malformed is on
	ReasonStatePass                        // failover state is not NORMAL: the daemon decides
	ReasonOverload                         // option 52: options continue in sname/file, the daemon decides
	ReasonOtherMessage                     // a message type the rules do not gate
	ReasonRenewRebind                      // REQUEST with ciaddr: always this server's to answer
	ReasonServerIDMine                     // option 54 names this server
	ReasonOtherServerDropped               // option 54 names another server: dropped
	ReasonLBOff                            // threshold 0: load balancing off
	ReasonOwned                            // this server owns the client's bucket
	ReasonSecsOverride                     // partner's bucket, secs >= threshold: answered
	ReasonPartnerDropped                   // partner's bucket, secs < threshold: dropped
	NumReasons
)

var reasonNames = [...]string{
	ReasonNotDHCP:            "not-dhcp",
	ReasonFragment:           "fragment",
	ReasonNotRequest:         "not-request",
	ReasonMalformed:          "malformed",
	ReasonMalformedDropped:   "malformed-dropped",
	ReasonStatePass:          "state-pass",
	ReasonOverload:           "overload",
	ReasonOtherMessage:       "other-message",
	ReasonRenewRebind:        "renew-rebind",
	ReasonServerIDMine:       "server-id-mine",
	ReasonOtherServerDropped: "other-server-dropped",
	ReasonLBOff:              "lb-off",
	ReasonOwned:              "owned",
	ReasonSecsOverride:       "secs-override",
	ReasonPartnerDropped:     "partner-dropped",
}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint32(r))
}

func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Drops says whether packets with this reason are dropped.
func (r Reason) Drops() bool {
	return r == ReasonMalformedDropped || r == ReasonOtherServerDropped || r == ReasonPartnerDropped
}

// Reasons lists every reason in counter order.
func Reasons() []Reason {
	rs := make([]Reason, NumReasons)
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}
