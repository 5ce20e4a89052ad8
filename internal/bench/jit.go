package bench

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/xdhcp/xdhcp/loader"
)

// Where the time goes inside the JITed program. perf here cannot annotate
// JITed BPF (no libopcodes) and this VM has no PMU for bpftool prog
// profile, but perf's cpu-clock samples carry the instruction address, and
// the bench says where it JITed the program (address, size, tag: the same
// build JITs to the same code). The kernel keeps, for every JITed
// instruction range, the source line it came from (BTF line info):
// JITLines sums the samples per source line.

// JITLine is one source line's share of the samples in the program.
type JITLine struct {
	Line    string  `json:"line"`
	Samples int     `json:"samples"`
	Share   float64 `json:"share"`
	// Offsets are the JIT offsets (from the program's start) sampled most.
	Offsets []string `json:"offsets"`
}

// JITProfile is the program's JIT image and where the samples fell.
type JITProfile struct {
	Tag     string    `json:"tag"`
	Size    int       `json:"jited_bytes"`
	Samples int       `json:"samples"`
	Lines   []JITLine `json:"lines"`
	// Image is the JITed code (x86), for a disassembler: objdump -D -b
	// binary -m i386:x86-64 FILE.
	Image []byte `json:"-"`
}

// ReadPerfOffsets reads `perf script -F ip` output and returns the
// samples per offset into the program JITed at ksym (size bytes long):
// the bench reports both (DropResult.XDHCPJIT), for perf does not always
// name JITed programs that came and went during a recording.
func ReadPerfOffsets(r io.Reader, ksym uint64, size int) (map[uint64]int, error) {
	out := map[uint64]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		ip, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			continue // not a sample line
		}
		if ip >= ksym && ip < ksym+uint64(size) {
			out[ip-ksym]++
		}
	}
	return out, sc.Err()
}

// JITInfo says where a program's JITed code lies, for matching samples.
type JITInfo struct {
	Tag   string `json:"tag"`
	Ksym  string `json:"ksym"` // address of its first instruction, hex
	Bytes int    `json:"jited_bytes"`
}

// jitInfo reads p's JIT placement.
func jitInfo(p *ebpf.Program) (*JITInfo, error) {
	info, err := p.Info()
	if err != nil {
		return nil, fmt.Errorf("program info: %w", err)
	}
	addrs, _ := info.JitedKsymAddrs()
	lens, _ := info.JitedFuncLens()
	if len(addrs) == 0 || len(lens) == 0 {
		return nil, fmt.Errorf("the kernel gives no JIT address for the program")
	}
	return &JITInfo{Tag: info.Tag, Ksym: fmt.Sprintf("%#x", addrs[0]), Bytes: int(lens[0])}, nil
}

// JITLines loads this build's program (configured as the benches run it)
// and attributes samples (offset -> count, offsets from the program's
// first instruction) to its source lines, most sampled first.
func JITLines(samples map[uint64]int) (*JITProfile, error) {
	prog, err := loader.Load(loader.LoadOptions{})
	if err != nil {
		return nil, err
	}
	defer prog.Close()
	info, err := prog.XDP().Info()
	if err != nil {
		return nil, fmt.Errorf("program info: %w", err)
	}
	image, _ := info.JitedInsns()
	addrs, _ := info.JitedKsymAddrs()
	jited, _ := info.JitedLineInfos()
	lines, err := info.LineInfos()
	if err != nil || len(addrs) == 0 || len(jited) == 0 {
		return nil, fmt.Errorf("the kernel gives no JIT line info for the program (%v)", err)
	}
	base := uint64(addrs[0])
	type span struct {
		start uint64
		line  string
	}
	var spans []span
	for i, l := range lines {
		if i >= len(jited) {
			break
		}
		spans = append(spans, span{jited[i] - base, strings.TrimSpace(l.Line.Line())})
	}
	slices.SortStableFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	p := &JITProfile{Tag: info.Tag, Size: len(image), Image: image}
	byLine := map[string]*JITLine{}
	offs := map[string]map[uint64]int{}
	for off, n := range samples {
		i, _ := slices.BinarySearchFunc(spans, off+1, func(s span, t uint64) int { return cmp.Compare(s.start, t) })
		line := "(prologue)"
		if i > 0 {
			line = spans[i-1].line
		}
		if byLine[line] == nil {
			byLine[line], offs[line] = &JITLine{Line: line}, map[uint64]int{}
		}
		byLine[line].Samples += n
		offs[line][off] += n
		p.Samples += n
	}
	for line, l := range byLine {
		l.Share = float64(l.Samples) / float64(max(p.Samples, 1))
		var os []uint64
		for o := range offs[line] {
			os = append(os, o)
		}
		slices.SortFunc(os, func(a, b uint64) int { return cmp.Compare(offs[line][b], offs[line][a]) })
		for _, o := range os[:min(3, len(os))] {
			l.Offsets = append(l.Offsets, fmt.Sprintf("%#x", o))
		}
		p.Lines = append(p.Lines, *l)
	}
	slices.SortFunc(p.Lines, func(a, b JITLine) int {
		return cmp.Or(cmp.Compare(b.Samples, a.Samples), strings.Compare(a.Line, b.Line))
	})
	return p, nil
}

// Print writes the top most sampled lines.
func (p *JITProfile) Print(w io.Writer, top int) error {
	fmt.Fprintf(w, "xdhcp_xdp tag %s, %d bytes JITed, %d samples in it\n", p.Tag, p.Size, p.Samples)
	for i, l := range p.Lines {
		if i == top {
			break
		}
		fmt.Fprintf(w, "%5.1f%%  %-60.60s  %s\n", 100*l.Share, l.Line, strings.Join(l.Offsets, " "))
	}
	return nil
}
