// Package rulectl reads and changes the fast-path rule where it lives, for
// the commands (xdhcp threshold|buckets|state, attach). When a daemon
// serves the interface it is the rule's one writer: a change goes to it
// over the control socket, and it keeps it (in a pair, agreed with the
// partner). Without a daemon the maps are written directly, under a lock,
// so that two writers never interleave their read-modify-write.
package rulectl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Target is where a command looks for the rule.
type Target struct {
	Control string // the daemon's control socket
	Iface   string // the interface ("": the pins, else any with xdhcp)
	PinDir  string
}

// Now is the rule in force and who answered for it.
type Now struct {
	Rule decide.Rule
	// View is the daemon's answer (nil: read from the maps, no daemon).
	View *control.RuleView
}

// DaemonServing is the daemon on path when it runs in this network
// namespace and serves every one of ifaces; nil when none does.
func DaemonServing(ctx context.Context, path string, ifaces []string) (*control.Client, error) {
	cl := control.Dial(path)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	h, err := cl.Health(ctx)
	if errors.Is(err, control.ErrNoDaemon) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ns, _ := os.Readlink("/proc/thread-self/ns/net"); h.NetNS != ns {
		return nil, nil
	}
	for _, ifn := range ifaces {
		if !slices.ContainsFunc(h.Interfaces, func(i control.InterfaceHealth) bool { return i.Name == ifn }) {
			return nil, nil
		}
	}
	return cl, nil
}

func (t Target) daemon(ctx context.Context) (*control.Client, error) {
	var ifaces []string
	if t.Iface != "" {
		ifaces = append(ifaces, t.Iface)
	}
	return DaemonServing(ctx, t.Control, ifaces)
}

// Read asks the serving daemon, else reads the maps.
func (t Target) Read(ctx context.Context) (Now, error) {
	cl, err := t.daemon(ctx)
	if err != nil {
		return Now{}, err
	}
	if cl != nil {
		v, err := cl.Rule(ctx)
		return Now{Rule: v.Rule, View: &v}, err
	}
	m, err := OpenMaps(t.Iface, t.PinDir)
	if err != nil {
		return Now{}, err
	}
	defer m.Close()
	r, err := m.Rule()
	return Now{Rule: r}, err
}

// Change applies ch through the serving daemon, else to the maps under
// the lock, and returns what is in force afterwards.
func (t Target) Change(ctx context.Context, ch control.RuleChange) (Now, error) {
	cl, err := t.daemon(ctx)
	if err != nil {
		return Now{}, err
	}
	if cl != nil {
		v, err := cl.Tune(ctx, ch)
		return Now{Rule: v.Rule, View: &v}, err
	}
	unlock, err := LockMaps(t.PinDir)
	if err != nil {
		return Now{}, err
	}
	defer unlock()
	m, err := OpenMaps(t.Iface, t.PinDir)
	if err != nil {
		return Now{}, err
	}
	defer m.Close()
	err = m.UpdateRule(func(r *decide.Rule) error {
		if ch.Threshold != nil {
			r.Threshold = *ch.Threshold
		}
		if ch.HBA != nil {
			r.HBA = *ch.HBA
		}
		if ch.Role != nil {
			r.Role = *ch.Role
		}
		if ch.State != nil {
			r.Rule = *ch.State
		}
		return nil
	})
	if err != nil {
		return Now{}, err
	}
	r, err := m.Rule()
	return Now{Rule: r}, err
}

// Where says who applies the rule after a change; kept: the change is
// one the daemon keeps across restarts (threshold, assignment).
func (n Now) Where(kept bool) string {
	switch {
	case n.View == nil:
		return "written to the fast path's maps (no daemon serves this interface)"
	case !kept && n.View.Pair:
		return "the pair's failover engine applies it"
	case !kept:
		return "in force in the daemon until it restarts"
	case n.View.Pair:
		return "in force on both servers of the pair, kept in " + n.View.Tuning
	}
	return "in force in the daemon, kept in " + n.View.Tuning
}

// OpenMaps finds the fast path's maps from the pins or the interface, so a
// command works with or without a daemon and under ip netns exec. A pin
// dir that does not exist is not created: readers leave no trace.
func OpenMaps(iface, pinDir string) (*loader.Maps, error) {
	var pins *loader.PinDir
	if fi, err := os.Stat(pinDir); err == nil && fi.IsDir() {
		if pins, err = loader.OpenPinDir(pinDir); err != nil {
			return nil, err
		}
	}
	m, err := loader.Open(iface, pins)
	if err != nil {
		return nil, fmt.Errorf("find the fast path: %w", err)
	}
	return m, nil
}

// LockMaps takes the map writers' lock: flock on the pin dir when this
// process sees it, else on the network namespace (under ip netns exec the
// maps are found through the namespace's interfaces; the pins are not
// visible). It blocks until the other writer is done.
func LockMaps(pinDir string) (unlock func(), err error) {
	path := "/proc/thread-self/ns/net"
	if fi, err := os.Stat(pinDir); err == nil && fi.IsDir() {
		path = pinDir
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lock the fast path's maps: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the fast path's maps (%s): %w", path, err)
	}
	return func() { f.Close() }, nil
}
