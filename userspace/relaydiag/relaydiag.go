// Package relaydiag reads the fast path's per-relay counters and finds the
// relay that forwards only to this server.
//
// The pattern: when a relay forwards a client's DISCOVER to both servers, the
// owner answers at once and this (non-owning) server sees the client's first
// packets at low secs and drops them; the client then stops. When the relay
// forwards only here, the owner never hears the client, which retransmits
// with rising secs until secs reaches the threshold and this server answers
// (a secs override). So a relay whose partner-owned requests end up
// overridden in a large share, and more than a handful of times, is broken.
package relaydiag

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/xdhcp/xdhcp/loader"
)

// Status is the diagnosis of one relay.
type Status string

const (
	// StatusOK: partner-owned clients are answered by the partner.
	StatusOK Status = "ok"
	// StatusForwardsOnlyHere: partner-owned clients end up served here.
	StatusForwardsOnlyHere Status = "forwards-only-here"
	// StatusTooFew: too few partner-owned requests to tell.
	StatusTooFew Status = "too-few"
)

// Rule holds the thresholds. The zero value is not useful: use DefaultRule.
type Rule struct {
	// MinOverridden is how many partner-owned requests must have been
	// answered here by the secs override before a relay is flagged: one
	// slow answer from the partner is not a broken relay.
	MinOverridden uint64 `json:"min_overridden"`
	// MinOverrideShare is the share of partner-owned requests answered
	// here (overridden / (dropped + overridden)) from which a relay is
	// flagged. A client whose relay forwards only here sends its requests
	// below the threshold, is answered at the first one at or above it and
	// stops: its share is 1/(requests below the threshold + 1). With the
	// RFC 2131 backoff (secs 0, 4, 12) and threshold 6 that is 1/3; a
	// client that retransmits every second with secs 0, 1, 2, ... (Windows,
	// the lab) sends T requests below threshold T: 1/(T+1), 0.14 at the
	// default 6. ForThreshold fits the share to T; a healthy relay stays
	// near 0.
	MinOverrideShare float64 `json:"min_override_share"`
	// MinPartnerRequests: below this many partner-owned requests there is
	// not enough to say anything either way.
	MinPartnerRequests uint64 `json:"min_partner_requests"`
}

// DefaultRule is the rule `xdhcp relays` applies.
func DefaultRule() Rule {
	return Rule{MinOverridden: 3, MinOverrideShare: 0.2, MinPartnerRequests: 5}
}

// ForThreshold lowers MinOverrideShare to half the share a one-sided relay
// shows with clients that retransmit every second, 1/(2(T+1)), when that
// is below it: at threshold 6 a relay whose partner-owned clients each
// sent secs 0..6 (share 1/7) must be flagged, which a fixed 0.2 missed.
// A healthy relay's share is its slow clients' only: below it unless
// about one partner-owned client in seven waits T seconds for the partner.
func (r Rule) ForThreshold(t uint16) Rule {
	if t == 0 {
		return r // load balancing off: nothing is overridden
	}
	if s := 1 / (2 * float64(t+1)); s < r.MinOverrideShare {
		r.MinOverrideShare = s
	}
	return r
}

// Validate reports a threshold that makes no sense.
func (r Rule) Validate() error {
	if r.MinOverrideShare <= 0 || r.MinOverrideShare > 1 {
		return fmt.Errorf("min override share %g: want 0 < share <= 1", r.MinOverrideShare)
	}
	if r.MinOverridden == 0 {
		return fmt.Errorf("min overridden: want at least 1")
	}
	return nil
}

// Finding is one relay's counters and diagnosis.
type Finding struct {
	// Name is the relay address, or "direct" for on-link clients (giaddr 0).
	Name              string     `json:"name"`
	Relay             netip.Addr `json:"relay"`
	Requests          uint64     `json:"requests"`
	Owned             uint64     `json:"owned"`
	PartnerDropped    uint64     `json:"partner_dropped"`
	PartnerOverridden uint64     `json:"partner_overridden"`
	MaxOverrideSecs   uint16     `json:"max_override_secs"`
	LastSeen          time.Time  `json:"last_seen"`
	// OverrideShare is partner_overridden / (partner_dropped + partner_overridden).
	OverrideShare float64 `json:"override_share"`
	Status        Status  `json:"status"`
	Message       string  `json:"message"`
}

// Flagged says whether the finding is a broken relay.
func (f Finding) Flagged() bool { return f.Status == StatusForwardsOnlyHere }

// Report is the diagnosis of every relay.
type Report struct {
	Rule    Rule      `json:"rule"`
	Relays  []Finding `json:"relays"`
	Flagged int       `json:"flagged"`
	Summary string    `json:"summary"`
	Window  string    `json:"window,omitempty"` // empty: counters since load or reset
}

// Name is how a relay is shown: its address, or "direct" for giaddr 0.
func Name(a netip.Addr) string {
	if !a.IsValid() || a.IsUnspecified() {
		return "direct"
	}
	return a.String()
}

