package daemon

import (
	"github.com/vishvananda/netlink"
)

// Serving is closed once the daemon answers requests: every interface is
// open and the fast path attached where it could be.
func (d *Daemon) Serving() <-chan struct{} { return d.serving }

// Interface is one served interface as health reports it.
type Interface struct {
	Name string
	// XDP: the program this daemon attached is on the interface now, as
	// the kernel says (a detach behind the daemon's back shows).
	XDP       bool
	ProgramID uint32
}

// Interfaces reports the served interfaces; nil until serving.
func (d *Daemon) Interfaces() []Interface {
	select {
	case <-d.serving:
	default:
		return nil
	}
	out := make([]Interface, 0, len(d.links))
	for _, l := range d.links {
		it := Interface{Name: l.name}
		if l.xdp {
			if nl, err := netlink.LinkByIndex(l.index); err == nil && nl.Attrs().Xdp != nil && nl.Attrs().Xdp.ProgId == l.prog {
				it.XDP, it.ProgramID = true, l.prog
			}
		}
		out = append(out, it)
	}
	return out
}

// XDPMode is the configured fast-path mode (auto, native, generic, off).
func (d *Daemon) XDPMode() string {
	if d.cfg.XDP == "" {
		return "auto"
	}
	return d.cfg.XDP
}

// StorePath is the lease store file.
func (d *Daemon) StorePath() string { return d.cfg.DB }
