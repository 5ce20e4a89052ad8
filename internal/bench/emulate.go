package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// This VM has no hardware performance counters (perf stat reports
// instructions and cache misses as not supported), so the instructions a
// verdict path executes are counted here instead: an interpreter of the
// program's BPF object runs the path's frame and counts the instructions
// it steps through (as compiled by clang; the kernel's JIT emits about one
// to two x86 instructions for each, and inlines the map lookups and
// bpf_jiffies64 into a few more). Deterministic, so a change's effect on
// the path length shows on a noisy machine where timing cannot.

// Address space of the interpreter: each region starts at its own base.
const (
	emuPacket = 0x1000_0000
	emuCtx    = 0x2000_0000
	emuStack  = 0x3000_0000 // frames of 512 bytes, growing down from emuStack+emuFrames*512
	emuMaps   = 0x4000_0000 // map i at emuMaps + i<<24
	emuFrames = 8
)

// emuLimit stops a runaway interpretation.
const emuLimit = 100_000

type emuRegion struct {
	base uint64
	mem  []byte
}

// emulator interprets one program of a collection spec.
type emulator struct {
	insns   asm.Instructions
	rawIdx  map[int]int // raw instruction offset -> index
	rawOff  []int       // index -> raw offset
	symbols map[string]int
	maps    map[string]*emuRegion
	mapTok  map[uint64]*emuRegion // map "pointers" (ld_imm64 of a map) -> the map
	mapSpec map[*emuRegion]*ebpf.MapSpec
	regions []*emuRegion
	// trace, when set, is told each instruction index executed.
	trace func(int)
}

// newEmulator prepares prog of spec; values sets map values by name and key
// (arrays only; every other value starts zeroed, .rodata and .data from
// the object).
func newEmulator(spec *ebpf.CollectionSpec, prog string, values map[string]map[uint32][]byte) (*emulator, error) {
	ps := spec.Programs[prog]
	if ps == nil {
		return nil, fmt.Errorf("emulator: no program %s", prog)
	}
	e := &emulator{insns: ps.Instructions, rawIdx: map[int]int{}, maps: map[string]*emuRegion{},
		mapTok: map[uint64]*emuRegion{}, mapSpec: map[*emuRegion]*ebpf.MapSpec{}}
	for it := e.insns.Iterate(); it.Next(); {
		e.rawIdx[int(it.Offset)] = it.Index
		e.rawOff = append(e.rawOff, int(it.Offset))
	}
	var err error
	if e.symbols, err = e.insns.SymbolOffsets(); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	i := 0
	for name, ms := range spec.Maps {
		if ms.Type != ebpf.Array && ms.Type != ebpf.PerCPUArray {
			continue
		}
		r := &emuRegion{base: emuMaps + uint64(i)<<24, mem: make([]byte, int(ms.ValueSize)*int(ms.MaxEntries))}
		i++
		for _, kv := range ms.Contents {
			key, _ := kv.Key.(uint32)
			if b, ok := kv.Value.([]byte); ok && int(key) < int(ms.MaxEntries) {
				copy(r.mem[int(key)*int(ms.ValueSize):], b)
			}
		}
		for key, v := range values[name] {
			if key >= ms.MaxEntries || len(v) > int(ms.ValueSize) {
				return nil, fmt.Errorf("emulator: value for %s[%d] does not fit", name, key)
			}
			copy(r.mem[int(key)*int(ms.ValueSize):], v)
		}
		e.maps[name], e.mapSpec[r] = r, ms
		e.mapTok[r.base|1<<60] = r
		e.regions = append(e.regions, r)
	}
	return e, nil
}

