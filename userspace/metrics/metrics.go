// Package metrics exposes xdhcp to Prometheus: the fast path's counters,
// read from the BPF maps on every scrape, and the daemon's own counters,
// which the DHCP responder, the lease store and the failover engine feed
// through the small hooks here (DHCP, ObserveStore, SetPools, SetFailover).
//
// Names follow the Prometheus conventions: an xdhcp_ prefix, _total on
// counters, base units (seconds) in the name, labels for dimensions.
package metrics

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/relaydiag"
)

const namespace = "xdhcp"

// FastPath is what the collector reads on every scrape; *loader.Maps is one.
type FastPath interface {
	Rule() (decide.Rule, error)
	Verdicts() (loader.Verdicts, error)
	Buckets() ([256]loader.BucketStats, error)
	Relays() ([]loader.RelayStats, error)
}

// Options choose what is exposed.
type Options struct {
	// FastPath is read on every scrape; nil exposes no fast-path metrics.
	FastPath FastPath
	// Buckets adds three series per hash bucket (768 in all).
	Buckets bool
	// Relay is the diagnosis rule behind xdhcp_fastpath_relay_forwards_only_here
	// (zero value: relaydiag.DefaultRule).
	Relay relaydiag.Rule
	// Runtime adds the Go runtime and process collectors.
	Runtime bool
	Logger  *slog.Logger
}

// Pool is one address pool's share as the daemon sees it now.
type Pool struct {
	Name  string // e.g. the subnet, "198.18.0.0/24"
	Share string // whose free addresses: "local" or "partner" (load-balanced pools split them)
	Free  int
	Total int
}

// Failover is the failover engine's view now.
type Failover struct {
	State        string // this server's state, a decide.State name ("normal", ...)
	PartnerState string // the partner's state as last reported, "" when unknown
	LastContact  time.Time
}

// Metrics is xdhcp's registry and the hooks that feed it. Every method is
// safe on a nil *Metrics (metrics turned off) and from any goroutine.
type Metrics struct {
	reg   *prometheus.Registry
	dhcp  *DHCP
	store *prometheus.HistogramVec

	mu       sync.Mutex
	pools    func() []Pool
	failover func() Failover
	drops    func() map[string]uint64
	faults   func() StoreFaults
}

// StoreFaults is the lease store's failed writes since it opened.
type StoreFaults struct {
	FailedTransactions uint64
	LeasesNotStored    uint64
}

// New builds the registry.
func New(opts Options) *Metrics {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Relay == (relaydiag.Rule{}) {
		opts.Relay = relaydiag.DefaultRule()
	}
	m := &Metrics{reg: prometheus.NewRegistry(), dhcp: newDHCP()}
	m.store = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "lease_store", Name: "duration_seconds",
		Help:    "Time the lease store took per operation (op: load, commit, ...), fsync included.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
	}, []string{"op"})
	m.reg.MustRegister(m.dhcp, m.store, &daemonCollector{m: m})
	if opts.FastPath != nil {
		m.reg.MustRegister(newFastPathCollector(opts))
	}
	if opts.Runtime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry is the underlying registry (for extra collectors and tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// DHCP is the responder's counters (nil when m is nil).
func (m *Metrics) DHCP() *DHCP {
	if m == nil {
		return nil
	}
	return m.dhcp
}

// ObserveStore records how long one lease store operation took.
func (m *Metrics) ObserveStore(op string, d time.Duration) {
	if m == nil {
		return
	}
	m.store.WithLabelValues(op).Observe(d.Seconds())
}

// TimeStore starts timing a lease store operation: defer m.TimeStore("commit")().
func (m *Metrics) TimeStore(op string) func() {
	start := time.Now()
	return func() { m.ObserveStore(op, time.Since(start)) }
}

// SetPools registers the function read on every scrape for the pool gauges.
func (m *Metrics) SetPools(fn func() []Pool) {
	if m != nil { // metrics off
		setLocked(&m.mu, &m.pools, fn)
	}
}

// SetFailover registers the function read on every scrape for the failover gauges.
func (m *Metrics) SetFailover(fn func() Failover) {
	if m != nil { // metrics off
		setLocked(&m.mu, &m.failover, fn)
	}
}

// SetDrops registers the function read on every scrape for the responder's
// drop counters by reason (rate limits, pool reserve, store faults).
func (m *Metrics) SetDrops(fn func() map[string]uint64) {
	if m != nil { // metrics off
		setLocked(&m.mu, &m.drops, fn)
	}
}

// SetStoreFaults registers the function read on every scrape for the lease
// store's failed commits.
func (m *Metrics) SetStoreFaults(fn func() StoreFaults) {
	if m != nil { // metrics off
		setLocked(&m.mu, &m.faults, fn)
	}
}

func (m *Metrics) sources() (func() []Pool, func() Failover) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pools, m.failover
}

func (m *Metrics) faultSources() (func() map[string]uint64, func() StoreFaults) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.drops, m.faults
}

// DHCP counts the messages the responder receives and the replies it sends.
type DHCP struct {
	received                     *prometheus.CounterVec
	offers, acks, naks, declines prometheus.Counter
}

func newDHCP() *DHCP {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "dhcp", Name: name, Help: help})
	}
	return &DHCP{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "dhcp", Name: "received_total",
			Help: "DHCP messages the daemon received (after the fast path), by message type."}, []string{"message_type"}),
		offers:   c("offers_total", "DHCPOFFERs sent."),
		acks:     c("acks_total", "DHCPACKs sent."),
		naks:     c("naks_total", "DHCPNAKs sent."),
		declines: c("declines_total", "DHCPDECLINEs received (an address found in use)."),
	}
}

// Received counts one message of type t.
func (d *DHCP) Received(t dhcpv4.MessageType) {
	if d == nil {
		return
	}
	d.received.WithLabelValues(messageTypeLabel(t)).Inc()
}

// Offered, Acked, Naked and Declined count one reply sent or DECLINE taken.
func (d *DHCP) Offered() {
	if d != nil {
		d.offers.Inc()
	}
}

func (d *DHCP) Acked() {
	if d != nil {
		d.acks.Inc()
	}
}

func (d *DHCP) Naked() {
	if d != nil {
		d.naks.Inc()
	}
}

func (d *DHCP) Declined() {
	if d != nil {
		d.declines.Inc()
	}
}

// messageTypeLabel is "discover", "request", ...; "bootp" for none.
func messageTypeLabel(t dhcpv4.MessageType) string {
	switch t {
	case dhcpv4.MessageTypeNone:
		return "bootp"
	case dhcpv4.MessageTypeDiscover:
		return "discover"
	case dhcpv4.MessageTypeRequest:
		return "request"
	case dhcpv4.MessageTypeDecline:
		return "decline"
	case dhcpv4.MessageTypeRelease:
		return "release"
	case dhcpv4.MessageTypeInform:
		return "inform"
	}
	return "other"
}

func (d *DHCP) Describe(ch chan<- *prometheus.Desc) {
	d.received.Describe(ch)
	for _, c := range []prometheus.Counter{d.offers, d.acks, d.naks, d.declines} {
		c.Describe(ch)
	}
}

func (d *DHCP) Collect(ch chan<- prometheus.Metric) {
	d.received.Collect(ch)
	for _, c := range []prometheus.Counter{d.offers, d.acks, d.naks, d.declines} {
		c.Collect(ch)
	}
}

// setLocked installs a scrape-time source under the scrape lock.
func setLocked[T any](mu *sync.Mutex, dst *T, fn T) {
	mu.Lock()
	defer mu.Unlock()
	*dst = fn
}
