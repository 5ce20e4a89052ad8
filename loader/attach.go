package loader

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Mode is how the program is attached.
type Mode int

const (
	ModeAuto    Mode = iota // native when the driver supports it, else generic
	ModeNative              // driver mode (veth, most 10G+ NICs)
	ModeGeneric             // skb mode: works everywhere, slower
)

// ParseMode reads auto, native or generic.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "auto":
		return ModeAuto, nil
	case "native", "driver", "drv":
		return ModeNative, nil
	case "generic", "skb":
		return ModeGeneric, nil
	}
	return 0, fmt.Errorf("mode %q: want auto, native or generic", s)
}

func (m Mode) String() string {
	return [...]string{"auto", "native", "generic"}[m]
}

func (m Mode) linkFlags() link.XDPAttachFlags {
	switch m {
	case ModeNative:
		return link.XDPDriverMode
	case ModeGeneric:
		return link.XDPGenericMode
	}
	return 0
}

func (m Mode) netlinkFlags() int {
	switch m {
	case ModeNative:
		return nl.XDP_FLAGS_DRV_MODE
	case ModeGeneric:
		return nl.XDP_FLAGS_SKB_MODE
	}
	return 0
}

// Attachment says how xdhcp is attached to one interface.
type Attachment struct {
	Iface     string `json:"iface"`
	Ifindex   int    `json:"ifindex"`
	ProgramID uint32 `json:"program_id"`
	// Via is "link" (a bpf_link, pinned under PinDir) or "netlink" (held by
	// the interface itself: the way that survives `ip netns exec`).
	Via     string `json:"via"`
	LinkPin string `json:"link_pin,omitempty"`
	Mode    string `json:"mode"`
}

// Attach attaches p to ifname. An xdhcp program already there is replaced
// atomically (no packet sees no filter); any other XDP program is an error.
// With a persistent bpffs the attachment is a pinned bpf_link, else a
// netlink attachment; both outlive this process.
func (p *Program) Attach(ifname string, mode Mode, pins *PinDir) (*Attachment, error) {
	nlink, err := netlink.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("attach %s: interface not found: %w", ifname, err)
	}
	idx := nlink.Attrs().Index
	newID, err := programID(p.XDP())
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", ifname, err)
	}
	att := &Attachment{Iface: ifname, Ifindex: idx, ProgramID: newID, Mode: mode.String()}

	if x := nlink.Attrs().Xdp; x != nil && x.Attached && x.ProgId != 0 {
		if err := checkOurs(ifname, x.ProgId); err != nil {
			return nil, err
		}
		return att, p.replace(att, mode, pins)
	}
	if pins != nil && pins.Persistent {
		l, err := link.AttachXDP(link.XDPOptions{Program: p.XDP(), Interface: idx, Flags: mode.linkFlags()})
		if err != nil {
			return nil, fmt.Errorf("attach %s (%s): %w", ifname, mode, explainAttach(err))
		}
		defer l.Close()
		pin := pins.linkPath(ifname)
		if err := l.Pin(pin); err != nil {
			_ = l.Detach()
			return nil, fmt.Errorf("attach %s: pin link at %s: %w", ifname, pin, err)
		}
		att.Via, att.LinkPin = "link", pin
		return att, nil
	}
	if err := netlink.LinkSetXdpFdWithFlags(nlink, p.XDP().FD(), mode.netlinkFlags()); err != nil {
		return nil, fmt.Errorf("attach %s (%s): %w", ifname, mode, explainAttach(err))
	}
	att.Via = "netlink"
	return att, nil
}

// replace swaps the program behind an existing xdhcp attachment: a link
// update when a bpf_link holds it, else a netlink replace. Both are atomic.
func (p *Program) replace(att *Attachment, mode Mode, pins *PinDir) error {
	l, err := findXDPLink(att.Ifindex)
	if err != nil {
		return fmt.Errorf("replace on %s: %w", att.Iface, err)
	}
	if l != nil {
		defer l.Close()
		if err := l.Update(p.XDP()); err != nil {
			return fmt.Errorf("replace on %s: link update: %w", att.Iface, err)
		}
		att.Via = "link"
		if pins != nil && pins.Persistent {
			att.LinkPin = pins.linkPath(att.Iface)
		}
		return nil
	}
	nlink, err := netlink.LinkByIndex(att.Ifindex)
	if err != nil {
		return fmt.Errorf("replace on %s: %w", att.Iface, err)
	}
	if err := netlink.LinkSetXdpFdWithFlags(nlink, p.XDP().FD(), mode.netlinkFlags()); err != nil {
		return fmt.Errorf("replace on %s: %w", att.Iface, explainAttach(err))
	}
	att.Via = "netlink"
	return nil
}

