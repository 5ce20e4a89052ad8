package bench

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// AttachIn attaches prog to the lab's receiving end in driver mode; closing
// the returned link detaches it.
func (l *Lab) AttachIn(prog *ebpf.Program) (link.Link, error) {
	return attachNative(l.Do, prog, l.InIndex, l.In)
}

// attachNative attaches prog to ifindex from inside do (which picks the
// network namespace the index belongs to).
func attachNative(do func(func() error) error, prog *ebpf.Program, ifindex int, name string) (link.Link, error) {
	var lk link.Link
	err := do(func() error {
		var err error
		lk, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPDriverMode})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("attach XDP to %s: %w", name, err)
	}
	return lk, nil
}
