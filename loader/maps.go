package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

var ebpfPermErr = unix.EPERM

// Map names as the kernel knows them (and as pinned under bpffs).
const (
	mapConfig = "xdhcp_cfg"
	mapActive = "xdhcp_active"
	mapStats  = "xdhcp_stats"
	mapRelays = "xdhcp_relays"
)

// stateMapNames are the maps that outlive a program replace.
var stateMapNames = [...]string{mapConfig, mapActive, mapStats, mapRelays}

// legacyMapNames are the counters of builds before xdhcp_stats (verdicts,
// buckets and interfaces apart): their pins are stale after an upgrade.
var legacyMapNames = [...]string{"xdhcp_verdicts", "xdhcp_buckets", "xdhcp_ifaces"}

func isStateMap(name string) bool {
	for _, n := range stateMapNames {
		if n == name {
			return true
		}
	}
	return false
}

func closeAll(named map[string]*ebpf.Map) {
	for _, m := range named {
		m.Close()
	}
}

// Maps is the program's state: its configuration and its counters.
type Maps struct {
	cfg, active, stats, relays *ebpf.Map
}

func (m *Maps) byName() map[string]*ebpf.Map {
	return map[string]*ebpf.Map{mapConfig: m.cfg, mapActive: m.active, mapStats: m.stats, mapRelays: m.relays}
}

// fromNamed builds Maps from maps found by name (pins or map IDs).
func fromNamed(named map[string]*ebpf.Map) (*Maps, error) {
	m := &Maps{cfg: named[mapConfig], active: named[mapActive], stats: named[mapStats], relays: named[mapRelays]}
	for name, mp := range m.byName() {
		if mp == nil {
			return nil, fmt.Errorf("map %s missing", name)
		}
	}
	return m, nil
}

// Close releases this process's map handles.
func (m *Maps) Close() error {
	var errs []error
	for _, mp := range m.byName() {
		if mp != nil {
			errs = append(errs, mp.Close())
		}
	}
	return errors.Join(errs...)
}

// Config reads the configuration the program applies now.
func (m *Maps) Rule() (decide.Rule, error) {
	var raw xdhcpXdhcpConfig
	idx, err := m.activeSlot()
	if err != nil {
		return decide.Rule{}, err
	}
	if err := m.cfg.Lookup(idx, &raw); err != nil {
		return decide.Rule{}, fmt.Errorf("read config slot %d: %w", idx, err)
	}
	return fromRaw(raw), nil
}

// SetRule makes c the configuration from the next packet on. It writes the
// idle slot and then flips the active index, so no packet sees half of it.
func (m *Maps) SetRule(c decide.Rule) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	idx, err := m.activeSlot()
	if err != nil {
		return err
	}
	next := idx ^ 1
	raw := toRaw(c)
	if err := m.cfg.Update(next, &raw, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("write config slot %d: %w", next, err)
	}
	if err := m.active.Update(uint32(0), next, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("switch to config slot %d: %w", next, err)
	}
	return nil
}

// UpdateRule reads, changes and writes the configuration.
func (m *Maps) UpdateRule(change func(*decide.Rule) error) error {
	c, err := m.Rule()
	if err != nil {
		return err
	}
	if err := change(&c); err != nil {
		return err
	}
	return m.SetRule(c)
}

func (m *Maps) activeSlot() (uint32, error) {
	var idx uint32
	if err := m.active.Lookup(uint32(0), &idx); err != nil {
		return 0, fmt.Errorf("read active config slot: %w", err)
	}
	return idx & 1, nil
}

func toRaw(c decide.Rule) xdhcpXdhcpConfig {
	raw := xdhcpXdhcpConfig{Hba: c.HBA, Threshold: c.Threshold, Role: uint8(c.Role), State: uint8(c.Rule),
		ServerIdCount: uint8(len(c.ServerIDs))}
	for i, a := range c.ServerIDs {
		b := a.As4()
		raw.ServerIds[i] = binary.NativeEndian.Uint32(b[:]) // the program compares raw network-order words
	}
	for _, f := range []struct {
		on   bool
		flag xdhcpXdhcpFlags
	}{
		{c.ChaddrOnly, xdhcpXdhcpFlagsFLAG_CHADDR_ONLY}, {c.SwapSecs, xdhcpXdhcpFlagsFLAG_SWAP_SECS},
		{c.DropMalformed, xdhcpXdhcpFlagsFLAG_DROP_MALFORMED}, {c.RelayStats, xdhcpXdhcpFlagsFLAG_RELAY_STATS},
	} {
		if f.on {
			raw.Flags |= uint8(f.flag)
		}
	}
	return raw
}

func fromRaw(raw xdhcpXdhcpConfig) decide.Rule {
	c := decide.Rule{HBA: raw.Hba, Role: decide.Role(raw.Role), Threshold: raw.Threshold, Rule: decide.State(raw.State),
		ChaddrOnly:    raw.Flags&uint8(xdhcpXdhcpFlagsFLAG_CHADDR_ONLY) != 0,
		SwapSecs:      raw.Flags&uint8(xdhcpXdhcpFlagsFLAG_SWAP_SECS) != 0,
		DropMalformed: raw.Flags&uint8(xdhcpXdhcpFlagsFLAG_DROP_MALFORMED) != 0,
		RelayStats:    raw.Flags&uint8(xdhcpXdhcpFlagsFLAG_RELAY_STATS) != 0,
	}
	for i := 0; i < int(raw.ServerIdCount) && i < len(raw.ServerIds); i++ {
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], raw.ServerIds[i])
		c.ServerIDs = append(c.ServerIDs, netip.AddrFrom4(b))
	}
	return c
}

