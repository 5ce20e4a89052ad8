// Package loader loads xdhcp's XDP program (the bpf2go output in this
// package), attaches it to interfaces, pins its state under bpffs, finds that
// state again from another process, and reads and writes its maps through
// typed accessors that speak userspace/decide's types.
package loader

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
)

// ProgramName is the XDP program's name in the kernel; it is how an
// attached xdhcp program is recognised on an interface.
const ProgramName = "xdhcp_xdp"

// Program is a loaded xdhcp program with its maps.
type Program struct {
	objs xdhcpObjects
	*Maps
}

// LoadOptions say where the maps come from.
type LoadOptions struct {
	// Reuse makes the new program share these maps (config, counters) instead
	// of creating fresh ones: the replace path.
	Reuse *Maps
	// LogVerifier keeps the verifier log even on success.
	LogVerifier bool
}

// Load loads the program into the kernel.
func Load(opts LoadOptions) (*Program, error) {
	spec, err := loadXdhcp()
	if err != nil {
		return nil, fmt.Errorf("read embedded BPF object: %w", err)
	}
	co := &ebpf.CollectionOptions{}
	if opts.LogVerifier {
		co.Programs.LogLevel = ebpf.LogLevelInstruction
	}
	if opts.Reuse != nil {
		co.MapReplacements = opts.Reuse.byName()
	}
	p := &Program{}
	if err := spec.LoadAndAssign(&p.objs, co); err != nil {
		return nil, explainLoad(err)
	}
	p.Maps = &Maps{cfg: p.objs.XdhcpCfg, active: p.objs.XdhcpActive, stats: p.objs.XdhcpStats, relays: p.objs.XdhcpRelays}
	return p, nil
}

// XDP is the program, for attaching and test runs.
func (p *Program) XDP() *ebpf.Program { return p.objs.XdhcpXdp }

// Close releases this process's handles. Attachments and pins stay.
func (p *Program) Close() error { return p.objs.Close() }

// explainLoad turns the usual load failures into messages an operator can act on.
func explainLoad(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		lines := ve.Log
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		return fmt.Errorf("the kernel verifier rejected the xdhcp program: %v\nverifier log (tail):\n%s", ve.Cause, strings.Join(lines, "\n"))
	}
	if errors.Is(err, os.ErrPermission) || errors.Is(err, ebpfPermErr) {
		return fmt.Errorf("load xdhcp program: %w (loading BPF needs root, or CAP_BPF with CAP_NET_ADMIN)", err)
	}
	return fmt.Errorf("load xdhcp program: %w", err)
}
