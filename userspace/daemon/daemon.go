// Package daemon is serve's engine room: it owns the lease store, the
// served interfaces and their sockets, and the XDP fast path (attached and
// configured from the daemon's rule, or the same rule applied in Go where
// XDP is off). userspace/node starts it beside the failover engine and the
// control socket.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/net/ipv4"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/dhcpserver"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/metrics"
)

// Options configure a daemon.
type Options struct {
	Config *config.Config
	// Rule is the load-balancing rule; its HBA and Role also set this
	// server's share of every range.
	Rule decide.Rule
	// PinDir is the bpffs directory for the fast path's pins.
	PinDir string
	// KeepXDP leaves the fast path attached when the daemon stops, so the
	// next start (restart, upgrade) replaces the program in place and no
	// packet meets an interface without it.
	KeepXDP bool
	Logger  *slog.Logger
	// Metrics receives the DHCP and lease store figures (nil: off).
	Metrics *metrics.Metrics
}

// Daemon is a running xdhcp server.
type Daemon struct {
	opts   Options
	cfg    *config.Config
	log    *slog.Logger
	store  *lease.Store
	server *dhcpserver.Server
	rule   rule
	links  []*link
	stats  counters
	// reloadMu orders reloads (two SIGHUPs in a row).
	reloadMu sync.Mutex
	// serving is closed once every interface is open and the fast path
	// attached, just before requests are read.
	serving chan struct{}
}

// counters are the daemon's packet counters.
type counters struct {
	received, ruleDropped, malformed, replies, silent, sendErrors atomic.Uint64
}

// Stats is a snapshot of the counters.
type Stats struct {
	Received    uint64      `json:"received"`
	RuleDropped uint64      `json:"rule_dropped"` // dropped by the Go-side rule (XDP off)
	Malformed   uint64      `json:"malformed"`
	Replies     uint64      `json:"replies"`
	Silent      uint64      `json:"silent"`
	SendErrors  uint64      `json:"send_errors"`
	Store       lease.Stats `json:"store"`
	// Drops are the responder's unanswered requests by reason.
	Drops dhcpserver.Drops `json:"drops"`
	// Policy counts ping checks and DDNS updates.
	Policy dhcpserver.PolicyStats `json:"policy"`
}

// New opens the lease store and prepares the server; Run starts serving.
func New(o Options) (*Daemon, error) {
	cfg := o.Config
	if err := cfg.Validate(""); err != nil {
		return nil, err
	}
	if len(cfg.Interfaces) == 0 {
		return nil, errors.New("no interface to serve: give --iface or interfaces:")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d := &Daemon{opts: o, cfg: cfg, log: o.Logger, serving: make(chan struct{})}
	if err := d.rule.set(o.Rule); err != nil {
		return nil, err
	}
	issuer := lease.Issuer{Role: o.Rule.Role, ServerID: cfg.ServerID}
	if !issuer.ServerID.IsValid() {
		// Leases record the first interface's address, the default server id.
		ifi, err := net.InterfaceByName(cfg.Interfaces[0])
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", cfg.Interfaces[0], err)
		}
		if issuer.ServerID, err = ifaceAddr(ifi); err != nil {
			return nil, err
		}
	}
	st, err := lease.Open(cfg.DB, lease.Options{Pools: cfg.Pools(), HBA: o.Rule.HBA, Role: o.Rule.Role, Issuer: issuer, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	d.store = st
	d.server = dhcpserver.New(cfg, st, o.Logger)
	o.Metrics.SetDrops(func() map[string]uint64 { return d.server.Drops().Reasons() })
	o.Metrics.SetStoreFaults(func() metrics.StoreFaults {
		s := st.Stats()
		return metrics.StoreFaults{FailedTransactions: s.FailedTransactions, LeasesNotStored: s.LeasesNotStored}
	})
	return d, nil
}

// Store is the lease store (failover: Subscribe, ApplyPeer, All, SetShare).
func (d *Daemon) Store() *lease.Store { return d.store }

// Rule is the decision config in force.
func (d *Daemon) Rule() decide.Rule { return d.rule.get() }

// SetLeaseLimit caps every lease time the server gives (failover's MCLT rule).
func (d *Daemon) SetLeaseLimit(fn dhcpserver.LeaseLimit) { d.server.SetLeaseLimit(fn) }

// SetRule changes the decision config everywhere at once: the XDP maps
// when the program is attached, the Go-side check otherwise.
func (d *Daemon) SetRule(c decide.Rule) error { return d.rule.set(c) }

// Stats reports the counters.
func (d *Daemon) Stats() Stats {
	s := &d.stats
	return Stats{s.received.Load(), s.ruleDropped.Load(), s.malformed.Load(), s.replies.Load(), s.silent.Load(), s.sendErrors.Load(), d.store.Stats(), d.server.Drops(), d.server.Policy()}
}

// Run serves until ctx ends, then detaches XDP and closes the store.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.store.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.server.Start(ctx) // ping check socket, DDNS updater
	for _, name := range d.cfg.Interfaces {
		l, err := openLink(ctx, name, d.log)
		if err != nil {
			d.closeLinks()
			return err
		}
		l.sid = l.addr
		if d.cfg.ServerID.IsValid() {
			l.sid = d.cfg.ServerID
		}
		d.links = append(d.links, l)
	}
	defer d.closeLinks()
	if err := d.fillServerIDs(); err != nil {
		return err
	}
	if d.cfg.XDP != "off" {
		detach, err := d.attachXDP()
		if err != nil {
			return err
		}
		defer detach()
	}
	if os.Getenv("GOGC") == "" {
		// Requests allocate short-lived messages; trade memory for less GC.
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// One P, chosen by measurement (docs/perf-responder.md): each
		// packet is a few microseconds of work, and with two Ps every
		// hand-off between goroutines woke a second thread; one P cost
		// 20-25% less CPU per exchange at the same rate, and the kernel
		// still spreads the network work over the CPUs.
		runtime.GOMAXPROCS(1)
	}
	// A group commit queues its ACKs on the links; send them together.
	d.store.AfterCommits(func() {
		for _, l := range d.links {
			d.flush(l)
		}
	})
	var wg sync.WaitGroup
	for _, l := range d.links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.serveLink(ctx, l)
		}()
		d.log.Info("serving", "iface", l.name, "addr", l.addr, "server_id", l.sid, "xdp", l.xdp)
	}
	// The failover engine waits for this before taking buckets back, so
	// the partner keeps answering while the verifier runs.
	close(d.serving)
	<-ctx.Done()
	d.closeLinks() // unblocks the readers
	wg.Wait()
	d.log.Info("stopped", "stats", d.Stats())
	return nil
}

