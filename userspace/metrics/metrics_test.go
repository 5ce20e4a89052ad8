package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// scrape serves m on a loopback port, GETs /metrics and parses the text
// exposition with the Prometheus parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- ServeListener(ctx, ln, m) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain") // the classic text format, not protobuf
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", Path, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

// value finds the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
		t.Fatalf("%s%v: not a counter or gauge", name, want)
	}
	t.Fatalf("%s: no sample with labels %v", name, want)
	return 0
}

func expect(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	if got := value(t, fams, name, labels); got != want {
		t.Errorf("%s%v = %g, want %g", name, labels, got, want)
	}
}

func TestDaemonHooksScraped(t *testing.T) {
	m := New(Options{Runtime: true})
	d := m.DHCP()
	for _, mt := range []dhcpv4.MessageType{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeDecline} {
		msg, err := dhcpv4.New(dhcpv4.WithMessageType(mt))
		if err != nil {
			t.Fatal(err)
		}
		d.Received(msg.MessageType())
	}
	d.Offered()
	d.Offered()
	d.Acked()
	d.Naked()
	d.Declined()
	m.ObserveStore("commit", 300*time.Microsecond)
	m.ObserveStore("commit", 2*time.Millisecond)
	stop := m.TimeStore("load")
	stop()
	contact := time.Unix(1_700_000_000, 500_000_000)
	m.SetPools(func() []Pool {
		return []Pool{{Name: "198.18.0.0/24", Share: "local", Free: 100, Total: 120}, {Name: "198.18.0.0/24", Share: "partner", Free: 90, Total: 120}}
	})
	m.SetFailover(func() Failover {
		return Failover{State: "communications-interrupted", PartnerState: "", LastContact: contact}
	})

	fams := scrape(t, m)
	expect(t, fams, "xdhcp_dhcp_received_total", map[string]string{"message_type": "discover"}, 2)
	expect(t, fams, "xdhcp_dhcp_received_total", map[string]string{"message_type": "request"}, 1)
	expect(t, fams, "xdhcp_dhcp_received_total", map[string]string{"message_type": "decline"}, 1)
	expect(t, fams, "xdhcp_dhcp_offers_total", nil, 2)
	expect(t, fams, "xdhcp_dhcp_acks_total", nil, 1)
	expect(t, fams, "xdhcp_dhcp_naks_total", nil, 1)
	expect(t, fams, "xdhcp_dhcp_declines_total", nil, 1)
	expect(t, fams, "xdhcp_pool_free_addresses", map[string]string{"pool": "198.18.0.0/24", "share": "partner"}, 90)
	expect(t, fams, "xdhcp_pool_addresses", map[string]string{"share": "local"}, 120)
	expect(t, fams, "xdhcp_failover_state", map[string]string{"state": "communications-interrupted"}, 1)
	expect(t, fams, "xdhcp_failover_state", map[string]string{"state": "normal"}, 0)
	expect(t, fams, "xdhcp_failover_last_contact_timestamp_seconds", nil, 1_700_000_000.5)
	if _, ok := fams["xdhcp_failover_partner_state"]; ok {
		t.Error("partner state exposed although unknown")
	}
	if n := len(fams["xdhcp_failover_state"].GetMetric()); n != len(states()) {
		t.Errorf("failover state set has %d series, want one per state (%d)", n, len(states()))
	}

	h := fams["xdhcp_lease_store_duration_seconds"]
	if h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("lease store latency type %s", h.GetType())
	}
	for _, mm := range h.GetMetric() {
		op := mm.GetLabel()[0].GetValue()
		want := map[string]uint64{"commit": 2, "load": 1}[op]
		if mm.GetHistogram().GetSampleCount() != want {
			t.Errorf("lease store %s: %d samples, want %d", op, mm.GetHistogram().GetSampleCount(), want)
		}
		if op == "commit" {
			if got := mm.GetHistogram().GetSampleSum(); got < 0.0023 || got > 0.0023001 {
				t.Errorf("commit latency sum %g, want 0.0023", got)
			}
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("runtime collectors missing")
	}
	if _, ok := fams["xdhcp_fastpath_up"]; ok {
		t.Error("fast path metrics without a fast path")
	}
}

func TestNilMetricsIsOff(t *testing.T) {
	var m *Metrics
	m.DHCP().Received(dhcpv4.MessageTypeDiscover)
	m.DHCP().Offered()
	m.ObserveStore("commit", time.Millisecond)
	m.TimeStore("commit")()
	m.SetPools(nil)
	m.SetFailover(nil)
	m.SetDrops(nil)
	m.SetStoreFaults(nil)
}

// The responder's drops and the store's failed commits, read on scrape.
func TestDropsAndStoreFaultsScraped(t *testing.T) {
	m := New(Options{})
	if _, ok := scrape(t, m)["xdhcp_dhcp_dropped_total"]; ok {
		t.Fatal("drops exposed before the daemon registered them")
	}
	drops := map[string]uint64{"relay_rate": 4881, "client_rate": 3, "pool_reserve": 69, "not_stored": 2}
	m.SetDrops(func() map[string]uint64 { return drops })
	m.SetStoreFaults(func() StoreFaults { return StoreFaults{FailedTransactions: 5, LeasesNotStored: 7} })
	fams := scrape(t, m)
	for reason, n := range drops {
		expect(t, fams, "xdhcp_dhcp_dropped_total", map[string]string{"reason": reason}, float64(n))
	}
	expect(t, fams, "xdhcp_lease_store_failed_transactions_total", nil, 5)
	expect(t, fams, "xdhcp_lease_store_leases_not_stored_total", nil, 7)
	drops["relay_rate"]++ // read again on the next scrape
	expect(t, scrape(t, m), "xdhcp_dhcp_dropped_total", map[string]string{"reason": "relay_rate"}, 4882)
}

