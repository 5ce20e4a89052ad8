package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// The rule commands (threshold, buckets, state) read and change the rule
// where it lives. When a daemon serves the interface it is the rule's one
// writer: the command asks it over the control socket, and it keeps the
// change (and, in a pair, agrees it with the partner). Without a daemon
// the command writes the maps itself, under a lock, so that two writers
// never interleave their read-modify-write.

// ruleFlagsOf are the flags every rule command takes.
func ruleCmdFlags(extra ...cli.Flag) []cli.Flag {
	return append(extra, ifaceFlag, pinDirFlag, controlFlag, jsonFlag)
}

// ruleNow is the rule and who answered for it.
type ruleNow struct {
	Rule decide.Rule
	// View is the daemon's answer (nil: read from the maps, no daemon).
	View *control.RuleView
}

// servingDaemon is the daemon on --control when it serves this command's
// interface: same network namespace, and --iface (when given) among its
// interfaces. nil when none does.
func servingDaemon(c *cli.Context) (*control.Client, error) {
	var ifaces []string
	if ifn := c.String("iface"); ifn != "" {
		ifaces = append(ifaces, ifn)
	}
	return daemonServing(c, ifaces)
}

// daemonServing is the daemon on --control when it runs in this network
// namespace and serves every one of ifaces; nil when none does.
func daemonServing(c *cli.Context, ifaces []string) (*control.Client, error) {
	cl := control.Dial(c.String("control"))
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Second)
	defer cancel()
	h, err := cl.Health(ctx)
	if errors.Is(err, control.ErrNoDaemon) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ns, _ := os.Readlink("/proc/self/ns/net"); h.NetNS != ns {
		return nil, nil
	}
	for _, ifn := range ifaces {
		if !slices.ContainsFunc(h.Interfaces, func(i control.InterfaceHealth) bool { return i.Name == ifn }) {
			return nil, nil
		}
	}
	return cl, nil
}

// readRule asks the serving daemon, else reads the maps.
func readRule(c *cli.Context) (ruleNow, error) {
	cl, err := servingDaemon(c)
	if err != nil {
		return ruleNow{}, err
	}
	if cl != nil {
		v, err := cl.Rule(c.Context)
		return ruleNow{Rule: v.Rule, View: &v}, err
	}
	m, err := openMaps(c)
	if err != nil {
		return ruleNow{}, err
	}
	defer m.Close()
	r, err := m.Rule()
	return ruleNow{Rule: r}, err
}

// changeRule applies ch through the serving daemon, else to the maps
// under the lock, and returns what is in force afterwards.
func changeRule(c *cli.Context, ch control.RuleChange) (ruleNow, error) {
	cl, err := servingDaemon(c)
	if err != nil {
		return ruleNow{}, err
	}
	if cl != nil {
		v, err := cl.Tune(c.Context, ch)
		return ruleNow{Rule: v.Rule, View: &v}, err
	}
	unlock, err := lockMaps(c.String("pin-dir"))
	if err != nil {
		return ruleNow{}, err
	}
	defer unlock()
	m, err := openMaps(c)
	if err != nil {
		return ruleNow{}, err
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
		return ruleNow{}, err
	}
	r, err := m.Rule()
	return ruleNow{Rule: r}, err
}

// lockMaps takes the writers' lock: flock on the pin dir when this process
// sees it, else on the network namespace (under ip netns exec the maps are
// found through the namespace's interfaces, and the pins are not visible).
func lockMaps(pinDir string) (unlock func(), err error) {
	path := "/proc/self/ns/net"
	if dirExists(pinDir) {
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

// where says who now applies the rule after a change; kept: the change
// is one the daemon keeps across restarts (threshold, assignment).
func (r ruleNow) where(kept bool) string {
	switch {
	case r.View == nil:
		return "written to the fast path's maps (no daemon serves this interface)"
	case !kept && r.View.Pair:
		return "the pair's failover engine applies it"
	case !kept:
		return "in force in the daemon until it restarts"
	case r.View.Pair:
		return "in force on both servers of the pair, kept in " + r.View.Tuning
	}
	return "in force in the daemon, kept in " + r.View.Tuning
}
