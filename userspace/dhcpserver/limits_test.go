package dhcpserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }

// clockedServer is a server over yaml whose limiter and store share a fake
// clock (nil: the real one).
func clockedServer(t testing.TB, yaml string, clk *fakeClock, edit func(*config.Config)) (*Server, *lease.Store) {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DB = filepath.Join(t.TempDir(), "leases.db")
	if edit != nil {
		edit(cfg)
	}
	o := lease.Options{Pools: cfg.Pools(), HBA: decide.MustSplit(256)}
	if clk != nil {
		o.Now = clk.now
	}
	st, err := lease.Open(cfg.DB, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(cfg, st, nil)
	if clk != nil {
		s.now = clk.now
	}
	return s, st
}

func randomMAC(r *rand.Rand) net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	for i := range m {
		m[i] = byte(r.UintN(256))
	}
	m[0] = m[0]&^1 | 2 // unicast, locally administered
	return m
}

func newDiscover(m net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	d, _ := dhcpv4.NewDiscovery(m, mods...)
	return d
}

func msgType(r *dhcpv4.DHCPv4) dhcpv4.MessageType {
	if r == nil {
		return dhcpv4.MessageTypeNone
	}
	return r.MessageType()
}

// TestLimiter: the token buckets, table-driven over a fake clock.
func TestLimiter(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	type step struct {
		at                    time.Duration // since t0
		relay, client         string
		want                  verdict
		clientRate, relayRate float64 // rates for this step (a reload between steps)
	}
	for _, tc := range []struct {
		name  string
		burst int
		steps []step
	}{
		{"client burst then refused, refilled after 1/rate", 2, []step{
			{0, "r", "a", allowed, 1, 0}, {0, "r", "a", allowed, 1, 0}, {0, "r", "a", overClient, 1, 0},
			{999 * time.Millisecond, "r", "a", overClient, 1, 0}, {time.Second, "r", "a", allowed, 1, 0},
			{0, "r", "b", allowed, 1, 0}, // another client has its own bucket
		}},
		{"relay burst shared by its clients, other relays unaffected", 2, []step{
			{0, "r1", "a", allowed, 0, 10}, {0, "r1", "b", allowed, 0, 10}, {0, "r1", "c", overRelay, 0, 10},
			{0, "r2", "c", allowed, 0, 10}, {100 * time.Millisecond, "r1", "c", allowed, 0, 10},
		}},
		{"a client refused by its limit does not use the relay's tokens", 1, []step{
			{0, "r", "a", allowed, 1, 1}, {0, "r", "a", overClient, 1, 1}, {0, "r", "a", overClient, 1, 1},
			{500 * time.Millisecond, "r", "b", overRelay, 1, 1}, {time.Second, "r", "b", allowed, 1, 1},
		}},
		{"reload: a drained bucket stays drained, the new rate refills it", 1, []step{
			{0, "r", "a", allowed, 0.1, 0}, {time.Second, "r", "a", overClient, 0.1, 0},
			{time.Second, "r", "a", overClient, 1, 0}, // same instant, new rate: nothing refilled yet
			{2 * time.Second, "r", "a", allowed, 1, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l limiter
			for i, s := range tc.steps {
				lim := config.Limits{ClientRate: s.clientRate, RelayRate: s.relayRate, ClientBurst: tc.burst, RelayBurst: tc.burst}
				if got := l.allow(t0.Add(s.at), lim, s.relay, s.client); got != s.want {
					t.Fatalf("step %d (%+v): %v, want %v", i, s, got, s.want)
				}
			}
		})
	}
}

// TestLimiterTableBounded: 20,000 random client ids keep at most
// clients-tracked buckets; a client seen all along keeps its own.
func TestLimiterTableBounded(t *testing.T) {
	var l limiter
	lim := config.Limits{ClientRate: 1, ClientBurst: 1, Tracked: 100}
	t0 := time.Unix(1e9, 0)
	r := rand.New(rand.NewPCG(1, 2))
	if l.allow(t0, lim, "r", "hot") != allowed {
		t.Fatal("first request refused")
	}
	for i := range 20000 {
		l.allow(t0, lim, "r", string(randomMAC(r)))
		if i%50 == 0 && l.allow(t0, lim, "r", "hot") != overClient {
			t.Fatalf("after %d others the hot client got a fresh bucket", i)
		}
	}
	if n := l.clients.len(); n > lim.Tracked {
		t.Fatalf("%d clients tracked, cap %d", n, lim.Tracked)
	}
}

const limitsConfig = `
lease-time: 1h
offer-hold: 1h
subnets:
  - subnet: 198.18.1.0/24
    ranges: [198.18.1.10-198.18.1.109]
    reservations: [{mac: "02:00:00:00:00:07", ip: 198.18.1.5}]
  - subnet: 198.18.5.0/24
    ranges: [198.18.5.10-198.18.5.20]
`

// TestLimitsExemptions: what is and is not rate-limited, through the handlers.
func TestLimitsExemptions(t *testing.T) {
	clk := &fakeClock{time.Unix(1e9, 0)}
	s, _ := clockedServer(t, limitsConfig, clk, func(c *config.Config) {
		c.Limits = config.Limits{ClientRate: 0.001, ClientBurst: 1, RelayRate: 0.001, RelayBurst: 2}
	})
	m := mac("02:00:00:00:00:01")
	_, ack := dora(t, s, m) // the client's token and one of the relay's
	for i := range 3 {
		renew, _ := dhcpv4.New(dhcpv4.WithHwAddr(m), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithClientIP(ack.YourIPAddr))
		if r := handle(t, s, renew); msgType(r) != dhcpv4.MessageTypeAck {
			t.Fatalf("renewal %d: %v", i, r)
		}
		reboot, _ := dhcpv4.New(dhcpv4.WithHwAddr(m), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ack.YourIPAddr)))
		if r := handle(t, s, reboot); msgType(r) != dhcpv4.MessageTypeAck {
			t.Fatalf("INIT-REBOOT %d: %v", i, r)
		}
		// A bound client's DISCOVER takes nothing from the pool.
		if r := handle(t, s, newDiscover(m)); msgType(r) != dhcpv4.MessageTypeOffer {
			t.Fatalf("bound client's DISCOVER %d: %v", i, r)
		}
		if _, a := dora(t, s, mac("02:00:00:00:00:07")); a.YourIPAddr.String() != "198.18.1.5" {
			t.Fatalf("reservation %d: %v", i, a.YourIPAddr)
		}
	}
	// A new client: its DISCOVER uses the relay's last token; its REQUEST
	// for the offered address is not charged again.
	dora(t, s, mac("02:00:00:00:00:02"))
	// Another new client is over the relay's limit, both for DISCOVER and
	// for a REQUEST naming a free address it was never offered.
	if r := handle(t, s, newDiscover(mac("02:00:00:00:00:03"))); r != nil {
		t.Fatalf("over the relay's limit, offered %v", r.YourIPAddr)
	}
	grab, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("02:00:00:00:00:03")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 18, 1, 99))))
	if r := handle(t, s, grab); r != nil {
		t.Fatalf("REQUEST for a new address over the limit: %v", r)
	}
	// The first client, unbound, DISCOVERs again: over its own limit.
	rel, _ := dhcpv4.NewReleaseFromACK(ack)
	handle(t, s, rel)
	if r := handle(t, s, newDiscover(m)); r != nil {
		t.Fatalf("released client over its limit offered %v", r.YourIPAddr)
	}
	d := s.Drops()
	if d.RelayRate != 2 || d.ClientRate != 1 {
		t.Fatalf("drops %+v, want 2 relay and 1 client", d)
	}
}

