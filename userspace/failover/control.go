package failover

// The engine's state for operators: Status (GET /v1/failover on the
// control socket, userspace/control) and PartnerDown (state.go).

import (
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// Status is the engine's state as `xdhcp status` shows it.
type Status struct {
	Role             decide.Role   `json:"role"`
	State            decide.State  `json:"state"`
	StateSince       time.Time     `json:"state_since"`
	Reason           string        `json:"reason"`
	PartnerState     *decide.State `json:"partner_state"` // null: never heard
	Connected        bool          `json:"connected"`
	Partner          string        `json:"partner,omitempty"`
	LastContact      *time.Time    `json:"last_contact"`
	BucketsOwned     int           `json:"buckets_owned"`
	HBA              decide.HBA    `json:"hba"`
	Unacked          int           `json:"unacked_updates"`
	MCLT             time.Duration `json:"mclt_ns"`
	ReceiveTimeout   time.Duration `json:"receive_timeout_ns"`
	PartnerDownSince *time.Time    `json:"partner_down_since,omitempty"`
	UsingPartnerFree bool          `json:"using_partner_free"`
	ShareSplit       int           `json:"share_split"` // the primary's part of every range, in 256ths
	Shares           []Share       `json:"shares"`
}

// Share is one side's part of one range and how much of it is free.
type Share struct {
	Range lease.Range `json:"range"`
	Owner decide.Role `json:"owner"`
	Mine  bool        `json:"mine"`
	Size  uint32      `json:"size"`
	Free  uint32      `json:"free"`
}

// Status reports the engine's state now.
func (e *Engine) Status() Status {
	e.mu.Lock()
	s := &e.st
	out := Status{Role: e.role, State: s.state, StateSince: s.since, Reason: s.reason, Connected: s.connected,
		BucketsOwned: e.bucketsOwned(), HBA: s.hba, Unacked: e.q.unacked(), MCLT: e.o.MCLT,
		ReceiveTimeout: e.o.ReceiveTimeout, UsingPartnerFree: s.state == decide.PartnerDown && s.tookShare}
	if s.partnerKnown {
		p := s.partner
		out.PartnerState = &p
	}
	if s.connected {
		out.Partner = s.remote
	}
	if !s.lastContact.IsZero() {
		t := s.lastContact
		out.LastContact = &t
	}
	if s.state == decide.PartnerDown {
		t := s.partnerDownSince
		out.PartnerDownSince = &t
	}
	out.ShareSplit = int(s.split)
	split := decide.MustSplit(int(s.split))
	e.mu.Unlock()
	if fc, ok := e.o.Bindings.(freeCounter); ok {
		out.Shares = countedShares(e.o.Pools, split, e.role, fc)
		return out
	}
	out.Shares = shares(e.o.Pools, split, e.role, e.o.Bindings.All(), e.o.Now())
	return out
}

// freeCounter is a store that keeps its free counts as leases change
// (*lease.Store): a status or a metrics scrape then costs O(log n), not a
// scan of every lease.
type freeCounter interface{ FreeIn(lease.Range) int }

// countedShares is shares from the store's counts (held offers and
// excluded addresses count as not free there).
func countedShares(pools []lease.Range, split decide.HBA, me decide.Role, fc freeCounter) []Share {
	out := []Share{}
	for _, r := range pools {
		for _, role := range []decide.Role{decide.Primary, decide.Secondary} {
			if part, ok := lease.Share(r, split, role); ok {
				out = append(out, Share{Range: part, Owner: role, Mine: role == me, Size: part.Size(), Free: uint32(fc.FreeIn(part))})
			}
		}
	}
	return out
}

// shares counts the free addresses of each side's part of every range.
func shares(pools []lease.Range, split decide.HBA, me decide.Role, ls []lease.Lease, now time.Time) []Share {
	out := []Share{}
	for _, r := range pools {
		for _, role := range []decide.Role{decide.Primary, decide.Secondary} {
			part, ok := lease.Share(r, split, role)
			if !ok {
				continue
			}
			sh := Share{Range: part, Owner: role, Mine: role == me, Size: part.Size(), Free: part.Size()}
			for _, l := range ls {
				if part.Contains(l.IP) && l.Active(now) {
					sh.Free--
				}
			}
			out = append(out, sh)
		}
	}
	return out
}
