package daemon

import (
	"fmt"
	"sync"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// RuleSetter changes the load-balancing rule at run time (failover state,
// HBA, role). The daemon implements it.
type RuleSetter interface {
	SetRule(decide.Rule) error
}

// rule holds the one current decision config: it writes the XDP maps when
// the program is attached and answers the Go-side check for interfaces
// without XDP, so both paths always apply the same rule.
type rule struct {
	mu   sync.RWMutex
	cfg  decide.Rule
	maps *loader.Maps // nil: XDP not attached anywhere
}

func (r *rule) get() decide.Rule {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cfg
}

func (r *rule) set(c decide.Rule) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("rule: %w", err)
	}
	c.ServerIDs = append(c.ServerIDs[:0:0], c.ServerIDs...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maps != nil {
		if err := r.maps.SetRule(c); err != nil {
			return fmt.Errorf("rule: write XDP config: %w", err)
		}
	}
	r.cfg = c
	return nil
}

// decide applies the rule in Go (interfaces without XDP).
func (r *rule) decide(payload []byte) decide.Verdict {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return decide.DecidePayload(&r.cfg, payload)
}
