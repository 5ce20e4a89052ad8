package node

import (
	"context"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/failover"
)

// engineTuner is the failover engine as a PairTuner.
//
// The engine's Tune (issue 14: agree a tuning with the partner, apply it
// on both, call Options.Persist on both) is being added beside this work.
// When it lands, this body becomes
//
//	r, err := t.e.Tune(ctx, failover.Tuning(tu)); return Tuning(r), err
//
// and newEngine sets fo.Persist = func(t failover.Tuning) error { return n.tuner.persist(Tuning(t)) }.
type engineTuner struct{ e *failover.Engine }

func (t engineTuner) Tune(ctx context.Context, tu Tuning) (Tuning, error) {
	return Tuning{}, control.Refused("threshold and buckets of a pair are changed on both servers at once, which this build's failover engine cannot do yet")
}