// run interprets the program on frame (received on ifindex) and returns
// its return value and the instructions it executed.
func (e *emulator) run(frame []byte, ifindex uint32) (ret uint64, steps int, err error) {
	pkt := &emuRegion{base: emuPacket, mem: append([]byte(nil), frame...)}
	ctx := &emuRegion{base: emuCtx, mem: make([]byte, 24)}
	binary.LittleEndian.PutUint32(ctx.mem[0:], emuPacket)
	binary.LittleEndian.PutUint32(ctx.mem[4:], emuPacket+uint32(len(frame)))
	binary.LittleEndian.PutUint32(ctx.mem[12:], ifindex)
	stack := &emuRegion{base: emuStack, mem: make([]byte, 512*emuFrames)}
	regions := append([]*emuRegion{pkt, ctx, stack}, e.regions...)
	mem := func(addr uint64, n int) ([]byte, error) {
		for _, r := range regions {
			if addr >= r.base && addr+uint64(n) <= r.base+uint64(len(r.mem)) {
				return r.mem[addr-r.base : addr-r.base+uint64(n)], nil
			}
		}
		return nil, fmt.Errorf("access of %d bytes at %#x outside every region", n, addr)
	}

	type frameState struct {
		ret   int
		saved [4]uint64
	}
	var calls []frameState
	var r [11]uint64
	r[1] = emuCtx
	r[10] = emuStack + 512*emuFrames
	pc := 0
	for steps = 0; steps < emuLimit; steps++ {
		if pc < 0 || pc >= len(e.insns) {
			return 0, steps, fmt.Errorf("pc %d outside the program", pc)
		}
		ins := e.insns[pc]
		if e.trace != nil {
			e.trace(pc)
		}
		op := ins.OpCode
		next := pc + 1
		src := uint64(ins.Constant)
		if op.Source() == asm.RegSource {
			src = r[ins.Src]
		}
		switch cls := op.Class(); {
		case cls == asm.LdClass && op.IsDWordLoad():
			v := uint64(ins.Constant)
			if ins.IsLoadFromMap() {
				m := e.maps[ins.Reference()]
				if m == nil {
					return 0, steps, fmt.Errorf("map %q not emulated", ins.Reference())
				}
				if ins.Src == asm.PseudoMapValue {
					v = m.base + uint64(uint32(uint64(ins.Constant)>>32))
				} else {
					v = m.base | 1<<60
				}
			}
			r[ins.Dst] = v
		case cls == asm.LdXClass:
			b, err := mem(r[ins.Src]+uint64(int64(ins.Offset)), int(op.Size().Sizeof()))
			if err != nil {
				return 0, steps, fmt.Errorf("insn %d (%v): %w", pc, ins, err)
			}
			r[ins.Dst] = leUint(b)
		case cls == asm.StClass || cls == asm.StXClass:
			if op.Mode() != asm.MemMode {
				return 0, steps, fmt.Errorf("insn %d (%v): atomics not emulated", pc, ins)
			}
			b, err := mem(r[ins.Dst]+uint64(int64(ins.Offset)), int(op.Size().Sizeof()))
			if err != nil {
				return 0, steps, fmt.Errorf("insn %d (%v): %w", pc, ins, err)
			}
			v := uint64(ins.Constant)
			if cls == asm.StXClass {
				v = r[ins.Src]
			}
			putLE(b, v)
		case cls.IsALU():
			v, err := alu(op, r[ins.Dst], src, cls == asm.ALU64Class, ins.Constant)
			if err != nil {
				return 0, steps, fmt.Errorf("insn %d (%v): %w", pc, ins, err)
			}
			r[ins.Dst] = v
		case cls.IsJump():
			switch jop := op.JumpOp(); jop {
			case asm.Exit:
				if len(calls) == 0 {
					return r[0], steps + 1, nil
				}
				f := calls[len(calls)-1]
				calls = calls[:len(calls)-1]
				copy(r[6:10], f.saved[:])
				r[10] += 512
				next = f.ret
			case asm.Call:
				if ins.IsFunctionCall() {
					target, ok := e.symbols[ins.Reference()]
					if !ok || len(calls) == emuFrames-1 {
						return 0, steps, fmt.Errorf("call to %q", ins.Reference())
					}
					var f frameState
					f.ret = next
					copy(f.saved[:], r[6:10])
					calls = append(calls, f)
					r[10] -= 512
					next = target
					break
				}
				v, err := e.helper(asm.BuiltinFunc(ins.Constant), r[1], r[2], mem)
				if err != nil {
					return 0, steps, fmt.Errorf("insn %d (%v): %w", pc, ins, err)
				}
				r[0] = v
				for i := 1; i <= 5; i++ {
					r[i] = 0xdead // clobbered
				}
			default:
				taken, err := jump(jop, r[ins.Dst], src, cls == asm.JumpClass)
				if err != nil {
					return 0, steps, fmt.Errorf("insn %d (%v): %w", pc, ins, err)
				}
				if taken {
					idx, ok := e.rawIdx[e.rawOff[pc]+1+int(ins.Offset)]
					if !ok {
						return 0, steps, fmt.Errorf("insn %d: jump into an instruction", pc)
					}
					next = idx
				}
			}
		default:
			return 0, steps, fmt.Errorf("insn %d (%v): class not emulated", pc, ins)
		}
		pc = next
	}
	return 0, steps, errors.New("instruction limit reached")
}

