package ddns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// RFC 4701 section 3.6's examples.
func TestDHCIDVectors(t *testing.T) {
	for _, tc := range []struct {
		client lease.ClientID
		hwaddr string
		name   string
		want   string
	}{
		// htype 1, chaddr 01:02:03:04:05:06 (identifier type 0).
		{lease.ClientID{1, 1, 2, 3, 4, 5, 6}, "01:02:03:04:05:06", "client.example.com.", "AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY="},
		// client identifier option 01:07:08:09:0a:0b:0c (type 1).
		{lease.ClientID{1, 7, 8, 9, 10, 11, 12}, "02:00:00:00:00:01", "chi.example.com.", "AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No="},
	} {
		if got := DHCID(tc.client, tc.hwaddr, tc.name); got != tc.want {
			t.Errorf("DHCID(%x, %s): %s, want %s", tc.client, tc.name, got, tc.want)
		}
	}
}

// zone is a minimal RFC 2136 server over a map: enough prerequisite and
// update kinds for what the updater sends, and TSIG checked.
type zone struct {
	mu      sync.Mutex
	rrs     map[string][]dns.RR // by owner name
	updates int
	badTSIG int
}

func (z *zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	z.mu.Lock()
	defer z.mu.Unlock()
	switch {
	case r.IsTsig() == nil || w.TsigStatus() != nil:
		z.badTSIG++
		m.Rcode = dns.RcodeNotAuth
	case r.Opcode == dns.OpcodeUpdate:
		z.updates++
		m.Rcode = z.update(r)
	default:
		q := r.Question[0]
		for _, rr := range z.rrs[q.Name] {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if r.IsTsig() != nil {
		m.SetTsig(r.Extra[len(r.Extra)-1].(*dns.TSIG).Hdr.Name, dns.HmacSHA256, 300, time.Now().Unix())
	}
	w.WriteMsg(m)
}

func (z *zone) update(r *dns.Msg) int {
	for _, p := range r.Answer {
		h := p.Header()
		switch {
		case h.Class == dns.ClassNONE && h.Rrtype == dns.TypeANY:
			if len(z.rrs[h.Name]) > 0 {
				return dns.RcodeYXDomain
			}
		case h.Class == dns.ClassINET:
			found := false
			for _, rr := range z.rrs[h.Name] {
				found = found || sameRdata(rr, p)
			}
			if !found {
				return dns.RcodeNXRrset
			}
		}
	}
	for _, u := range r.Ns {
		h := u.Header()
		var keep []dns.RR
		for _, rr := range z.rrs[h.Name] {
			drop := (h.Class == dns.ClassANY && rr.Header().Rrtype == h.Rrtype) ||
				(h.Class == dns.ClassNONE && sameRdata(rr, u))
			if !drop {
				keep = append(keep, rr)
			}
		}
		if h.Class == dns.ClassINET {
			c := dns.Copy(u)
			keep = append(keep, c)
		}
		z.rrs[h.Name] = keep
	}
	return dns.RcodeSuccess
}

func sameRdata(a, b dns.RR) bool {
	if a.Header().Rrtype != b.Header().Rrtype {
		return false
	}
	x, y := dns.Copy(a), dns.Copy(b)
	x.Header().Ttl, y.Header().Ttl = 0, 0
	x.Header().Class, y.Header().Class = dns.ClassINET, dns.ClassINET
	return dns.IsDuplicate(x, y)
}

func (z *zone) has(name string, typ uint16) []dns.RR {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []dns.RR
	for _, rr := range z.rrs[dns.Fqdn(name)] {
		if rr.Header().Rrtype == typ {
			out = append(out, rr)
		}
	}
	return out
}

const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="

func startZone(t *testing.T) (*zone, netip.AddrPort) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z := &zone{rrs: map[string][]dns.RR{}}
	srv := &dns.Server{PacketConn: pc, Handler: z, TsigSecret: map[string]string{"k.": secret},
		MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return z, netip.MustParseAddrPort(pc.LocalAddr().String())
}

type memStore struct {
	mu sync.Mutex
	m  map[netip.Addr]lease.Lease
}

func (s *memStore) Get(ip netip.Addr) (lease.Lease, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[ip]
	return l, ok
}

func (s *memStore) All() []lease.Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []lease.Lease
	for _, l := range s.m {
		out = append(out, l)
	}
	return out
}

func (s *memStore) put(l lease.Lease) { s.mu.Lock(); s.m[l.IP] = l; s.mu.Unlock() }

var me = netip.MustParseAddr("198.18.0.1")

func binding(ip, mac, name string, start time.Time, lt time.Duration) lease.Lease {
	hw, _ := net.ParseMAC(mac)
	return lease.Lease{IP: netip.MustParseAddr(ip), Client: append(lease.ClientID{1}, hw...), HWAddr: mac, DNSName: name,
		State: lease.Bound, Start: start, Expiry: start.Add(lt), IssuedBy: lease.Issuer{ServerID: me}}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runUpdater runs an updater over st until the test ends.
func runUpdater(t *testing.T, cfg *config.DDNS, st *memStore) *Updater {
	u := New(Options{Config: func() *config.DDNS { return cfg }, Store: st, Me: me})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go u.Run(ctx)
	return u
}

// lab is a zone server and an updater configuration pointing at it.
func lab(t *testing.T, reverse string) (*zone, *config.DDNS) {
	z, addr := startZone(t)
	return z, &config.DDNS{Server: addr, Zone: "lab.example.", ReverseZone: reverse, TSIGName: "k.",
		TSIGAlgorithm: "hmac-sha256", TSIGSecret: secret, TTL: time.Minute, Timeout: time.Second}
}

func TestUpdaterAddsRemovesAndRespectsOwners(t *testing.T) {
	z, cfg := lab(t, "19.198.in-addr.arpa.")
	st := &memStore{m: map[netip.Addr]lease.Lease{}}
	u := runUpdater(t, cfg, st)

	now := time.Now()
	a := binding("198.19.0.10", "02:00:00:00:00:0a", "host-a.lab.example.", now, time.Hour)
	st.put(a)
	u.Observe(a)
	waitUntil(t, "A, DHCID and PTR of host-a", func() bool {
		return len(z.has("host-a.lab.example", dns.TypeA)) == 1 && len(z.has("host-a.lab.example", dns.TypeDHCID)) == 1 &&
			len(z.has("10.0.19.198.in-addr.arpa", dns.TypePTR)) == 1
	})
	if got := z.has("host-a.lab.example", dns.TypeA)[0].(*dns.A).A.String(); got != "198.19.0.10" {
		t.Fatalf("A record %s", got)
	}
	// Another client asking for the same name: RFC 4703 leaves it alone.
	b := binding("198.19.0.11", "02:00:00:00:00:0b", "host-a.lab.example.", now, time.Hour)
	st.put(b)
	u.Observe(b)
	waitUntil(t, "the conflict", func() bool { return u.Stats().Conflicts == 1 })
	if as := z.has("host-a.lab.example", dns.TypeA); len(as) != 1 || as[0].(*dns.A).A.String() != "198.19.0.10" {
		t.Fatalf("the other client's update changed the name: %v", as)
	}
	// The same client moving to a new address replaces its A record.
	a2 := binding("198.19.0.12", "02:00:00:00:00:0a", "host-a.lab.example.", now, time.Hour)
	a.State = lease.Released
	st.put(a)
	u.Observe(a)
	st.put(a2)
	u.Observe(a2)
	waitUntil(t, "host-a at its new address", func() bool {
		as := z.has("host-a.lab.example", dns.TypeA)
		return len(as) == 1 && as[0].(*dns.A).A.String() == "198.19.0.12" && len(z.has("10.0.19.198.in-addr.arpa", dns.TypePTR)) == 0
	})
	// Release: gone.
	a2.State = lease.Released
	st.put(a2)
	u.Observe(a2)
	waitUntil(t, "host-a removed", func() bool {
		return len(z.has("host-a.lab.example", dns.TypeA)) == 0 && len(z.has("host-a.lab.example", dns.TypeDHCID)) == 0 &&
			len(z.has("12.0.19.198.in-addr.arpa", dns.TypePTR)) == 0
	})
	if s := u.Stats(); s.Added != 2 || s.Removed != 2 || s.Failed != 0 || z.badTSIG != 0 {
		t.Fatalf("stats %+v, bad TSIG %d", s, z.badTSIG)
	}
}

func TestUpdaterExpiry(t *testing.T) {
	z, cfg := lab(t, "")
	st := &memStore{m: map[netip.Addr]lease.Lease{}}
	u := runUpdater(t, cfg, st)
	now := time.Now()
	short := binding("198.19.0.20", "02:00:00:00:00:20", "short.lab.example.", now, 300*time.Millisecond)
	// Taken over: the partner renewed it before it expired here.
	taken := binding("198.19.0.21", "02:00:00:00:00:21", "taken.lab.example.", now, 300*time.Millisecond)
	for _, l := range []lease.Lease{short, taken} {
		st.put(l)
		u.Observe(l)
	}
	waitUntil(t, "both registered", func() bool { return u.Stats().Added == 2 })
	renewed := taken
	renewed.Start, renewed.Expiry, renewed.IssuedBy.ServerID = now.Add(100*time.Millisecond), now.Add(time.Hour), netip.MustParseAddr("198.18.0.2")
	st.put(renewed)
	waitUntil(t, "the expired name removed", func() bool { return len(z.has("short.lab.example", dns.TypeA)) == 0 })
	time.Sleep(100 * time.Millisecond)
	if len(z.has("taken.lab.example", dns.TypeA)) != 1 {
		t.Fatal("removed a name whose binding the partner renewed")
	}
}

func TestObserveNeverBlocks(t *testing.T) {
	u := New(Options{Config: func() *config.DDNS { return nil }, Store: &memStore{}, Queue: 2})
	start := time.Now()
	for i := range 10 {
		u.Observe(binding("198.19.0.30", "02:00:00:00:00:30", strings.Repeat("x", i+1)+".lab.example.", start, time.Hour))
	}
	if s := u.Stats(); s.Queued != 2 || s.Dropped != 8 || time.Since(start) > time.Second {
		t.Fatalf("stats %+v after %v", s, time.Since(start))
	}
}

// A binding that expired while the daemon was down loses its name when
// the next updater starts; one still bound keeps it.
func TestRestartRemovesWhatExpiredWhileDown(t *testing.T) {
	z, cfg := lab(t, "")
	st := &memStore{m: map[netip.Addr]lease.Lease{}}
	ctx, cancel := context.WithCancel(context.Background())
	u := New(Options{Config: func() *config.DDNS { return cfg }, Store: st, Me: me})
	go u.Run(ctx)
	now := time.Now()
	gone := binding("198.19.0.40", "02:00:00:00:00:40", "gone.lab.example.", now, time.Hour)
	kept := binding("198.19.0.41", "02:00:00:00:00:41", "kept.lab.example.", now, time.Hour)
	for _, l := range []lease.Lease{gone, kept} {
		st.put(l)
		u.Observe(l)
	}
	waitUntil(t, "both registered", func() bool { return u.Stats().Added == 2 })
	cancel()
	gone.Expiry = now.Add(-time.Minute)
	st.put(gone)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go New(Options{Config: func() *config.DDNS { return cfg }, Store: st, Me: me}).Run(ctx)
	waitUntil(t, "the expired name removed", func() bool { return len(z.has("gone.lab.example", dns.TypeA)) == 0 })
	if len(z.has("kept.lab.example", dns.TypeA)) != 1 {
		t.Fatal("a bound lease's name was removed at restart")
	}
}