// fillServerIDs gives the rule this server's identifiers when none were
// configured, so requests naming this server pass the server-id gate.
func (d *Daemon) fillServerIDs() error {
	c := d.rule.get()
	if len(c.ServerIDs) > 0 {
		return nil
	}
	seen := map[netip.Addr]bool{}
	for _, l := range d.links {
		if !seen[l.sid] && len(c.ServerIDs) < decide.MaxServerIDs {
			seen[l.sid] = true
			c.ServerIDs = append(c.ServerIDs, l.sid)
		}
	}
	return d.rule.set(c)
}

func (d *Daemon) closeLinks() {
	for _, l := range d.links {
		l.close()
	}
}

// attachXDP loads the program, writes the rule and attaches it to every
// interface that accepts it; the others keep the Go-side rule.
func (d *Daemon) attachXDP() (detach func(), err error) {
	mode, err := loader.ParseMode(d.cfg.XDP)
	if err != nil {
		return nil, fmt.Errorf("xdp: %w", err)
	}
	pins, err := loader.OpenPinDir(d.opts.PinDir)
	if err != nil {
		return nil, err
	}
	// A program left attached by an earlier run (restart, upgrade) is
	// replaced in place below; sharing its maps keeps the counters.
	var reuse *loader.Maps
	for _, l := range d.links {
		if m, err := loader.Open(l.name, pins); err == nil {
			reuse = m
			break
		}
	}
	prog, err := loader.Load(loader.LoadOptions{Reuse: reuse})
	if reuse != nil {
		reuse.Close()
	}
	if err != nil {
		d.log.Warn("XDP program not loaded: applying the rule in Go on every interface", "err", err)
		return func() {}, nil
	}
	if err := prog.SetRule(d.rule.get()); err != nil {
		prog.Close()
		return nil, err
	}
	if err := pins.PinMaps(prog.Maps); err != nil {
		prog.Close()
		return nil, err
	}
	var attached []string
	for _, l := range d.links {
		att, err := prog.Attach(l.name, mode, pins)
		if err != nil {
			d.log.Warn("XDP refused: applying the rule in Go on this interface", "iface", l.name, "err", err)
			continue
		}
		l.xdp, l.prog = true, att.ProgramID
		attached = append(attached, l.name)
		d.log.Info("XDP attached", "iface", l.name, "mode", att.Mode, "via", att.Via, "program", att.ProgramID)
	}
	if len(attached) == 0 {
		prog.Close()
		return func() {}, nil
	}
	// Rules set while attaching went only to the Go side: write the
	// current one under the lock that from now on covers the maps too.
	d.rule.mu.Lock()
	d.rule.maps = prog.Maps
	err = prog.SetRule(d.rule.cfg)
	d.rule.mu.Unlock()
	if err != nil {
		d.log.Warn("write XDP rule after attach", "err", err)
	}
	return func() {
		d.rule.mu.Lock()
		d.rule.maps = nil
		d.rule.mu.Unlock()
		if d.opts.KeepXDP {
			// The pinned link (or the netlink attachment) holds the
			// program; closing our descriptors leaves it filtering.
			d.log.Info("XDP left attached for the next start", "ifaces", attached, "pin_dir", d.opts.PinDir)
			prog.Close()
			return
		}
		for _, name := range attached {
			if err := loader.Detach(name, pins); err != nil {
				d.log.Warn("detach XDP", "iface", name, "err", err)
			}
		}
		prog.Close()
	}, nil
}

