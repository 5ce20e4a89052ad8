package bench

import (
	"fmt"

	"github.com/vishvananda/netlink"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// XDP actions.
const (
	xdpDrop = 1
	xdpPass = 2
)

// TrivialPass is the baseline of the cost bench: an XDP program that only
// returns XDP_PASS.
func TrivialPass() (*ebpf.Program, error) {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "xb_trivial_pass", Type: ebpf.XDP, License: "Dual BSD/GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, xdpPass), asm.Return()},
	})
	if err != nil {
		return nil, fmt.Errorf("load trivial XDP_PASS program: %w", err)
	}
	return p, nil
}

// Counter is a trivial XDP program that counts every packet in a per-CPU
// counter and returns one fixed action: the receiver baseline.
type Counter struct {
	Prog  *ebpf.Program
	count *ebpf.Map
}

// NewCounter loads a counting program returning action (XDP_DROP or XDP_PASS).
// With touch offsets it first reads one byte at each (when the frame is
// long enough): a baseline that pays for the frame's cache lines as a
// real filter does, and nothing else.
func NewCounter(action int32, touch ...int16) (*Counter, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "xb_count", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("create counter map: %w", err)
	}
	var reads asm.Instructions
	if len(touch) > 0 {
		end := touch[0]
		for _, off := range touch {
			end = max(end, off)
		}
		reads = asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // xdp_md.data
			asm.LoadMem(asm.R3, asm.R1, 4, asm.Word), // xdp_md.data_end
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, int32(end)+1),
			asm.JGT.Reg(asm.R4, asm.R3, "count"),
		}
		for _, off := range touch {
			reads = append(reads, asm.LoadMem(asm.R5, asm.R2, off, asm.Byte))
		}
	}
	name := "xb_trivial_count"
	if len(touch) > 0 {
		name = "xb_touch_count"
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		// AttachXDP, as xdhcp's program has: a link swaps only programs of one attach type.
		Name: name, Type: ebpf.XDP, AttachType: ebpf.AttachXDP, License: "Dual BSD/GPL",
		Instructions: append(reads,
			asm.StoreImm(asm.RFP, -4, 0, asm.Word).WithSymbol("count"),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
			asm.Mov.Imm(asm.R0, action).WithSymbol("out"),
			asm.Return(),
		),
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load trivial counting XDP program: %w", err)
	}
	return &Counter{Prog: p, count: m}, nil
}

// Count is the packets seen, summed over CPUs.
func (c *Counter) Count() (uint64, error) {
	var per []uint64
	if err := c.count.Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("read trivial program's counter: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// Close unloads the program and its map.
func (c *Counter) Close() error {
	c.Prog.Close()
	return c.count.Close()
}

// AttachPass attaches TrivialPass to ifname through netlink, so it stays
// after this process exits: for a veth that must receive live frames while
// no xdhcp program runs there (the user-space and Kea storm runs).
func AttachPass(ifname string) error {
	lk, err := netlink.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("attach XDP_PASS: interface %s: %w", ifname, err)
	}
	p, err := TrivialPass()
	if err != nil {
		return err
	}
	defer p.Close()
	if err := netlink.LinkSetXdpFdWithFlags(lk, p.FD(), 0); err != nil {
		return fmt.Errorf("attach XDP_PASS to %s: %w", ifname, err)
	}
	return nil
}
