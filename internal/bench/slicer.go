package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"

	"github.com/xdhcp/xdhcp/internal/loadgen"
)

// flood is a generator run in the background, until stopped.
type flood struct {
	sent   func() (uint64, error)
	cancel context.CancelFunc
	done   chan error
	err    error
	over   bool
}

// startFlood starts the generator with o (no Duration or Count: it runs
// until stop) and returns once its sent counter can be read, as its
// threads start (the caller's first, uncounted slice covers the start).
func startFlood(ctx context.Context, o loadgen.Options) (*flood, error) {
	ctx, cancel := context.WithCancel(ctx)
	f := &flood{cancel: cancel, done: make(chan error, 1)}
	live := make(chan func() (uint64, error), 1)
	o.Live = func(sent func() (uint64, error)) { live <- sent }
	go func() {
		_, err := loadgen.Run(ctx, o)
		f.done <- err
	}()
	select {
	case f.sent = <-live:
	case err := <-f.done:
		f.over = true
		cancel()
		if err == nil {
			err = errors.New("generator stopped before it sent")
		}
		return nil, fmt.Errorf("drop bench: %w", err)
	}
	return f, nil
}

// stop ends the run and returns the generator's error, if any (once).
func (f *flood) stop() error {
	if f.over {
		return f.err
	}
	f.over = true
	f.cancel()
	f.err = <-f.done
	if f.err != nil {
		f.err = fmt.Errorf("drop bench: generator: %w", f.err)
	}
	return f.err
}

// receiver is one program the flood's receiving end takes turns running.
type receiver struct {
	name string
	prog *ebpf.Program
	into *DropPhase
}

// DropSlice is what one receiver did in one slice.
type DropSlice struct {
	Sent     uint64  `json:"sent"`
	Received uint64  `json:"received_and_dropped"`
	Seconds  float64 `json:"seconds"`
	// RxSeconds is the CPU time of the receiving NAPI threads in the
	// slice (0 when the receiver runs in the generator's softirq).
	RxSeconds float64 `json:"rx_cpu_seconds,omitempty"`
}

// Rate is the received-and-dropped rate.
func (s DropSlice) Rate() float64 { return float64(s.Received) / s.Seconds }

// SentRate is the generator's rate in the slice.
func (s DropSlice) SentRate() float64 { return float64(s.Sent) / s.Seconds }

// PerCPUSecond is what one receiving CPU takes in a second when kept busy.
func (s DropSlice) PerCPUSecond() float64 {
	if s.RxSeconds == 0 {
		return 0
	}
	return float64(s.Received) / s.RxSeconds
}

// Share is the fraction of the frames offered that the receiver took.
func (s DropSlice) Share() float64 { return float64(s.Received) / float64(s.Sent) }

// slicer runs receivers on link for a slice each while the flood goes on.
type slicer struct {
	link   link.Link
	flood  *flood
	rx     []int // the receiving NAPI threads
	length time.Duration
	// received counts every frame that reached the receiving end's XDP
	// program, whichever program it was: the same count for every receiver.
	received func() (uint64, error)
}

// measure swaps rc's program in and counts one slice.
func (s *slicer) measure(ctx context.Context, rc receiver) (DropSlice, error) {
	if err := s.link.Update(rc.prog); err != nil {
		return DropSlice{}, fmt.Errorf("drop bench: swap in %s: %w", rc.name, err)
	}
	type sample struct {
		count, sent, rx uint64
		at              time.Time
	}
	take := func() (sample, error) {
		c, err := s.received()
		if err != nil {
			return sample{}, err
		}
		n, err := s.flood.sent()
		if err != nil {
			return sample{}, err
		}
		return sample{count: c, sent: n, rx: cpuNanos(s.rx), at: time.Now()}, nil
	}
	a, err := take()
	if err != nil {
		return DropSlice{}, err
	}
	t := time.NewTimer(s.length)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return DropSlice{}, ctx.Err()
	case err := <-s.flood.done:
		s.flood.over, s.flood.err = true, err
		return DropSlice{}, fmt.Errorf("drop bench: the generator stopped mid-run: %v", err)
	}
	b, err := take()
	if err != nil {
		return DropSlice{}, err
	}
	return DropSlice{Sent: b.sent - a.sent, Received: b.count - a.count, Seconds: b.at.Sub(a.at).Seconds(),
		RxSeconds: float64(b.rx-a.rx) / 1e9}, nil
}

// rxPackets reads the frames the receiving veth's XDP program has seen
// (its rx_packets: the veth counts every frame it runs XDP on there,
// whatever the verdict), through h (a netlink handle in the veth's network
// namespace).
func rxPackets(h *netlink.Handle, iface string) func() (uint64, error) {
	return func() (uint64, error) {
		lk, err := h.LinkByName(iface)
		if err != nil {
			return 0, fmt.Errorf("drop bench: read %s's receive counter: %w", iface, err)
		}
		if lk.Attrs().Statistics == nil {
			return 0, fmt.Errorf("drop bench: %s has no statistics", iface)
		}
		return lk.Attrs().Statistics.RxPackets, nil
	}
}
