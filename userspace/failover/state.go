package failover

// The state machine's effects: every state change rewrites the fast-path
// rule and this server's address share and is told to the partner.

import (
	"context"
	"fmt"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// setState changes state, rewrites the rule and the share, logs, and
// tells the partner.
func (e *Engine) setState(to decide.State, reason string) {
	s := &e.st
	from := s.state
	s.state, s.since, s.reason = to, e.o.Now(), reason
	if to == decide.PartnerDown && from != decide.PartnerDown {
		s.partnerDownSince, s.tookShare = s.since, false
	}
	e.apply()
	e.log.Info("failover state", "from", from, "to", to, "reason", reason, "buckets_owned", e.bucketsOwned())
	if s.connected && s.cur != nil {
		s.cur.send(&Message{Header: Header{Type: MsgState}, State: to})
	}
}

func (e *Engine) apply() {
	e.applyRule()
	e.o.Bindings.SetShare(e.shareHBA())
}

// applyRule writes State and HBA together: one map update in the daemon.
func (e *Engine) applyRule() {
	cfg := e.o.Rule.Rule()
	cfg.Rule, cfg.HBA = e.st.state, e.st.hba
	if err := e.o.Rule.SetRule(cfg); err != nil {
		e.log.Error("fast-path rule not written", "state", e.st.state, "err", err)
	}
}

// shareHBA is the address share in force: none while this server does not
// know the partner's bindings (STARTUP, RECOVER), every range after MCLT
// in PARTNER-DOWN, else the agreed split.
func (e *Engine) shareHBA() (decide.HBA, decide.Role) {
	s := &e.st
	switch {
	case s.state == decide.Startup || s.state == decide.Recover:
		return roleAll(e.role.Other()), e.role
	case s.state == decide.PartnerDown && s.tookShare:
		return roleAll(e.role), e.role
	}
	return decide.MustSplit(int(s.split)), e.role
}

func roleAll(r decide.Role) decide.HBA {
	if r == decide.Primary {
		return decide.MustSplit(256)
	}
	return decide.MustSplit(0)
}

// bucketsOwned is how many buckets this server answers at secs 0 now.
func (e *Engine) bucketsOwned() int {
	if e.st.state != decide.Normal {
		return 256
	}
	return e.st.hba.Count(e.role)
}

// PartnerDown is the operator's assertion that the partner is not running.
func (e *Engine) PartnerDown(ctx context.Context) error {
	done := make(chan error, 1)
	op := func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		switch {
		case e.st.connected:
			done <- fmt.Errorf("the partner is connected (%s, state %s): refusing partner-down", e.st.remote, e.st.partner)
		case e.st.state == decide.PartnerDown:
			done <- nil
		default:
			e.setState(decide.PartnerDown, "operator: partner-down")
			done <- nil
		}
	}
	select {
	case e.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
