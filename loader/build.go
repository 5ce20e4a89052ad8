package loader

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cilium/ebpf"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Build is another build of bpf/xdhcp.c loaded beside this package's own:
// the candidate of an A/B benchmark (a change measured against the
// committed program in the same run). Only its program and its config maps
// (xdhcp_cfg, xdhcp_active) are used, so its counters may be laid out
// differently; its config must be this build's.
type Build struct {
	coll *ebpf.Collection
	prog *ebpf.Program
}

// LoadBuild loads the object in r (a bpf2go .o, or clang's output for
// bpf/xdhcp.c) and configures it with rule.
func LoadBuild(r io.ReaderAt, rule decide.Rule) (*Build, error) {
	if err := rule.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(r)
	if err != nil {
		return nil, fmt.Errorf("read candidate object: %w", err)
	}
	if spec.Programs[ProgramName] == nil {
		return nil, fmt.Errorf("candidate object has no program %s", ProgramName)
	}
	if cs := spec.Maps[mapConfig]; cs == nil || cs.ValueSize != uint32(binary.Size(xdhcpXdhcpConfig{})) {
		return nil, fmt.Errorf("candidate object's %s is not this build's config layout", mapConfig)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, explainLoad(err)
	}
	b := &Build{coll: coll, prog: coll.Programs[ProgramName]}
	// Slot 0 is active in a fresh program: write it.
	raw := toRaw(rule)
	if err := coll.Maps[mapConfig].Update(uint32(0), &raw, ebpf.UpdateAny); err != nil {
		b.Close()
		return nil, fmt.Errorf("configure candidate: %w", err)
	}
	return b, nil
}

// XDP is the candidate's program.
func (b *Build) XDP() *ebpf.Program { return b.prog }

// Close unloads it.
func (b *Build) Close() error {
	b.coll.Close()
	return nil
}

// ConfigBytes is the config map's value for rule, as the program reads it
// (for interpreters of the object, and tests).
func ConfigBytes(rule decide.Rule) ([]byte, error) {
	if err := rule.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	raw := toRaw(rule)
	return binary.Append(nil, binary.LittleEndian, raw)
}

// Spec is this package's own build of the program, as a collection spec.
func Spec() (*ebpf.CollectionSpec, error) { return loadXdhcp() }
