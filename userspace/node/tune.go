package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// ruleWriter is the daemon's rule: the XDP maps, or the Go-side check.
type ruleWriter interface {
	Rule() decide.Rule
	SetRule(decide.Rule) error
}

// PairTuner agrees a tuning with the partner and applies it on both
// servers (the failover engine's Tune; it calls the node's persist on
// each side once agreed). Returns what both now use.
type PairTuner interface {
	Tune(ctx context.Context, t Tuning) (Tuning, error)
}

// tuner is the one writer of the rule's threshold and assignment while
// serve runs: `xdhcp threshold|buckets|state set` reach it over the
// control socket (PUT /v1/rule).
type tuner struct {
	mu     sync.Mutex
	rules  ruleWriter
	share  func(decide.HBA, decide.Role) // the lease store's share (standalone)
	fo     control.Failover              // nil: standalone
	pair   PairTuner
	file   string
	base   Tuning // the flags' threshold and assignment
	source string
	log    *slog.Logger
}

// Rule is GET /v1/rule.
func (t *tuner) Rule() control.RuleView {
	return control.RuleView{Rule: t.rules.Rule(), Pair: t.fo != nil, Tuning: t.file, Source: t.source}
}

// Tune is PUT /v1/rule: a standalone server applies the change and keeps
// it; a pair agrees threshold and assignment with the partner, and takes
// a state change only as the operator's partner-down.
func (t *tuner) Tune(ctx context.Context, ch control.RuleChange) (control.RuleView, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.rules.Rule()
	if ch.Role != nil && *ch.Role != cur.Role {
		return t.Rule(), control.Refused("role %s: fixed while serve runs (it decides this server's address share and what the partner expects); restart serve with --role %s", *ch.Role, *ch.Role)
	}
	now := Tuning{Threshold: cur.Threshold, HBA: cur.HBA}
	want := now
	if ch.Threshold != nil {
		want.Threshold = *ch.Threshold
	}
	if ch.HBA != nil {
		want.HBA = *ch.HBA
	}
	var err error
	if t.fo != nil {
		err = t.tunePair(ctx, ch.State, now, want)
	} else {
		err = t.tuneAlone(ch.State, cur, want)
	}
	return t.Rule(), err
}

func (t *tuner) tuneAlone(state *decide.State, cur decide.Rule, want Tuning) error {
	next := cur
	next.Threshold, next.HBA = want.Threshold, want.HBA
	if state != nil {
		next.Rule = *state
	}
	if err := t.rules.SetRule(next); err != nil {
		return err
	}
	if next.HBA != cur.HBA {
		t.share(next.HBA, next.Role)
	}
	if want != (Tuning{Threshold: cur.Threshold, HBA: cur.HBA}) {
		if err := t.persist(want); err != nil {
			// Not kept means not done: a restart would silently undo it.
			_ = t.rules.SetRule(cur)
			t.share(cur.HBA, cur.Role)
			return fmt.Errorf("%w; the change was undone", err)
		}
	}
	t.log.Info("rule tuned", "threshold", next.Threshold, "buckets_owned", next.HBA.Count(next.Role), "state", next.Rule, "kept_in", t.file)
	return nil
}

func (t *tuner) tunePair(ctx context.Context, state *decide.State, now, want Tuning) error {
	if state != nil {
		switch st := t.fo.Status().State; {
		case *state == st:
		case *state == decide.PartnerDown:
			if err := t.fo.PartnerDown(ctx); err != nil {
				return control.Refused("state partner-down: %v", err)
			}
		default:
			return control.Refused("state %s: in a pair the failover engine sets the state (now %s); an operator may only declare partner-down, while the partner is not connected", *state, st)
		}
	}
	if want == now {
		return nil
	}
	got, err := t.pair.Tune(ctx, want)
	if err != nil {
		var ce *control.Error
		if !errors.As(err, &ce) {
			err = control.Refused("tuning not agreed with the partner: %v", err)
		}
		return err
	}
	t.log.Info("rule tuned on both servers", "threshold", got.Threshold, "primary_buckets", got.HBA.Count(decide.Primary))
	return nil
}

// persist keeps t across restarts (the failover engine calls it on both
// servers of a pair once a tuning is agreed). Back at the flags' values,
// the file goes.
func (t *tuner) persist(tu Tuning) error {
	if tu == t.base {
		if err := os.Remove(t.file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("tuning file %s: %w", t.file, err)
		}
		return nil
	}
	return writeTuning(t.file, tuningFile{Flags: t.base, Tuning: tu, Written: time.Now().UTC()})
}
