// Package gen is xdhcp's load generator: a small XDP program (bpf/gen.c)
// run through BPF_PROG_TEST_RUN in live-frames mode, which turns one
// template frame into millions of distinct DHCP clients a second (chaddr,
// xid and secs stamped per packet in the kernel) and sends them out of an
// interface. On a veth the frames reach the peer only when the peer has an
// XDP program attached (XDP_PASS is enough).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Options describe one run.
type Options struct {
	// Iface is the interface the frames leave by, looked up in the network
	// namespace of the generator threads (see Enter).
	Iface            string
	Clients          []net.HardwareAddr
	SecsMin, SecsMax uint16
	Types            []Type
	// ServerID is option 54 of the kinds that name a server.
	ServerID netip.Addr
	// PPS is the target rate; 0 sends as fast as the CPUs allow.
	PPS uint64
	// Count stops the run after this many packets; Duration after this long.
	// With neither, the run lasts until ctx is cancelled.
	Count    uint64
	Duration time.Duration
	// Threads run the program in parallel, thread i pinned to CPU i (mod the
	// CPU count). Default 1.
	Threads int
	// Plain sends the templates unchanged, all from the first client: the
	// baseline that shows what the per-packet rewrite costs.
	Plain bool
	// Enter runs on each generator thread before it sends (to enter a
	// network namespace, say); such a thread is discarded afterwards.
	Enter func() error
	// Progress, when set, is called every ProgressEvery (default 500ms).
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Live, when set, is handed a reader of the frames sent so far before
	// the threads start: for a caller that measures windows of one long
	// run (the reader is valid until Run returns).
	Live func(sent func() (uint64, error))
}

// Progress is a running count.
type Progress struct {
	Sent    uint64
	Elapsed time.Duration
	Rate    float64 // packets per second since the previous call
}

