// Package bench measures xdhcp's fast path against trivial XDP programs in
// the same run: the in-kernel cost of each verdict path (test-run timing)
// and the rate at which partner-owned floods are received and dropped on a
// veth fed by the live-frames generator (internal/loadgen).
package bench

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Lab is a veth pair inside a network namespace of its own: the generator
// sends out of Out, and In (the peer) runs the receiving XDP program.
type Lab struct {
	Name    string // network namespace name
	Out, In string
	InIndex int
	ns      netns.NsHandle
	queues  int
}

// NewLab creates the namespace name (unique per caller: put the PID in it)
// and the veth pair inside, both ends up.
func NewLab(name string) (*Lab, error) { return NewLabQueues(name, 1) }

// NewLabQueues is NewLab with queues transmit and receive queues on each
// end: with XDP attached, the receiving end polls each receive queue in a
// NAPI instance of its own, and a frame redirected into the pair from CPU c
// lands in queue c mod queues.
func NewLabQueues(name string, queues int) (*Lab, error) {
	if queues < 1 {
		return nil, fmt.Errorf("lab %s: %d queues", name, queues)
	}
	l := &Lab{Name: name, Out: "xbgen0", In: "xbrx0", queues: queues}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("lab %s: current namespace: %w", name, err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name) // also moves this thread into it
	if err != nil {
		return nil, fmt.Errorf("lab %s: create network namespace: %w", name, err)
	}
	l.ns = ns
	setupErr := l.setup()
	if err := netns.Set(orig); err != nil {
		// This thread is stuck in the lab namespace: do not give it back.
		runtime.LockOSThread()
		return nil, errors.Join(setupErr, fmt.Errorf("lab %s: return to the original namespace: %w", name, err))
	}
	if setupErr != nil {
		l.Close()
		return nil, setupErr
	}
	return l, nil
}

// setup runs inside the lab namespace.
func (l *Lab) setup() error {
	// No IPv6: router solicitations and MLD reports would reach the
	// receiver's counters.
	for _, f := range []string{"all", "default"} {
		path := "/proc/sys/net/ipv6/conf/" + f + "/disable_ipv6"
		if err := os.WriteFile(path, []byte("1"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("lab %s: disable IPv6: %w", l.Name, err)
		}
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.Out, NumTxQueues: l.queues, NumRxQueues: l.queues},
		PeerName: l.In, PeerNumTxQueues: uint32(l.queues), PeerNumRxQueues: uint32(l.queues)}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("lab %s: create veth %s/%s: %w", l.Name, l.Out, l.In, err)
	}
	for _, name := range []string{"lo", l.Out, l.In} {
		lk, err := netlink.LinkByName(name)
		if err != nil {
			return fmt.Errorf("lab %s: %s: %w", l.Name, name, err)
		}
		if err := netlink.LinkSetUp(lk); err != nil {
			return fmt.Errorf("lab %s: set %s up: %w", l.Name, name, err)
		}
		if name == l.In {
			l.InIndex = lk.Attrs().Index
		}
	}
	return nil
}

// Enter moves the calling (locked) thread into the lab namespace; for
// threads that are discarded afterwards, such as the generator's.
func (l *Lab) Enter() error {
	if err := netns.Set(l.ns); err != nil {
		return fmt.Errorf("enter namespace %s: %w", l.Name, err)
	}
	return nil
}

// Do runs f on a thread inside the lab namespace and returns the thread to
// the original namespace (or retires it when that fails).
func (l *Lab) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("current namespace: %w", err)
			return // the thread dies with the goroutine while locked
		}
		defer orig.Close()
		if err := l.Enter(); err != nil {
			errc <- err
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave namespace %s: %w", l.Name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Netlink is a netlink handle inside the lab namespace (close it).
func (l *Lab) Netlink() (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(l.ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in namespace %s: %w", l.Name, err)
	}
	return h, nil
}

// Close deletes the namespace, and with it the veth pair.
func (l *Lab) Close() error {
	l.ns.Close()
	if err := netns.DeleteNamed(l.Name); err != nil {
		return fmt.Errorf("delete namespace %s: %w", l.Name, err)
	}
	return nil
}