// Diagnose applies r to one relay's counters.
func (r Rule) Diagnose(s loader.RelayStats) Finding {
	f := Finding{Name: Name(s.Relay), Relay: s.Relay, Requests: s.Requests, Owned: s.Owned,
		PartnerDropped: s.PartnerDropped, PartnerOverridden: s.PartnerOverridden,
		MaxOverrideSecs: s.MaxOverrideSecs, LastSeen: s.LastSeen}
	partner := s.PartnerDropped + s.PartnerOverridden
	if partner > 0 {
		f.OverrideShare = float64(s.PartnerOverridden) / float64(partner)
	}
	switch {
	case s.PartnerOverridden >= r.MinOverridden && f.OverrideShare >= r.MinOverrideShare:
		f.Status = StatusForwardsOnlyHere
		if f.Name == "direct" {
			f.Message = fmt.Sprintf("on-link clients appear to reach only this server: %d of %d partner-owned requests were answered here after waiting (secs up to %d); is the partner on this segment?",
				s.PartnerOverridden, partner, s.MaxOverrideSecs)
		} else {
			f.Message = fmt.Sprintf("relay %s appears to forward only to this server: %d of %d partner-owned requests were answered here after waiting (secs up to %d); add the partner as a helper address on the relay",
				f.Name, s.PartnerOverridden, partner, s.MaxOverrideSecs)
		}
	case partner < r.MinPartnerRequests:
		f.Status = StatusTooFew
		f.Message = fmt.Sprintf("%d partner-owned requests: too few to tell", partner)
	default:
		f.Status = StatusOK
		f.Message = fmt.Sprintf("the partner answers its clients: %d of %d partner-owned requests reached the secs override", s.PartnerOverridden, partner)
	}
	return f
}

// DiagnoseAll applies r to every relay, sorted by address (direct first).
func (r Rule) DiagnoseAll(stats []loader.RelayStats) Report {
	rep := Report{Rule: r, Relays: make([]Finding, 0, len(stats))}
	for _, s := range stats {
		rep.Relays = append(rep.Relays, r.Diagnose(s))
	}
	slices.SortFunc(rep.Relays, func(a, b Finding) int { return a.Relay.Compare(b.Relay) })
	var judged []Finding
	for _, f := range rep.Relays {
		if f.Flagged() {
			rep.Flagged++
		}
		if f.Status != StatusTooFew {
			judged = append(judged, f)
		}
	}
	switch {
	case len(rep.Relays) == 0:
		rep.Summary = "no hash-gated requests seen yet"
	case rep.Flagged == 0:
		rep.Summary = "no relay flagged"
	case rep.Flagged == len(judged) && len(judged) > 1:
		// Every relay shows it: more likely the partner is not answering at all.
		rep.Summary = fmt.Sprintf("all %d relays with enough traffic are flagged: the partner itself may not be answering (check the failover state)", rep.Flagged)
	default:
		rep.Summary = fmt.Sprintf("%d of %d relays flagged", rep.Flagged, len(rep.Relays))
	}
	return rep
}

// Delta is what the counters did between two readings of the same map: the
// relays seen in after, with before's counts subtracted (a relay whose slot
// another relay took over in between counts from zero). MaxOverrideSecs and
// LastSeen are after's: a maximum cannot be subtracted.
func Delta(before, after []loader.RelayStats) []loader.RelayStats {
	prev := make(map[netip.Addr]loader.RelayStats, len(before))
	for _, s := range before {
		prev[s.Relay] = s
	}
	sub := func(a, b uint64) uint64 {
		if b > a {
			return a // reset or eviction in between: a counts from zero
		}
		return a - b
	}
	var out []loader.RelayStats
	for _, s := range after {
		p, ok := prev[s.Relay]
		if ok && p.Requests > s.Requests {
			ok = false // reset in between
		}
		if ok {
			s.Requests = sub(s.Requests, p.Requests)
			s.Owned = sub(s.Owned, p.Owned)
			s.PartnerDropped = sub(s.PartnerDropped, p.PartnerDropped)
			s.PartnerOverridden = sub(s.PartnerOverridden, p.PartnerOverridden)
		}
		if s.Requests == 0 {
			continue
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b loader.RelayStats) int { return a.Relay.Compare(b.Relay) })
	return out
}

// Watch diagnoses the counters read now, or with window > 0 what they
// did during the window (read twice, the rule applied to the Delta).
func (r Rule) Watch(ctx context.Context, read func() ([]loader.RelayStats, error), window time.Duration) (Report, error) {
	stats, err := read()
	if err != nil || window <= 0 {
		return r.DiagnoseAll(stats), err
	}
	select {
	case <-ctx.Done():
		return Report{}, ctx.Err()
	case <-time.After(window):
	}
	after, err := read()
	if err != nil {
		return Report{}, err
	}
	rep := r.DiagnoseAll(Delta(stats, after))
	rep.Window = window.String()
	return rep, nil
}

// Print writes the table an operator reads; now makes "last seen" relative.
func (rep Report) Print(out io.Writer, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "relay\trequests\towned\tpartner dropped\tpartner overridden\toverride share\tmax secs\tlast seen\tstatus\n")
	for _, f := range rep.Relays {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.2f\t%d\t%s ago\t%s\n", f.Name, f.Requests, f.Owned, f.PartnerDropped,
			f.PartnerOverridden, f.OverrideShare, f.MaxOverrideSecs, now.Sub(f.LastSeen).Round(time.Second), f.Status)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, f := range rep.Relays {
		if f.Flagged() {
			fmt.Fprintf(out, "! %s\n", f.Message)
		}
	}
	window := "since load or reset"
	if rep.Window != "" {
		window = "in the last " + rep.Window
	}
	_, err := fmt.Fprintf(out, "%s (%s; rule: overridden >= %d and share >= %.2f)\n", rep.Summary, window, rep.Rule.MinOverridden, rep.Rule.MinOverrideShare)
	return err
}