// Result is what a run sent.
type Result struct {
	Sent    uint64        `json:"sent"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Rate    float64       `json:"rate_pps"`
	Threads int           `json:"threads"`
}

// xdpMd is struct xdp_md, the test run's context.
type xdpMd struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

func (o *Options) validate() error {
	switch {
	case o.Iface == "":
		return errors.New("generator: no interface given")
	case len(o.Clients) == 0:
		return errors.New("generator: no clients")
	case len(o.Clients) > MaxClients:
		return fmt.Errorf("generator: %d clients, at most %d", len(o.Clients), MaxClients)
	case o.SecsMin > o.SecsMax:
		return fmt.Errorf("generator: secs range %d-%d is empty", o.SecsMin, o.SecsMax)
	case len(o.Types) == 0:
		return errors.New("generator: no message types")
	case o.Threads < 0:
		return fmt.Errorf("generator: %d threads", o.Threads)
	}
	for _, c := range o.Clients {
		if len(c) != 6 {
			return fmt.Errorf("generator: client %s is not an Ethernet MAC", c)
		}
	}
	return nil
}

// Run loads the generator, sends until Count, Duration or ctx ends the
// run, and reports what the program sent (its own counter: a test run the
// kernel interrupts is repeated, so userspace cannot count).
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	if o.Threads == 0 {
		o.Threads = 1
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 500 * time.Millisecond
	}
	templates := make([][]byte, len(o.Types))
	for i, t := range o.Types {
		b, err := Template(t, o.ServerID)
		if err != nil {
			return Result{}, err
		}
		if o.Plain {
			// The baseline's one client: the first of the list, as a
			// receiver would see it in the real run.
			copy(b[ethSrcOff:], o.Clients[0])
			copy(b[bootpOff+chaddrOff:], o.Clients[0])
		}
		templates[i] = b
	}
	ifindex, err := resolveIface(o.Iface, o.Enter)
	if err != nil {
		return Result{}, err
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return Result{}, fmt.Errorf("generator: count CPUs: %w", err)
	}
	consts := map[string]uint32{"gen_ifindex": uint32(ifindex), "gen_clients_n": uint32(len(o.Clients)),
		"gen_cpu_stride": uint32(len(o.Clients) / ncpu), "gen_secs_min": uint32(o.SecsMin),
		"gen_secs_span": uint32(o.SecsMax) - uint32(o.SecsMin) + 1, "gen_rewrite": 1}
	if o.Plain {
		consts["gen_rewrite"] = 0
	}
	objs, err := load(len(o.Clients), consts)
	if err != nil {
		return Result{}, err
	}
	defer objs.Close()
	if err := fillClients(objs.GenClients, o.Clients); err != nil {
		return Result{}, err
	}
	if o.Live != nil {
		o.Live(func() (uint64, error) { return sentCount(objs.GenSent) })
	}

	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var budget *atomic.Int64
	if o.Count > 0 {
		budget = new(atomic.Int64)
		budget.Store(int64(o.Count))
	}
	start := time.Now()
	errs := make(chan error, o.Threads)
	var wg sync.WaitGroup
	for i := 0; i < o.Threads; i++ {
		w := worker{o: &o, objs: objs, templates: templates, budget: budget, id: i, ifindex: ifindex}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(ctx); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if o.Progress == nil {
			return
		}
		t := time.NewTicker(o.ProgressEvery)
		defer t.Stop()
		var prev uint64
		prevT := start
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				n, err := sentCount(objs.GenSent)
				if err != nil {
					continue
				}
				o.Progress(Progress{Sent: n, Elapsed: now.Sub(start), Rate: float64(n-prev) / now.Sub(prevT).Seconds()})
				prev, prevT = n, now
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	<-progressDone
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	sent, err := sentCount(objs.GenSent)
	if err != nil {
		all = append(all, err)
	}
	res := Result{Sent: sent, Elapsed: elapsed, Threads: o.Threads}
	if elapsed > 0 {
		res.Rate = float64(sent) / elapsed.Seconds()
	}
	return res, errors.Join(all...)
}

// resolveIface finds name's index in the namespace the generator threads
// will be in (Enter runs on a throwaway thread first).
func resolveIface(name string, enter func() error) (int, error) {
	type answer struct {
		idx int
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: Enter may change the thread's namespace
		if enter != nil {
			if err := enter(); err != nil {
				ch <- answer{err: fmt.Errorf("generator: %w", err)}
				return
			}
		}
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			ch <- answer{err: fmt.Errorf("generator: interface %s: %w", name, err)}
			return
		}
		ch <- answer{idx: ifc.Index}
	}()
	a := <-ch
	return a.idx, a.err
}

func load(clients int, consts map[string]uint32) (*genObjects, error) {
	spec, err := loadGen()
	if err != nil {
		return nil, fmt.Errorf("generator: read embedded BPF object: %w", err)
	}
	spec.Maps["gen_clients"].MaxEntries = uint32(clients)
	for name, v := range consts {
		vs, ok := spec.Variables[name]
		if !ok {
			return nil, fmt.Errorf("generator: BPF object has no constant %s", name)
		}
		if err := vs.Set(v); err != nil {
			return nil, fmt.Errorf("generator: set %s: %w", name, err)
		}
	}
	var objs genObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("generator: load: %w (loading BPF needs root)", err)
		}
		return nil, fmt.Errorf("generator: load: %w", err)
	}
	return &objs, nil
}

func fillClients(m *ebpf.Map, clients []net.HardwareAddr) error {
	const chunk = 1 << 14
	keys := make([]uint32, 0, chunk)
	vals := make([]genGenClient, 0, chunk)
	for i := 0; i < len(clients); i += chunk {
		keys, vals = keys[:0], vals[:0]
		for j := i; j < len(clients) && j < i+chunk; j++ {
			var v genGenClient
			copy(v.Mac[:], clients[j])
			keys = append(keys, uint32(j))
			vals = append(vals, v)
		}
		if _, err := m.BatchUpdate(keys, vals, nil); err != nil {
			return fmt.Errorf("generator: write client table: %w", err)
		}
	}
	return nil
}

func sentCount(m *ebpf.Map) (uint64, error) {
	var per []genGenState
	if err := m.Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("generator: read sent counter: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v.Sent
	}
	return n, nil
}

type worker struct {
	o         *Options
	objs      *genObjects
	templates [][]byte
	budget    *atomic.Int64
	id        int
	ifindex   int
}

// claim takes up to n packets from the shared count; 0 means the count is spent.
func (w *worker) claim(n int64) int64 {
	if w.budget == nil {
		return n
	}
	for {
		left := w.budget.Load()
		if left <= 0 {
			return 0
		}
		take := min(n, left)
		if w.budget.CompareAndSwap(left, left-take) {
			return take
		}
	}
}

func (w *worker) run(ctx context.Context) error {
	// The thread may change network namespace: keep it to this goroutine
	// and let the runtime end it afterwards (no UnlockOSThread).
	runtime.LockOSThread()
	if w.o.Enter != nil {
		if err := w.o.Enter(); err != nil {
			return fmt.Errorf("generator thread %d: %w", w.id, err)
		}
	}
	// One CPU per thread: the kernel runs each test run on the caller's CPU.
	cpu := w.id % runtime.NumCPU()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("generator thread %d: pin to CPU %d: %w", w.id, cpu, err)
	}
	var perThread float64
	if w.o.PPS > 0 {
		perThread = float64(w.o.PPS) / float64(w.o.Threads)
	}
	b := newBatcher(perThread)
	start := time.Now()
	var done int64
	for i := 0; ctx.Err() == nil; i++ {
		want := b.size()
		if dl, ok := ctx.Deadline(); ok && b.rate > 0 {
			// Do not overrun the run's deadline by a whole batch.
			want = max(1, min(want, int64(b.rate*time.Until(dl).Seconds())))
		}
		n := w.claim(want)
		if n == 0 {
			return nil
		}
		if perThread > 0 {
			due := start.Add(time.Duration(float64(done) / perThread * float64(time.Second)))
			if d := time.Until(due); d > time.Millisecond {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(d):
				}
			}
		}
		t := w.templates[i%len(w.templates)]
		callStart := time.Now()
		_, err := w.objs.XdhcpGen.Run(&ebpf.RunOptions{
			Data:    t,
			Context: xdpMd{DataEnd: uint32(len(t)), IngressIfindex: uint32(w.ifindex)},
			Repeat:  uint32(n),
			Flags:   unix.BPF_F_TEST_XDP_LIVE_FRAMES,
		})
		if err != nil {
			return fmt.Errorf("generator: send on %s: %w", w.o.Iface, err)
		}
		done += n
		b.observe(n, time.Since(callStart))
	}
	return nil
}

// batcher sizes test-run calls. Each call with more than one repetition
// costs a fixed setup and teardown (about 25 ms measured on a 6.18 VM,
// mostly waiting), so at full speed calls must carry about half a second of
// packets; a paced run sends single frames below a few thousand per second
// and otherwise bursts of a tenth of a second's worth.
type batcher struct {
	pps  float64 // target per thread; 0: as fast as possible
	rate float64 // measured rate of the last call
}

const (
	firstBatch   = 1 << 18
	maxBatchSize = 1 << 26
	burstEvery   = 100 * time.Millisecond
	callLength   = 500 * time.Millisecond
	singleBelow  = 5000 // pps at which single-frame calls stay smooth
)

func newBatcher(pps float64) *batcher { return &batcher{pps: pps} }

func (b *batcher) size() int64 {
	switch {
	case b.pps > 0 && b.pps < singleBelow:
		return 1
	case b.pps > 0:
		return max(1, int64(b.pps*burstEvery.Seconds()))
	case b.rate == 0:
		return firstBatch
	}
	return max(1, min(maxBatchSize, int64(b.rate*callLength.Seconds())))
}

func (b *batcher) observe(n int64, d time.Duration) {
	if d > 0 {
		b.rate = float64(n) / d.Seconds()
	}
}