// stormResult is what the clients that matter got during and after a storm.
type stormResult struct {
	renewals, renewed       int
	returning, returned     int
	reservationOK, otherOK  bool
	floodDiscovers, floodOK int // flood DISCOVERs sent, flood clients bound
	drops                   Drops
}

// storm runs a DISCOVER flood from random MACs through one relay (1000/s
// on the fake clock, each offer followed by its REQUEST, as dhcpstarv does)
// while 40 bound clients renew, a reserved client and a client of another
// relay do DORA; afterwards 10 clients that released their addresses
// before the storm come back.
func storm(t *testing.T, limits config.Limits, flood int) stormResult {
	clk := &fakeClock{time.Unix(1e9, 0)}
	s, _ := clockedServer(t, limitsConfig, clk, func(c *config.Config) { c.Limits = limits })
	relayA := dhcpv4.WithRelay(net.IPv4(198, 18, 1, 1))
	relayB := dhcpv4.WithRelay(net.IPv4(198, 18, 5, 1))
	var bound []net.IP
	for i := range 40 {
		_, ack := dora(t, s, mac(fmt.Sprintf("02:00:00:00:01:%02x", i)), relayA)
		bound = append(bound, ack.YourIPAddr)
		clk.add(time.Second)
	}
	var returning []net.HardwareAddr
	for i := range 10 {
		m := mac(fmt.Sprintf("02:00:00:00:02:%02x", i))
		_, ack := dora(t, s, m, relayA)
		rel, _ := dhcpv4.NewReleaseFromACK(ack)
		handle(t, s, rel)
		returning = append(returning, m)
		clk.add(time.Second)
	}
	clk.add(time.Minute)
	var res stormResult
	r := rand.New(rand.NewPCG(7, 8))
	for i := range flood {
		res.floodDiscovers++
		offer := handle(t, s, newDiscover(randomMAC(r), relayA))
		if offer != nil {
			req, _ := dhcpv4.NewRequestFromOffer(offer, relayA)
			if msgType(handle(t, s, req)) == dhcpv4.MessageTypeAck {
				res.floodOK++
			}
		}
		clk.add(time.Millisecond)
		if i%(flood/len(bound)) == 0 && res.renewals < len(bound) {
			b := bound[res.renewals]
			res.renewals++
			renew, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(fmt.Sprintf("02:00:00:00:01:%02x", res.renewals-1))),
				dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithClientIP(b))
			if a := handle(t, s, renew); msgType(a) == dhcpv4.MessageTypeAck && a.YourIPAddr.Equal(b) {
				res.renewed++
			}
		}
		if i == flood/2 {
			res.reservationOK = doraOK(t, s, mac("02:00:00:00:00:07"), "198.18.1.5", relayA)
			res.otherOK = doraOK(t, s, mac("02:00:00:00:03:01"), "", relayB)
		}
	}
	clk.add(10 * time.Second) // the storm is over
	for _, m := range returning {
		res.returning++
		if doraOK(t, s, m, "", relayA) {
			res.returned++
		}
	}
	res.drops = s.Drops()
	return res
}