// helper emulates the helpers the fast path calls.
func (e *emulator) helper(fn asm.BuiltinFunc, r1, r2 uint64, mem func(uint64, int) ([]byte, error)) (uint64, error) {
	switch fn {
	case asm.FnMapLookupElem:
		m := e.mapTok[r1]
		if m == nil {
			return 0, fmt.Errorf("lookup in %#x: not a map", r1)
		}
		kb, err := mem(r2, 4)
		if err != nil {
			return 0, err
		}
		ms := e.mapSpec[m]
		key := binary.LittleEndian.Uint32(kb)
		if key >= ms.MaxEntries {
			return 0, nil
		}
		return m.base + uint64(key)*uint64(ms.ValueSize), nil
	case asm.FnJiffies64:
		return 4_294_967_296, nil
	case asm.FnKtimeGetCoarseNs, asm.FnKtimeGetNs:
		return 1_000_000_000, nil
	}
	return 0, fmt.Errorf("helper %v not emulated", fn)
}

func leUint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func putLE(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}

func alu(op asm.OpCode, dst, src uint64, wide bool, imm int64) (uint64, error) {
	if op.ALUOp() == asm.Swap {
		return swap(op, dst, imm), nil
	}
	if !wide {
		dst, src = uint64(uint32(dst)), uint64(uint32(src))
	}
	var v uint64
	shift := src & 63
	if !wide {
		shift = src & 31
	}
	switch op.ALUOp() {
	case asm.Add:
		v = dst + src
	case asm.Sub:
		v = dst - src
	case asm.Mul:
		v = dst * src
	case asm.Div:
		if src != 0 {
			v = dst / src
		}
	case asm.Mod:
		v = dst
		if src != 0 {
			v = dst % src
		}
	case asm.Or:
		v = dst | src
	case asm.And:
		v = dst & src
	case asm.Xor:
		v = dst ^ src
	case asm.LSh:
		v = dst << shift
	case asm.RSh:
		v = dst >> shift
	case asm.ArSh:
		if wide {
			v = uint64(int64(dst) >> shift)
		} else {
			v = uint64(uint32(int32(uint32(dst)) >> shift))
		}
	case asm.Neg:
		v = -dst
	case asm.Mov:
		v = src
	default:
		return 0, fmt.Errorf("ALU op %v not emulated", op.ALUOp())
	}
	if !wide {
		v = uint64(uint32(v))
	}
	return v, nil
}

// swap is BPF_END: to or from big or little endian, of the low imm bits.
func swap(op asm.OpCode, dst uint64, imm int64) uint64 {
	le := op.Endianness() == asm.LE
	switch imm {
	case 16:
		if le {
			return uint64(uint16(dst))
		}
		return uint64(bits.ReverseBytes16(uint16(dst)))
	case 32:
		if le {
			return uint64(uint32(dst))
		}
		return uint64(bits.ReverseBytes32(uint32(dst)))
	}
	if le {
		return dst
	}
	return bits.ReverseBytes64(dst)
}

func jump(op asm.JumpOp, dst, src uint64, wide bool) (bool, error) {
	if !wide {
		dst, src = uint64(uint32(dst)), uint64(uint32(src))
	}
	sd, ss := int64(dst), int64(src)
	if !wide {
		sd, ss = int64(int32(uint32(dst))), int64(int32(uint32(src)))
	}
	switch op {
	case asm.Ja:
		return true, nil
	case asm.JEq:
		return dst == src, nil
	case asm.JNE:
		return dst != src, nil
	case asm.JGT:
		return dst > src, nil
	case asm.JGE:
		return dst >= src, nil
	case asm.JLT:
		return dst < src, nil
	case asm.JLE:
		return dst <= src, nil
	case asm.JSet:
		return dst&src != 0, nil
	case asm.JSGT:
		return sd > ss, nil
	case asm.JSGE:
		return sd >= ss, nil
	case asm.JSLT:
		return sd < ss, nil
	case asm.JSLE:
		return sd <= ss, nil
	}
	return false, fmt.Errorf("jump op %v not emulated", op)
}

// PathInsns runs the xdhcp program of spec (its bpf2go or clang object) on
// frame under rule and returns its XDP action and the BPF instructions it
// executed the second time: in the steady state, after the first packet
// has taken its interface's and relay's counter slots.
func PathInsns(spec *ebpf.CollectionSpec, rule decide.Rule, frame []byte) (action uint64, insns int, err error) {
	cfg, err := loader.ConfigBytes(rule)
	if err != nil {
		return 0, 0, err
	}
	e, err := newEmulator(spec, loader.ProgramName, map[string]map[uint32][]byte{"xdhcp_cfg": {0: cfg}})
	if err != nil {
		return 0, 0, err
	}
	for range 2 {
		if action, insns, err = e.run(frame, 1); err != nil {
			break
		}
	}
	if err != nil {
		return 0, insns, fmt.Errorf("emulate %s: %w", loader.ProgramName, err)
	}
	return action, insns, nil
}
