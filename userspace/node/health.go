package node

import (
	"fmt"
	"os"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Health is GET /v1/health: serving, the fast path on each interface,
// the store, and in a pair the partner. Each problem is named.
func (n *Node) Health() control.Health {
	h := control.Health{Started: n.started, PID: os.Getpid(), NetNS: n.netns, FastPath: n.d.XDPMode(), Problems: []string{}}
	select {
	case <-n.ready:
		n.mu.Lock()
		h.Serving = !n.stopping
		n.mu.Unlock()
		if !h.Serving {
			h.Problems = append(h.Problems, "stopping")
		}
	default:
		h.Problems = append(h.Problems, "starting: not serving yet")
	}
	for _, it := range n.d.Interfaces() {
		h.Interfaces = append(h.Interfaces, control.InterfaceHealth{Name: it.Name, XDP: it.XDP, ProgramID: it.ProgramID})
		if !it.XDP && h.FastPath != "off" {
			h.Problems = append(h.Problems, fmt.Sprintf("fast path not attached on %s: the rule runs in user space there", it.Name))
		}
	}
	h.Store = control.StoreHealth{Path: n.d.StorePath(), Writable: true}
	if f := n.d.Store().Fault(); f != nil {
		h.Store.Writable, h.Store.Fault = false, f.Cause
		h.Problems = append(h.Problems, fmt.Sprintf("lease store %s not writable: %s since %s", h.Store.Path, f.Cause, f.Since.Format("15:04:05")))
	}
	if n.engine != nil {
		st := n.engine.Status()
		h.Partner = &control.PartnerHealth{State: st.State, PartnerState: st.PartnerState, Connected: st.Connected, LastContact: st.LastContact}
		switch {
		case !st.Connected:
			h.Problems = append(h.Problems, fmt.Sprintf("failover partner not connected (state %s: %s)", st.State, st.Reason))
		case st.State != decide.Normal:
			h.Problems = append(h.Problems, fmt.Sprintf("failover state %s, not normal yet", st.State))
		}
	}
	h.OK = len(h.Problems) == 0
	return h
}