// doraOK says whether m got an OFFER and an ACK (for want, if given).
func doraOK(t *testing.T, s *Server, m net.HardwareAddr, want string, mods ...dhcpv4.Modifier) bool {
	t.Helper()
	offer := handle(t, s, newDiscover(m, mods...))
	if offer == nil {
		return false
	}
	req, _ := dhcpv4.NewRequestFromOffer(offer, mods...)
	ack := handle(t, s, req)
	return msgType(ack) == dhcpv4.MessageTypeAck && (want == "" || ack.YourIPAddr.String() == want)
}

// TestStormStarvation shows the effect of the limits: the same flood of
// 5000 DISCOVERs from random MACs without limits takes every free address,
// so clients coming back find none; with per-relay and per-client limits
// and a pool reserve the flood gets at most what the rate and the reserve
// allow, and everyone else is served. Renewals and the reservation are
// served either way (they never needed a free address).
func TestStormStarvation(t *testing.T) {
	const flood = 5000
	const pool, bound = 100, 40 // limitsConfig's first range; storm binds 40
	const rate, burst = 20, 20
	reserve := lease.Reserve{Percent: 10}

	off := storm(t, config.Limits{}, flood)
	t.Logf("no limits: %+v", off)
	if off.floodOK != pool-bound {
		t.Errorf("no limits: the flood bound %d addresses, want all %d free ones", off.floodOK, pool-bound)
	}
	if off.returned != 0 || off.drops.NoAddress == 0 {
		t.Errorf("no limits: %d of %d returning clients served (want 0: pool exhausted), no-address drops %d",
			off.returned, off.returning, off.drops.NoAddress)
	}

	on := storm(t, config.Limits{RelayRate: rate, RelayBurst: burst, ClientRate: 1, ClientBurst: 2, PoolReserve: reserve}, flood)
	t.Logf("limits: %+v", on)
	if on.returned != on.returning {
		t.Errorf("limits: %d of %d returning clients served", on.returned, on.returning)
	}
	keep := reserve.Of(pool)
	if on.floodOK != pool-bound-keep {
		t.Errorf("limits: the flood bound %d addresses, want the free ones but the reserve: %d", on.floodOK, pool-bound-keep)
	}
	// The relay's bucket allowed at most burst + rate x the flood's length.
	allowed := on.floodDiscovers - int(on.drops.RelayRate)
	if most := burst + rate*flood/1000 + 1; allowed > most || on.drops.RelayRate == 0 {
		t.Errorf("limits: %d flood DISCOVERs passed the relay limit (at most %d), %d dropped", allowed, most, on.drops.RelayRate)
	}
	if on.drops.PoolReserve == 0 || int(on.drops.RelayRate+on.drops.PoolReserve) != on.floodDiscovers-on.floodOK {
		t.Errorf("limits: drops %+v do not account for the %d unserved flood DISCOVERs", on.drops, on.floodDiscovers-on.floodOK)
	}
	for name, r := range map[string]stormResult{"no limits": off, "limits": on} {
		if r.renewed != r.renewals || r.renewals != bound || !r.reservationOK || !r.otherOK {
			t.Errorf("%s: renewed %d of %d, reservation %v, other relay's client %v", name, r.renewed, r.renewals, r.reservationOK, r.otherOK)
		}
	}
}

