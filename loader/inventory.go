package loader

// The inventory behind `xdhcp maps`: what is pinned under a pin dir and
// which XDP programs (and their maps) this network namespace's interfaces
// run, as the kernel describes them.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
)

// MapView is one BPF map as the kernel describes it.
type MapView struct {
	ID         uint32 `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	BTF        bool   `json:"btf"` // bpftool can print its entries as structs
}

// PinView is one file under the pin dir.
type PinView struct {
	Path string   `json:"path"`
	Kind string   `json:"kind"` // map, link, program or unknown
	Map  *MapView `json:"map,omitempty"`
	// For a link: its ID, the program it holds and the interface.
	LinkID    uint32 `json:"link_id,omitempty"`
	ProgramID uint32 `json:"program_id,omitempty"`
	Ifindex   uint32 `json:"ifindex,omitempty"`
	Error     string `json:"error,omitempty"`
}

// IfaceView is one interface with an XDP program.
type IfaceView struct {
	Iface       string    `json:"iface"`
	Ifindex     int       `json:"ifindex"`
	Mode        string    `json:"mode"`
	ProgramID   uint32    `json:"program_id"`
	ProgramName string    `json:"program_name"`
	Tag         string    `json:"tag"`
	Xdhcp       bool      `json:"xdhcp"`
	LinkID      uint32    `json:"link_id,omitempty"` // 0: attached through netlink
	Maps        []MapView `json:"maps"`
}

// Inventory is what xdhcp pinned and every XDP program attached in this
// network namespace (xdhcp maps).
type Inventory struct {
	PinDir     string      `json:"pin_dir"`
	Persistent bool        `json:"persistent"` // false under ip netns exec: nothing pinned is visible
	Pinned     []PinView   `json:"pinned"`
	Interfaces []IfaceView `json:"interfaces"`
}

// TakeInventory lists what pins holds (when this process sees it) and the
// XDP programs of this network namespace's interfaces.
func TakeInventory(pins *PinDir) (Inventory, error) {
	rep := Inventory{PinDir: pins.Path, Persistent: pins.Persistent, Pinned: []PinView{}, Interfaces: []IfaceView{}}
	if pins.Persistent {
		paths, err := pins.Pinned()
		if err != nil {
			return rep, fmt.Errorf("list %s: %w", pins.Path, err)
		}
		for _, p := range paths {
			rep.Pinned = append(rep.Pinned, describePin(p))
		}
	}
	var err error
	rep.Interfaces, err = xdpInterfaces()
	return rep, err
}

func describeMap(m *ebpf.Map) (*MapView, error) {
	info, err := m.Info()
	if err != nil {
		return nil, fmt.Errorf("map info: %w", err)
	}
	id, _ := info.ID()
	_, hasBTF := info.BTFID()
	return &MapView{ID: uint32(id), Name: info.Name, Type: info.Type.String(), KeySize: info.KeySize,
		ValueSize: info.ValueSize, MaxEntries: info.MaxEntries, BTF: hasBTF}, nil
}

// describePin opens a pinned object as a map, else a link, else a program.
func describePin(path string) PinView {
	pv := PinView{Path: path, Kind: "unknown"}
	if m, err := ebpf.LoadPinnedMap(path, &ebpf.LoadPinOptions{ReadOnly: true}); err == nil {
		defer m.Close()
		pv.Kind = "map"
		if pv.Map, err = describeMap(m); err != nil {
			pv.Error = err.Error()
		}
		return pv
	}
	if l, err := link.LoadPinnedLink(path, nil); err == nil {
		defer l.Close()
		pv.Kind = "link"
		info, err := l.Info()
		if err != nil {
			pv.Error = fmt.Sprintf("link info: %v", err)
			return pv
		}
		pv.LinkID, pv.ProgramID = uint32(info.ID), uint32(info.Program)
		if x := info.XDP(); x != nil {
			pv.Ifindex = x.Ifindex
		}
		return pv
	}
	if p, err := ebpf.LoadPinnedProgram(path, nil); err == nil {
		defer p.Close()
		pv.Kind = "program"
		if info, err := p.Info(); err == nil {
			id, _ := info.ID()
			pv.ProgramID = uint32(id)
		}
		return pv
	}
	pv.Error = "not a BPF map, link or program"
	return pv
}

func xdpMode(m uint32) string {
	switch m {
	case nl.XDP_ATTACHED_DRV:
		return "native"
	case nl.XDP_ATTACHED_SKB:
		return "generic"
	case nl.XDP_ATTACHED_HW:
		return "offload"
	}
	return fmt.Sprintf("mode(%d)", m)
}

// xdpInterfaces lists this network namespace's interfaces with an XDP program.
func xdpInterfaces() ([]IfaceView, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	linkIDs, err := xdpLinkIDs()
	if err != nil {
		return nil, err
	}
	out := []IfaceView{}
	for _, l := range links {
		x := l.Attrs().Xdp
		if x == nil || !x.Attached || x.ProgId == 0 {
			continue
		}
		iv := IfaceView{Iface: l.Attrs().Name, Ifindex: l.Attrs().Index, Mode: xdpMode(x.AttachMode),
			ProgramID: x.ProgId, LinkID: linkIDs[uint32(l.Attrs().Index)], Maps: []MapView{}}
		if err := describeProgram(&iv); err != nil {
			return nil, err
		}
		out = append(out, iv)
	}
	return out, nil
}

func describeProgram(iv *IfaceView) error {
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(iv.ProgramID))
	if err != nil {
		return fmt.Errorf("%s: open program %d: %w", iv.Iface, iv.ProgramID, err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		return fmt.Errorf("%s: program %d info: %w", iv.Iface, iv.ProgramID, err)
	}
	iv.ProgramName, iv.Tag, iv.Xdhcp = info.Name, info.Tag, info.Name == ProgramName
	ids, _ := info.MapIDs()
	for _, id := range ids {
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			return fmt.Errorf("%s: open map %d: %w", iv.Iface, id, err)
		}
		mv, err := describeMap(m)
		m.Close()
		if err != nil {
			return fmt.Errorf("%s: map %d: %w", iv.Iface, id, err)
		}
		iv.Maps = append(iv.Maps, *mv)
	}
	return nil
}

// xdpLinkIDs maps ifindex to the bpf_link holding its XDP program. Links
// are global; ifindexes are per namespace, so this is a best guess across
// namespaces and only shown, never acted on.
func xdpLinkIDs() (map[uint32]uint32, error) {
	out := map[uint32]uint32{}
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil {
			continue
		}
		if x := info.XDP(); x != nil {
			out[x.Ifindex] = uint32(info.ID)
		}
	}
	if err := it.Err(); err != nil && !errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("list bpf links: %w", err)
	}
	return out, nil
}

// Print writes the inventory as xdhcp maps shows it.
func (rep Inventory) Print(w io.Writer) error {
	if !rep.Persistent {
		fmt.Fprintf(w, "pin dir %s: not there, or not visible (private mount namespace, e.g. ip netns exec)\n", rep.PinDir)
	} else if len(rep.Pinned) == 0 {
		fmt.Fprintf(w, "pin dir %s: nothing pinned\n", rep.PinDir)
	} else {
		fmt.Fprintf(w, "pinned under %s:\n", rep.PinDir)
		for _, p := range rep.Pinned {
			rel, _ := filepath.Rel(rep.PinDir, p.Path)
			switch {
			case p.Error != "":
				fmt.Fprintf(w, "  %-16s %s: %s\n", rel, p.Kind, p.Error)
			case p.Map != nil:
				fmt.Fprintf(w, "  %-16s map id %d, %s\n", rel, p.Map.ID, mapLine(*p.Map))
			case p.Kind == "link":
				fmt.Fprintf(w, "  %-16s link id %d, program %d, ifindex %d\n", rel, p.LinkID, p.ProgramID, p.Ifindex)
			default:
				fmt.Fprintf(w, "  %-16s %s, program %d\n", rel, p.Kind, p.ProgramID)
			}
		}
	}
	if len(rep.Interfaces) == 0 {
		fmt.Fprintln(w, "no interface in this network namespace has an XDP program")
		return nil
	}
	for _, iv := range rep.Interfaces {
		via := "netlink"
		if iv.LinkID != 0 {
			via = fmt.Sprintf("bpf_link %d", iv.LinkID)
		}
		kind := "not xdhcp"
		if iv.Xdhcp {
			kind = "xdhcp"
		}
		fmt.Fprintf(w, "%s (ifindex %d): program %d %s (%s, tag %s), %s mode, via %s\n", iv.Iface, iv.Ifindex, iv.ProgramID, iv.ProgramName, kind, iv.Tag, iv.Mode, via)
		for _, m := range iv.Maps {
			fmt.Fprintf(w, "  map %-6d %-16s %s\n", m.ID, m.Name, mapLine(m))
		}
	}
	return nil
}

func mapLine(m MapView) string {
	btf := "no BTF"
	if m.BTF {
		btf = "BTF"
	}
	return strings.Join([]string{m.Type, fmt.Sprintf("key %d B, value %d B, max %d", m.KeySize, m.ValueSize, m.MaxEntries), btf}, ", ")
}
