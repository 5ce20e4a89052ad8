package metrics

import (
	"log/slog"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/relaydiag"
)

func desc(subsystem, name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, name), help, labels, nil)
}

// daemonCollector reads the pool and failover hooks on every scrape.
type daemonCollector struct{ m *Metrics }

var (
	poolFreeDesc     = desc("pool", "free_addresses", "Free addresses in a pool's share now.", "pool", "share")
	poolSizeDesc     = desc("pool", "addresses", "Addresses in a pool's share.", "pool", "share")
	failoverState    = desc("failover", "state", "This server's failover state: 1 for the current state, 0 for the others.", "state")
	failoverPartner  = desc("failover", "partner_state", "The partner's failover state as last reported: 1 for that state, 0 for the others.", "state")
	failoverContact  = desc("failover", "last_contact_timestamp_seconds", "Unix time of the last message from the partner (0: never).")
	dhcpDropped      = desc("dhcp", "dropped_total", "Requests left unanswered to protect service or the lease store, by reason (client_rate, relay_rate, pool_reserve, no_address, store_fault, not_stored).", "reason")
	storeFailedTxs   = desc("lease_store", "failed_transactions_total", "Lease store commits that failed (disk full, read-only, I/O error); their changes were undone and no reply sent.")
	storeNotStored   = desc("lease_store", "leases_not_stored_total", "Lease changes lost to failed commits (each client got no reply).")
	fastPathUp       = desc("fastpath", "up", "1 when the fast path's maps could be read on this scrape.")
	fastPathPackets  = desc("fastpath", "packets_total", "Packets the XDP program decided, by reason and action (pass or drop).", "reason", "action")
	fastPathInfo     = desc("fastpath", "config_info", "The fast path's role and failover state (value 1).", "role", "state")
	fastPathThresh   = desc("fastpath", "threshold_seconds", "secs value from which this server answers the partner's clients (0: load balancing off).")
	fastPathOwned    = desc("fastpath", "owned_buckets", "Hash buckets this server owns (of 256).")
	bucketSeen       = desc("fastpath", "bucket_requests_total", "Hash-gated requests per bucket.", "bucket", "owner")
	bucketDropped    = desc("fastpath", "bucket_dropped_total", "Requests dropped per bucket (the partner's, below the threshold).", "bucket", "owner")
	bucketOverridden = desc("fastpath", "bucket_overridden_total", "Partner's requests answered per bucket because secs reached the threshold.", "bucket", "owner")
	relayRequests    = desc("fastpath", "relay_requests_total", "Hash-gated requests per relay (giaddr; \"direct\" for on-link clients).", "relay")
	relayOwned       = desc("fastpath", "relay_owned_total", "Requests per relay from clients this server owns.", "relay")
	relayDropped     = desc("fastpath", "relay_partner_dropped_total", "Partner-owned requests per relay dropped below the threshold.", "relay")
	relayOverridden  = desc("fastpath", "relay_partner_overridden_total", "Partner-owned requests per relay answered because secs reached the threshold.", "relay")
	relayMaxSecs     = desc("fastpath", "relay_max_override_secs", "Highest secs among a relay's overridden requests.", "relay")
	relayLastSeen    = desc("fastpath", "relay_last_seen_timestamp_seconds", "Unix time of a relay's last hash-gated request.", "relay")
	relayOnlyHere    = desc("fastpath", "relay_forwards_only_here", "1 when the relay appears to forward only to this server (see xdhcp relays).", "relay")
)

func (c *daemonCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolFreeDesc, poolSizeDesc, failoverState, failoverPartner, failoverContact, dhcpDropped, storeFailedTxs, storeNotStored} {
		ch <- d
	}
}