// TestReloadKeepsLimiterState: SetConfig swaps the limits in place; the
// buckets keep their levels and the new settings apply to the next request.
func TestReloadKeepsLimiterState(t *testing.T) {
	clk := &fakeClock{time.Unix(1e9, 0)}
	s, _ := clockedServer(t, limitsConfig, clk, func(c *config.Config) {
		c.Limits = config.Limits{RelayRate: 1, RelayBurst: 3}
	})
	ctx := context.Background()
	ask := func(m string) bool {
		return s.Handle(ctx, newDiscover(mac(m), dhcpv4.WithRelay(net.IPv4(198, 18, 1, 1))), meta) != nil
	}
	for i := range 3 {
		if !ask(fmt.Sprintf("02:00:00:00:04:%02x", i)) {
			t.Fatalf("within the burst, %d refused", i)
		}
	}
	if ask("02:00:00:00:04:10") {
		t.Fatal("over the burst, offered")
	}
	// Reload with the same limits and another lease time: still drained.
	next := *s.Config()
	next.LeaseTime = 2 * time.Hour
	s.SetConfig(&next)
	if ask("02:00:00:00:04:11") {
		t.Fatal("a reload refilled the relay's bucket")
	}
	// Limits off: served at once; back on: the bucket is where it was.
	off := next
	off.Limits = config.Limits{}
	s.SetConfig(&off)
	if !ask("02:00:00:00:04:12") {
		t.Fatal("limits off, still refused")
	}
	s.SetConfig(&next)
	if ask("02:00:00:00:04:13") {
		t.Fatal("limits back on: bucket refilled without time passing")
	}
	clk.add(time.Second)
	if !ask("02:00:00:00:04:14") {
		t.Fatal("a second later (1/s), still refused")
	}
	if d := s.Drops(); d.RelayRate != 3 {
		t.Fatalf("relay drops %d, want 3", d.RelayRate)
	}
}