// serveLink reads requests from one interface and answers them in order,
// a batch at a time (recvmmsg: what queued while the last batch was
// handled, often while the committer synced), and sends the batch's
// replies together (sendmmsg). Nothing here waits for the disk: a reply
// that needs a lease on disk is queued by the group commit's goroutine
// once the lease is fsync'd and sent at the end of that commit.
func (d *Daemon) serveLink(ctx context.Context, l *link) {
	msgs := make([]ipv4.Message, batchSize)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 4096)}
	}
	for {
		n, err := l.pc.ReadBatch(msgs, 0)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Error("receive", "iface", l.name, "err", err)
			}
			return
		}
		for _, m := range msgs[:n] {
			pkt := m.Buffers[0][:m.N]
			d.stats.received.Add(1)
			if !l.xdp {
				if v := d.rule.decide(pkt); v.Drop {
					d.stats.ruleDropped.Add(1)
					continue
				}
			}
			d.handle(ctx, l, pkt)
		}
		d.flush(l)
	}
}

// flush sends a link's queued replies.
func (d *Daemon) flush(l *link) {
	sent, err := l.flush()
	d.stats.replies.Add(uint64(sent))
	if err != nil {
		d.stats.sendErrors.Add(1)
		d.log.Warn("send replies", "iface", l.name, "err", err)
	}
}

func (d *Daemon) handle(ctx context.Context, l *link, pkt []byte) {
	req, err := dhcpv4.FromBytes(pkt)
	if err != nil {
		d.stats.malformed.Add(1)
		d.log.Debug("malformed request", "iface", l.name, "err", err)
		return
	}
	dm := d.opts.Metrics.DHCP()
	dm.Received(req.MessageType())
	if req.MessageType() == dhcpv4.MessageTypeDecline {
		dm.Declined()
	}
	resp, pending := d.server.Serve(ctx, req, dhcpserver.Meta{Iface: l.name, IfAddr: l.addr, ServerID: l.sid})
	if pending == nil {
		d.reply(l, req, resp)
		return
	}
	stored := d.opts.Metrics.TimeStore("commit")
	pending.Then(func(err error) {
		stored()
		if err != nil {
			// Counted by the server; the store logs the cause once per
			// interval, so a storm of failing commits does not flood the log.
			d.stats.silent.Add(1)
			d.log.Debug("lease not stored: no reply", "chaddr", req.ClientHWAddr, "err", err)
			return
		}
		d.reply(l, req, resp)
	})
}

func (d *Daemon) reply(l *link, req, resp *dhcpv4.DHCPv4) {
	if resp == nil {
		d.stats.silent.Add(1)
		return
	}
	dest := dhcpserver.Route(req, resp)
	switch dest.Via {
	case dhcpserver.ViaRelay, dhcpserver.ViaUnicast:
		// Sent (and counted) by the next flush.
		if !l.out.addReply(resp, netip.AddrPortFrom(dest.IP, dest.Port)) {
			d.stats.sendErrors.Add(1)
			d.log.Warn("reply with an address that is not IPv4: not sent", "iface", l.name, "to", dest)
			return
		}
	default:
		if err := l.send(resp.ToBytes(), dest); err != nil {
			d.stats.sendErrors.Add(1)
			d.log.Warn("send reply", "iface", l.name, "to", dest, "err", err)
			return
		}
		d.stats.replies.Add(1)
	}
	switch dm := d.opts.Metrics.DHCP(); resp.MessageType() {
	case dhcpv4.MessageTypeOffer:
		dm.Offered()
	case dhcpv4.MessageTypeAck:
		dm.Acked()
	case dhcpv4.MessageTypeNak:
		dm.Naked()
	}
}