func (c *daemonCollector) Collect(ch chan<- prometheus.Metric) {
	if drops, faults := c.m.faultSources(); drops != nil || faults != nil {
		if drops != nil {
			for reason, n := range drops() {
				ch <- prometheus.MustNewConstMetric(dhcpDropped, prometheus.CounterValue, float64(n), reason)
			}
		}
		if faults != nil {
			f := faults()
			ch <- prometheus.MustNewConstMetric(storeFailedTxs, prometheus.CounterValue, float64(f.FailedTransactions))
			ch <- prometheus.MustNewConstMetric(storeNotStored, prometheus.CounterValue, float64(f.LeasesNotStored))
		}
	}
	pools, failover := c.m.sources()
	if pools != nil {
		for _, p := range pools() {
			ch <- prometheus.MustNewConstMetric(poolFreeDesc, prometheus.GaugeValue, float64(p.Free), p.Name, p.Share)
			ch <- prometheus.MustNewConstMetric(poolSizeDesc, prometheus.GaugeValue, float64(p.Total), p.Name, p.Share)
		}
	}
	if failover != nil {
		f := failover()
		stateSet(ch, failoverState, f.State)
		if f.PartnerState != "" {
			stateSet(ch, failoverPartner, f.PartnerState)
		}
		var ts float64
		if !f.LastContact.IsZero() {
			ts = float64(f.LastContact.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(failoverContact, prometheus.GaugeValue, ts)
	}
}

// stateSet emits the Prometheus "state set": one series per known state,
// 1 for the current one, so alerts can match on the label.
func stateSet(ch chan<- prometheus.Metric, d *prometheus.Desc, current string) {
	current = strings.ToLower(current)
	known := false
	for _, s := range states() {
		v := 0.0
		if s == current {
			v, known = 1, true
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, s)
	}
	if !known && current != "" {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 1, current)
	}
}

// states lists every failover state name decide knows.
func states() []string {
	var out []string
	for s := decide.State(0); ; s++ {
		if _, err := decide.ParseState(s.String()); err != nil {
			return out
		}
		out = append(out, s.String())
	}
}

// fastPathCollector reads the BPF maps on every scrape.
type fastPathCollector struct {
	src     FastPath
	buckets bool
	rule    relaydiag.Rule
	log     *slog.Logger
}

func newFastPathCollector(o Options) *fastPathCollector {
	return &fastPathCollector{src: o.FastPath, buckets: o.Buckets, rule: o.Relay, log: o.Logger}
}

func (c *fastPathCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{fastPathUp, fastPathPackets, fastPathInfo, fastPathThresh, fastPathOwned,
		relayRequests, relayOwned, relayDropped, relayOverridden, relayMaxSecs, relayLastSeen, relayOnlyHere} {
		ch <- d
	}
	if c.buckets {
		ch <- bucketSeen
		ch <- bucketDropped
		ch <- bucketOverridden
	}
}

func (c *fastPathCollector) Collect(ch chan<- prometheus.Metric) {
	up := 1.0
	if err := c.collect(ch); err != nil {
		// A detached fast path is a state to alert on, not a failed scrape.
		c.log.Warn("metrics: read fast path maps", "err", err)
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(fastPathUp, prometheus.GaugeValue, up)
}

func (c *fastPathCollector) collect(ch chan<- prometheus.Metric) error {
	cfg, err := c.src.Rule()
	if err != nil {
		return err
	}
	vs, err := c.src.Verdicts()
	if err != nil {
		return err
	}
	relays, err := c.src.Relays()
	if err != nil {
		return err
	}
	var buckets [256]loader.BucketStats
	if c.buckets {
		if buckets, err = c.src.Buckets(); err != nil {
			return err
		}
	}

	ch <- prometheus.MustNewConstMetric(fastPathInfo, prometheus.GaugeValue, 1, cfg.Role.String(), cfg.Rule.String())
	ch <- prometheus.MustNewConstMetric(fastPathThresh, prometheus.GaugeValue, float64(cfg.Threshold))
	ch <- prometheus.MustNewConstMetric(fastPathOwned, prometheus.GaugeValue, float64(cfg.HBA.Count(cfg.Role)))
	for r, n := range vs {
		reason := decide.Reason(r)
		action := "pass"
		if reason.Drops() {
			action = "drop"
		}
		ch <- prometheus.MustNewConstMetric(fastPathPackets, prometheus.CounterValue, float64(n), reason.String(), action)
	}
	if c.buckets {
		for b, s := range buckets {
			lb, owner := strconv.Itoa(b), cfg.HBA.Owner(uint8(b)).String()
			ch <- prometheus.MustNewConstMetric(bucketSeen, prometheus.CounterValue, float64(s.Seen), lb, owner)
			ch <- prometheus.MustNewConstMetric(bucketDropped, prometheus.CounterValue, float64(s.Dropped), lb, owner)
			ch <- prometheus.MustNewConstMetric(bucketOverridden, prometheus.CounterValue, float64(s.Overridden), lb, owner)
		}
	}
	for _, f := range c.rule.ForThreshold(cfg.Threshold).DiagnoseAll(relays).Relays {
		only := 0.0
		if f.Flagged() {
			only = 1
		}
		for _, v := range []struct {
			d   *prometheus.Desc
			t   prometheus.ValueType
			val float64
		}{
			{relayRequests, prometheus.CounterValue, float64(f.Requests)},
			{relayOwned, prometheus.CounterValue, float64(f.Owned)},
			{relayDropped, prometheus.CounterValue, float64(f.PartnerDropped)},
			{relayOverridden, prometheus.CounterValue, float64(f.PartnerOverridden)},
			{relayMaxSecs, prometheus.GaugeValue, float64(f.MaxOverrideSecs)},
			{relayLastSeen, prometheus.GaugeValue, float64(f.LastSeen.UnixNano()) / 1e9},
			{relayOnlyHere, prometheus.GaugeValue, only},
		} {
			ch <- prometheus.MustNewConstMetric(v.d, v.t, v.val, f.Name)
		}
	}
	return nil
}