type brokenFastPath struct{ FastPath }

func (brokenFastPath) Rule() (decide.Rule, error) {
	return decide.Rule{}, errors.New("map gone")
}

func TestFastPathDownIsAGauge(t *testing.T) {
	m := New(Options{FastPath: brokenFastPath{}})
	fams := scrape(t, m)
	expect(t, fams, "xdhcp_fastpath_up", nil, 0)
	if _, ok := fams["xdhcp_fastpath_packets_total"]; ok {
		t.Error("packet counters exposed from an unreadable fast path")
	}
}

func TestServeBadAddress(t *testing.T) {
	err := Serve(context.Background(), "127.0.0.1:notaport", New(Options{}))
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:notaport") {
		t.Fatalf("want an error naming the address, got %v", err)
	}
}

// The kernel's counters, read through loader.Maps on scrape: a secondary
// with threshold 6 sees a partner-owned client from relay A at secs 0..9
// (6 dropped, 4 overridden) and one from relay B at secs 0..5 (6 dropped),
// plus one owned client direct.
func TestFastPathCountersScraped(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs (run as root; CI does)")
	}
	p, err := loader.Load(loader.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg := decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: decide.Normal, RelayStats: true}
	if err := p.SetRule(cfg); err != nil {
		t.Fatal(err)
	}
	var partner, mine net.HardwareAddr
	for i := 0; partner == nil || mine == nil; i++ {
		mac := net.HardwareAddr{0x02, 0x18, 0, 0, 0, byte(i)}
		if cfg.Owns(decide.Bucket(mac)) {
			mine = mac
		} else {
			partner = mac
		}
	}
	send := func(mac net.HardwareAddr, giaddr net.IP, secs ...uint16) {
		for _, s := range secs {
			f := frames.Discover(mac, s, dhcpv4.WithGatewayIP(giaddr))
			if _, err := p.XDP().Run(&ebpf.RunOptions{Data: f}); err != nil {
				t.Fatal(err)
			}
		}
	}
	relayA, relayB := net.IPv4(198, 18, 7, 1), net.IPv4(198, 18, 8, 1)
	send(partner, relayA, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	send(partner, relayB, 0, 1, 2, 3, 4, 5)
	send(mine, net.IPv4zero, 0)

	fams := scrape(t, New(Options{FastPath: p.Maps, Buckets: true}))
	expect(t, fams, "xdhcp_fastpath_up", nil, 1)
	expect(t, fams, "xdhcp_fastpath_packets_total", map[string]string{"reason": "partner-dropped", "action": "drop"}, 12)
	expect(t, fams, "xdhcp_fastpath_packets_total", map[string]string{"reason": "secs-override", "action": "pass"}, 4)
	expect(t, fams, "xdhcp_fastpath_packets_total", map[string]string{"reason": "owned"}, 1)
	expect(t, fams, "xdhcp_fastpath_config_info", map[string]string{"role": "secondary", "state": "normal"}, 1)
	expect(t, fams, "xdhcp_fastpath_threshold_seconds", nil, 6)
	expect(t, fams, "xdhcp_fastpath_owned_buckets", nil, 128)
	pb := fmt.Sprint(decide.Bucket(partner))
	expect(t, fams, "xdhcp_fastpath_bucket_requests_total", map[string]string{"bucket": pb, "owner": "primary"}, 16)
	expect(t, fams, "xdhcp_fastpath_bucket_overridden_total", map[string]string{"bucket": pb}, 4)
	expect(t, fams, "xdhcp_fastpath_relay_requests_total", map[string]string{"relay": "198.18.7.1"}, 10)
	expect(t, fams, "xdhcp_fastpath_relay_partner_dropped_total", map[string]string{"relay": "198.18.7.1"}, 6)
	expect(t, fams, "xdhcp_fastpath_relay_partner_overridden_total", map[string]string{"relay": "198.18.7.1"}, 4)
	expect(t, fams, "xdhcp_fastpath_relay_max_override_secs", map[string]string{"relay": "198.18.7.1"}, 9)
	expect(t, fams, "xdhcp_fastpath_relay_forwards_only_here", map[string]string{"relay": "198.18.7.1"}, 1)
	expect(t, fams, "xdhcp_fastpath_relay_partner_dropped_total", map[string]string{"relay": "198.18.8.1"}, 6)
	expect(t, fams, "xdhcp_fastpath_relay_forwards_only_here", map[string]string{"relay": "198.18.8.1"}, 0)
	expect(t, fams, "xdhcp_fastpath_relay_owned_total", map[string]string{"relay": "direct"}, 1)
	if ts := value(t, fams, "xdhcp_fastpath_relay_last_seen_timestamp_seconds", map[string]string{"relay": "direct"}); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("relay last seen %g is not now", ts)
	}
}