// Detach removes xdhcp from ifname (and its link pin). It refuses to
// remove somebody else's XDP program.
func Detach(ifname string, pins *PinDir) error {
	nlink, err := netlink.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("detach %s: interface not found: %w", ifname, err)
	}
	x := nlink.Attrs().Xdp
	if x == nil || !x.Attached || x.ProgId == 0 {
		return fmt.Errorf("detach %s: no XDP program attached", ifname)
	}
	if err := checkOurs(ifname, x.ProgId); err != nil {
		return err
	}
	l, err := findXDPLink(nlink.Attrs().Index)
	if err != nil {
		return fmt.Errorf("detach %s: %w", ifname, err)
	}
	if l != nil {
		defer l.Close()
		// Detach before unpinning: dropping the last reference first would
		// leave the kernel to release the link asynchronously.
		if err := l.Detach(); err != nil {
			return fmt.Errorf("detach %s: %w", ifname, err)
		}
		if pins != nil {
			_ = os.Remove(pins.linkPath(ifname))
		}
		return nil
	}
	if err := netlink.LinkSetXdpFd(nlink, -1); err != nil {
		return fmt.Errorf("detach %s: %w", ifname, err)
	}
	return nil
}

// checkOurs errors unless program id is an xdhcp program.
func checkOurs(ifname string, id uint32) error {
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return fmt.Errorf("%s: inspect attached XDP program %d: %w", ifname, id, err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		return fmt.Errorf("%s: inspect attached XDP program %d: %w", ifname, id, err)
	}
	if info.Name != ProgramName {
		return fmt.Errorf("%s: another XDP program is attached (id %d, name %q); detach it first (ip link set dev %s xdp off)", ifname, id, info.Name, ifname)
	}
	return nil
}

// findXDPLink returns the bpf_link holding XDP on ifindex, or nil when the
// program was attached through netlink.
func findXDPLink(ifindex int) (link.Link, error) {
	var it link.Iterator
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil {
			continue
		}
		if x := info.XDP(); x != nil && int(x.Ifindex) == ifindex {
			return it.Take(), nil
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("list bpf links: %w", err)
	}
	return nil, nil
}

func programID(p *ebpf.Program) (uint32, error) {
	info, err := p.Info()
	if err != nil {
		return 0, fmt.Errorf("program info: %w", err)
	}
	id, ok := info.ID()
	if !ok {
		return 0, errors.New("program info: kernel gives no program id")
	}
	return uint32(id), nil
}

func explainAttach(err error) error {
	switch {
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w (attaching XDP needs root or CAP_NET_ADMIN)", err)
	case errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("%w (the driver has no native XDP: use --mode generic or auto)", err)
	case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w (another XDP program or mode is already attached)", err)
	}
	return err
}

// Open finds the maps of the xdhcp program that serves ifname (or, with an
// empty ifname, of the first interface in this network namespace that has
// one): from the pins when a persistent bpffs holds them, else through the
// program attached to the interface. It works from any process, including
// one started by `ip netns exec`, which sees no host bpffs.
func Open(ifname string, pins *PinDir) (*Maps, error) {
	if pins != nil && pins.Persistent {
		if m, err := pins.loadMaps(); err == nil {
			return m, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	id, err := attachedProgram(ifname)
	if err != nil {
		return nil, err
	}
	return mapsOfProgram(id)
}

// attachedProgram finds the xdhcp program ID on ifname or, when empty, on any interface.
func attachedProgram(ifname string) (uint32, error) {
	var links []netlink.Link
	if ifname != "" {
		l, err := netlink.LinkByName(ifname)
		if err != nil {
			return 0, fmt.Errorf("interface %s: %w", ifname, err)
		}
		links = []netlink.Link{l}
	} else {
		all, err := netlink.LinkList()
		if err != nil {
			return 0, fmt.Errorf("list interfaces: %w", err)
		}
		links = all
	}
	for _, l := range links {
		x := l.Attrs().Xdp
		if x == nil || !x.Attached || x.ProgId == 0 {
			continue
		}
		if checkOurs(l.Attrs().Name, x.ProgId) == nil {
			return x.ProgId, nil
		}
	}
	if ifname != "" {
		return 0, fmt.Errorf("no xdhcp program attached to %s (run xdhcp attach --iface %s)", ifname, ifname)
	}
	return 0, errors.New("no xdhcp program found: nothing pinned and no interface in this network namespace has it attached (run xdhcp attach)")
}

// mapsOfProgram opens the maps a loaded program uses, by their IDs.
func mapsOfProgram(id uint32) (*Maps, error) {
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return nil, fmt.Errorf("open program %d: %w", id, err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		return nil, fmt.Errorf("program %d info: %w", id, err)
	}
	ids, ok := info.MapIDs()
	if !ok {
		return nil, fmt.Errorf("program %d: kernel gives no map ids", id)
	}
	named := map[string]*ebpf.Map{}
	for _, mid := range ids {
		m, err := ebpf.NewMapFromID(mid)
		if err != nil {
			return nil, fmt.Errorf("open map %d: %w", mid, err)
		}
		mi, err := m.Info()
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("map %d info: %w", mid, err)
		}
		if _, dup := named[mi.Name]; dup {
			m.Close()
			continue
		}
		named[mi.Name] = m
	}
	maps, err := fromNamed(named)
	if err != nil {
		closeAll(named)
		return nil, fmt.Errorf("program %d: %w", id, err)
	}
	for name, m := range named {
		if !isStateMap(name) {
			m.Close() // scratch and .bss belong to the program alone
		}
	}
	return maps, nil
}