// Verdicts are the packet counts per reason, summed over CPUs.
type Verdicts [decide.NumReasons]uint64

// Total is every packet the program saw.
func (v Verdicts) Total() uint64 {
	var n uint64
	for _, c := range v {
		n += c
	}
	return n
}

// Dropped is every packet the program dropped.
func (v Verdicts) Dropped() uint64 {
	var n uint64
	for r, c := range v {
		if decide.Reason(r).Drops() {
			n += c
		}
	}
	return n
}

// perCPUStats reads every CPU's counters (one value of xdhcp_stats each).
func (m *Maps) perCPUStats() ([]xdhcpXdhcpCounters, error) {
	var per []xdhcpXdhcpCounters
	if err := m.stats.Lookup(uint32(0), &per); err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	return per, nil
}

// Verdicts reads the verdict counters: every interface's, and those of
// interfaces whose slot another took over.
func (m *Maps) Verdicts() (Verdicts, error) {
	var v Verdicts
	per, err := m.perCPUStats()
	if err != nil {
		return v, err
	}
	for i := range per {
		s := &per[i]
		for _, is := range append(s.Ifaces[:], s.OtherIfaces) {
			for r, n := range is.Verdicts {
				v[r] += n
			}
		}
	}
	return v, nil
}

// InterfaceVerdicts reads the verdict counters per receiving interface
// index (of the network namespace the interface lives in).
func (m *Maps) InterfaceVerdicts() (map[int]Verdicts, error) {
	per, err := m.perCPUStats()
	if err != nil {
		return nil, err
	}
	out := map[int]Verdicts{}
	for i := range per {
		for _, is := range per[i].Ifaces {
			if is.Ifindex == 0 {
				continue
			}
			v := out[int(is.Ifindex)]
			for r, n := range is.Verdicts {
				v[r] += n
			}
			out[int(is.Ifindex)] = v
		}
	}
	return out, nil
}

// BucketStats counts hash-gated packets per bucket.
type BucketStats struct {
	Seen       uint64 `json:"seen"`
	Dropped    uint64 `json:"dropped"`
	Overridden uint64 `json:"overridden"`
}

// gated indexes the program's per-outcome counters (reason - lb-off).
func gated(r decide.Reason) int { return int(r - decide.ReasonLBOff) }

// Buckets reads the per-bucket counters.
func (m *Maps) Buckets() ([256]BucketStats, error) {
	var out [256]BucketStats
	per, err := m.perCPUStats()
	if err != nil {
		return out, err
	}
	for i := range per {
		for b, s := range per[i].Buckets {
			for _, n := range s.Gated {
				out[b].Seen += n
			}
			out[b].Dropped += s.Gated[gated(decide.ReasonPartnerDropped)]
			out[b].Overridden += s.Gated[gated(decide.ReasonSecsOverride)]
		}
	}
	return out, nil
}

// RelayStats counts hash-gated requests per relay (giaddr; 0.0.0.0 is direct).
type RelayStats struct {
	Relay             netip.Addr `json:"relay"`
	Requests          uint64     `json:"requests"`
	Owned             uint64     `json:"owned"`
	PartnerDropped    uint64     `json:"partner_dropped"`
	PartnerOverridden uint64     `json:"partner_overridden"`
	MaxOverrideSecs   uint16     `json:"max_override_secs"`
	LastSeen          time.Time  `json:"last_seen"`
}

// Relays reads the per-relay counters, summed over CPUs.
func (m *Maps) Relays() ([]RelayStats, error) {
	boot := bootTime()
	byRelay := map[uint32]*RelayStats{}
	var order []uint32
	var per []xdhcpXdhcpRelayStats
	for slot := uint32(0); slot < m.relays.MaxEntries(); slot++ {
		if err := m.relays.Lookup(slot, &per); err != nil {
			return nil, fmt.Errorf("read relay slot %d: %w", slot, err)
		}
		for _, v := range per {
			var requests uint64
			for _, n := range v.Gated {
				requests += n
			}
			if requests == 0 {
				continue
			}
			r, ok := byRelay[v.Relay]
			if !ok {
				var b [4]byte
				binary.NativeEndian.PutUint32(b[:], v.Relay)
				r = &RelayStats{Relay: netip.AddrFrom4(b)}
				byRelay[v.Relay] = r
				order = append(order, v.Relay)
			}
			r.Requests += requests
			r.Owned += v.Gated[gated(decide.ReasonOwned)]
			r.PartnerDropped += v.Gated[gated(decide.ReasonPartnerDropped)]
			r.PartnerOverridden += v.Gated[gated(decide.ReasonSecsOverride)]
			r.MaxOverrideSecs = max(r.MaxOverrideSecs, v.MaxOverrideSecs)
			if seen := boot.Add(time.Duration(v.LastSeenNs)); seen.After(r.LastSeen) {
				r.LastSeen = seen
			}
		}
	}
	out := make([]RelayStats, 0, len(order))
	for _, k := range order {
		out = append(out, *byRelay[k])
	}
	return out, nil
}

// bootTime is the wall-clock time of CLOCK_MONOTONIC zero (bpf_ktime_get_ns).
func bootTime() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ts.Nano()))
}

// ResetCounters zeroes every counter (tests, operators starting a measurement).
func (m *Maps) ResetCounters() error {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("count possible CPUs: %w", err)
	}
	if err := m.stats.Update(uint32(0), make([]xdhcpXdhcpCounters, ncpu), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("reset counters: %w", err)
	}
	zr := make([]xdhcpXdhcpRelayStats, ncpu)
	for slot := uint32(0); slot < m.relays.MaxEntries(); slot++ {
		if err := m.relays.Update(slot, zr, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("reset relay counters: %w", err)
		}
	}
	return nil
}
