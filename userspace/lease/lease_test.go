package lease

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

var subnet = netip.MustParsePrefix("198.18.1.0/24")

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func ip(s string) netip.Addr         { return netip.MustParseAddr(s) }
func cid(s string) ClientID          { return ClientID(s) }
func rng(s string) Range             { r, err := ParseRange(s); must(err); return r }
func must(err error) {
	if err != nil {
		panic(err)
	}
}
func pools(ranges ...string) []Pool {
	p := Pool{Subnet: subnet}
	for _, r := range ranges {
		p.Ranges = append(p.Ranges, rng(r))
	}
	return []Pool{p}
}

// open opens a store in dir (a fresh one when dir is "") with a fake clock.
func open(t testing.TB, dir string, c *clock, o Options) (*Store, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	o.Now = c.now
	if o.HBA == (decide.HBA{}) && o.Role == decide.Primary {
		o.HBA = decide.MustSplit(256)
	}
	s, err := Open(filepath.Join(dir, "leases.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func offerTo(t *testing.T, s *Store, client string, mods ...func(*OfferRequest)) netip.Addr {
	t.Helper()
	r := OfferRequest{Subnet: subnet, Client: cid(client), Hold: 10 * time.Second}
	for _, m := range mods {
		m(&r)
	}
	a, err := s.Offer(r)
	if err != nil {
		t.Fatalf("offer to %s: %v", client, err)
	}
	return a
}

func bind(t *testing.T, s *Store, client string, a netip.Addr, lt time.Duration) Lease {
	t.Helper()
	l, err := s.Bind(BindRequest{Subnet: subnet, Client: cid(client), IP: a, LeaseTime: lt})
	if err != nil {
		t.Fatalf("bind %v to %s: %v", a, client, err)
	}
	return l
}

func TestShare(t *testing.T) {
	for _, tc := range []struct {
		split     int
		role      decide.Role
		r, want   string
		wantEmpty bool
	}{
		{128, decide.Primary, "198.18.1.10-198.18.1.19", "198.18.1.10-198.18.1.14", false},
		{128, decide.Secondary, "198.18.1.10-198.18.1.19", "198.18.1.15-198.18.1.19", false},
		{256, decide.Primary, "198.18.1.10-198.18.1.19", "198.18.1.10-198.18.1.19", false},
		{256, decide.Secondary, "198.18.1.10-198.18.1.19", "", true},
		{0, decide.Secondary, "198.18.1.10-198.18.1.19", "198.18.1.10-198.18.1.19", false},
		{64, decide.Primary, "198.18.1.0-198.18.1.255", "198.18.1.0-198.18.1.63", false},
		{128, decide.Primary, "198.18.1.10", "", true},
		{128, decide.Secondary, "198.18.1.10", "198.18.1.10-198.18.1.10", false},
	} {
		own, ok := Share(rng(tc.r), decide.MustSplit(tc.split), tc.role)
		if ok == tc.wantEmpty || (ok && own.String() != tc.want) {
			t.Errorf("split %d %s of %s: got %v ok=%v, want %q", tc.split, tc.role, tc.r, own, ok, tc.want)
		}
	}
}

func TestParseRangeErrors(t *testing.T) {
	for _, s := range []string{"", "x-198.18.1.1", "198.18.1.5-198.18.1.1", "198.18.1.1-2001::1"} {
		if _, err := ParseRange(s); err == nil {
			t.Errorf("ParseRange(%q) succeeded", s)
		}
	}
}

func TestSecondaryAllocatesUpperHalf(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	s, _ := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.19"), HBA: decide.MustSplit(128), Role: decide.Secondary})
	seen := map[netip.Addr]bool{}
	for i := range 5 {
		a := offerTo(t, s, fmt.Sprint("c", i))
		if !rng("198.18.1.15-198.18.1.19").Contains(a) || seen[a] {
			t.Fatalf("secondary offered %v (seen %v)", a, seen)
		}
		seen[a] = true
	}
	if _, err := s.Offer(OfferRequest{Subnet: subnet, Client: cid("c6"), Hold: time.Second}); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("sixth client: %v, want ErrNoAddress", err)
	}
	// The failover engine takes the whole range over (partner down).
	s.SetShare(decide.MustSplit(0), decide.Secondary)
	if a := offerTo(t, s, "c6"); !rng("198.18.1.10-198.18.1.14").Contains(a) {
		t.Fatalf("after SetShare: offered %v", a)
	}
}

func TestOfferHoldAndSameClient(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	s, _ := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.11")})
	a := offerTo(t, s, "A")
	if again := offerTo(t, s, "A"); again != a {
		t.Fatalf("A offered %v then %v", a, again)
	}
	b := offerTo(t, s, "B")
	if b == a {
		t.Fatalf("A and B both offered %v", a)
	}
	if _, err := s.Offer(OfferRequest{Subnet: subnet, Client: cid("C"), Hold: time.Second}); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("C while both held: %v", err)
	}
	// B takes its offer; A's hold runs out, so C gets A's address.
	bind(t, s, "B", b, time.Hour)
	c.add(11 * time.Second)
	if got := offerTo(t, s, "C"); got != a {
		t.Fatalf("C after A's hold: %v, want %v", got, a)
	}
	// B asks again (lost the ACK): same address.
	if got := offerTo(t, s, "B"); got != b {
		t.Fatalf("B again: %v, want %v", got, b)
	}
}

func TestRequestedAddressHonoured(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	s, _ := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.20")})
	want := ip("198.18.1.17")
	if got := offerTo(t, s, "A", func(r *OfferRequest) { r.Requested = want }); got != want {
		t.Fatalf("requested %v, got %v", want, got)
	}
	if got := offerTo(t, s, "B", func(r *OfferRequest) { r.Requested = want }); got == want {
		t.Fatalf("B got A's held address %v", got)
	}
	// Outside the subnet: ignored.
	if got := offerTo(t, s, "C", func(r *OfferRequest) { r.Requested = ip("198.19.0.5") }); !subnet.Contains(got) {
		t.Fatalf("C got %v", got)
	}
}

func TestExpiredReusedOldestFirst(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	s, _ := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.12")})
	for i, lt := range []time.Duration{30 * time.Second, 10 * time.Second, 20 * time.Second} {
		cl := fmt.Sprint("old", i)
		bind(t, s, cl, offerTo(t, s, cl), lt)
	}
	c.add(time.Minute)
	for _, want := range []string{"198.18.1.11", "198.18.1.12", "198.18.1.10"} {
		cl := "new" + want
		if got := offerTo(t, s, cl); got != ip(want) {
			t.Fatalf("%s: got %v, want %v (oldest expiry first)", cl, got, want)
		}
	}
}

func TestDeclineProbation(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	s, _ := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.11")})
	a := offerTo(t, s, "A")
	if _, err := s.Decline(a, cid("B"), time.Hour); !errors.Is(err, ErrNotYours) {
		t.Fatalf("B declined A's offer: %v", err)
	}
	if _, err := s.Decline(a, cid("A"), time.Hour); err != nil {
		t.Fatal(err)
	}
	b := offerTo(t, s, "A")
	if b == a {
		t.Fatalf("A got declined %v again", a)
	}
	if _, err := s.Bind(BindRequest{Subnet: subnet, Client: cid("C"), IP: a, LeaseTime: time.Hour}); !errors.Is(err, ErrInUse) {
		t.Fatalf("bind of declined address: %v", err)
	}
	bind(t, s, "A", b, 2*time.Hour)
	if _, err := s.Offer(OfferRequest{Subnet: subnet, Client: cid("C"), Hold: time.Second}); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("C during probation: %v", err)
	}
	c.add(time.Hour + time.Second)
	if got := offerTo(t, s, "C"); got != a {
		t.Fatalf("C after probation: %v, want %v", got, a)
	}
}

func TestReleaseAndBindErrors(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	p := pools("198.18.1.10-198.18.1.12")
	p[0].Excluded = map[netip.Addr]bool{ip("198.18.1.12"): true}
	s, _ := open(t, "", c, Options{Pools: p})
	a := offerTo(t, s, "A")
	bind(t, s, "A", a, time.Hour)
	for _, tc := range []struct {
		name string
		req  BindRequest
		want error
	}{
		{"other client's lease", BindRequest{Subnet: subnet, Client: cid("B"), IP: a, LeaseTime: time.Hour}, ErrInUse},
		{"wrong subnet", BindRequest{Subnet: subnet, Client: cid("B"), IP: ip("198.19.1.10"), LeaseTime: time.Hour}, ErrNotInSubnet},
		{"outside ranges", BindRequest{Subnet: subnet, Client: cid("B"), IP: ip("198.18.1.200"), LeaseTime: time.Hour}, ErrUnknownAddress},
		{"someone's reservation", BindRequest{Subnet: subnet, Client: cid("B"), IP: ip("198.18.1.12"), LeaseTime: time.Hour}, ErrUnknownAddress},
		{"own reservation", BindRequest{Subnet: subnet, Client: cid("R"), IP: ip("198.18.1.200"), LeaseTime: time.Hour, Reserved: true}, nil},
	} {
		if _, err := s.Bind(tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.Release(a, cid("B")); !errors.Is(err, ErrNotYours) {
		t.Fatalf("B released A's address: %v", err)
	}
	if _, err := s.Release(a, cid("A")); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Get(a); l.State != Released {
		t.Fatalf("after release: %+v", l)
	}
	// A comes back and gets its address again.
	if got := offerTo(t, s, "A"); got != a {
		t.Fatalf("A after release: %v, want %v", got, a)
	}
}

func TestRestartKeepsLeasesAndSubscribers(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	s, dir := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.50"), Issuer: Issuer{decide.Primary, ip("198.18.1.1")}})
	var got []Lease
	var mu sync.Mutex
	cancel := s.Subscribe(func(l Lease) { mu.Lock(); got = append(got, l); mu.Unlock() })
	want := map[string]netip.Addr{}
	for i := range 10 {
		cl := fmt.Sprint("client", i)
		want[cl] = bind(t, s, cl, offerTo(t, s, cl), time.Hour).IP
	}
	cancel()
	bind(t, s, "late", offerTo(t, s, "late"), time.Hour)
	if len(got) != 10 || got[0].IssuedBy.ServerID != ip("198.18.1.1") {
		t.Fatalf("subscriber saw %d leases (%+v), want 10 with the issuer", len(got), got)
	}
	if _, err := ReadFile(filepath.Join(dir, "leases.db"), 100*time.Millisecond); err == nil {
		t.Fatal("ReadFile succeeded while the store is open")
	}
	s.Close()
	listed, err := ReadFile(filepath.Join(dir, "leases.db"), time.Second)
	if err != nil || len(listed) != 11 {
		t.Fatalf("ReadFile: %d leases, %v", len(listed), err)
	}
	s2, _ := open(t, dir, c, Options{Pools: pools("198.18.1.10-198.18.1.50")})
	for cl, a := range want {
		l, ok := s2.ByClient(cid(cl))
		if !ok || l.IP != a || l.State != Bound || !l.Expiry.Equal(c.t.Add(time.Hour)) {
			t.Fatalf("after restart %s: %+v %v, want %v bound", cl, l, ok, a)
		}
		if got := offerTo(t, s2, cl); got != a {
			t.Fatalf("after restart %s offered %v, want %v", cl, got, a)
		}
	}
	if a := offerTo(t, s2, "new"); want["client0"] == a || a == want["client9"] {
		t.Fatalf("new client got a bound address %v", a)
	}
}

func TestApplyPeer(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	s, _ := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.11")})
	calls := 0
	s.Subscribe(func(Lease) { calls++ })
	peer := Lease{IP: ip("198.18.1.10"), Client: cid("P"), State: Bound, Start: c.t, Expiry: c.t.Add(time.Hour), IssuedBy: Issuer{Role: decide.Secondary}}
	if ok, err := s.ApplyPeer(context.Background(), peer); !ok || err != nil {
		t.Fatalf("apply: %v %v", ok, err)
	}
	older := peer
	older.Start, older.Client = c.t.Add(-time.Minute), cid("Q")
	if ok, _ := s.ApplyPeer(context.Background(), older); ok {
		t.Fatal("older peer lease applied")
	}
	if ok, err := s.ApplyPeer(context.Background(), Lease{IP: ip("198.18.1.11"), State: 9}); ok || err == nil {
		t.Fatal("bad peer lease accepted")
	}
	if a := offerTo(t, s, "A"); a != ip("198.18.1.11") {
		t.Fatalf("offered %v next to the peer's binding", a)
	}
	if calls != 0 {
		t.Fatalf("subscriber called %d times for peer leases", calls)
	}
	// The same client renewed by the partner later but for less time (a
	// partition): the binding keeps the later expiry the client may hold.
	shorter := peer
	shorter.Start, shorter.Expiry = c.t.Add(time.Minute), c.t.Add(30*time.Minute)
	if ok, err := s.ApplyPeer(context.Background(), shorter); !ok || err != nil {
		t.Fatalf("apply newer, shorter: %v %v", ok, err)
	}
	if l, _ := s.Get(peer.IP); !l.Expiry.Equal(peer.Expiry) || !l.Start.Equal(shorter.Start) {
		t.Fatalf("after a newer, shorter renewal: %+v, want start %v and the longer expiry %v", l, shorter.Start, peer.Expiry)
	}
	// Same start, later expiry (both renewed one rebinding client): taken;
	// the stale copy coming back is not.
	longer := peer
	longer.Start, longer.Expiry = shorter.Start, c.t.Add(2*time.Hour)
	if ok, err := s.ApplyPeer(context.Background(), longer); !ok || err != nil {
		t.Fatalf("apply same start, later expiry: %v %v", ok, err)
	}
	if ok, _ := s.ApplyPeer(context.Background(), shorter); ok {
		t.Fatal("stale copy applied again")
	}
	if l, _ := s.Get(peer.IP); !l.Expiry.Equal(longer.Expiry) {
		t.Fatalf("after the same-start renewal: %+v, want expiry %v", l, longer.Expiry)
	}
}

func TestGroupCommit(t *testing.T) {
	s, dir := open(t, "", &clock{time.Now()}, Options{Pools: pools("198.18.1.1-198.18.1.254")})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := fmt.Sprint("c", i)
			a, err := s.Offer(OfferRequest{Subnet: subnet, Client: cid(cl), Hold: time.Second})
			if err == nil {
				_, err = s.Bind(BindRequest{Subnet: subnet, Client: cid(cl), IP: a, LeaseTime: time.Hour})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Leases != 200 || st.Transactions >= 200 {
		t.Fatalf("stats %+v: want 200 leases in fewer transactions", st)
	}
	t.Logf("200 concurrent binds in %d transactions", st.Transactions)
	s.Close()
	ls, err := ReadFile(filepath.Join(dir, "leases.db"), time.Second)
	if err != nil || len(ls) != 200 {
		t.Fatalf("on disk: %d, %v", len(ls), err)
	}
	seen := map[netip.Addr]bool{}
	for _, l := range ls {
		if seen[l.IP] {
			t.Fatalf("duplicate address %v", l.IP)
		}
		seen[l.IP] = true
	}
}

// TestKill9 kills a process that is binding leases and checks that every
// lease it reported as committed is in the file.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("XDHCP_LEASE_CRASH_DIR"); dir != "" {
		crashWriter(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "XDHCP_LEASE_CRASH_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(committed) < 300 {
		committed[sc.Text()] = true
	}
	cmd.Process.Kill() // SIGKILL mid-stream
	cmd.Wait()
	if len(committed) < 300 {
		t.Fatalf("writer reported only %d leases", len(committed))
	}
	ls, err := ReadFile(filepath.Join(dir, "leases.db"), time.Second)
	if err != nil {
		t.Fatalf("store after kill -9: %v", err)
	}
	have := map[string]bool{}
	for _, l := range ls {
		have[l.IP.String()] = true
	}
	for a := range committed {
		if !have[a] {
			t.Fatalf("lease %s acknowledged before the kill is missing (%d on disk)", a, len(ls))
		}
	}
	t.Logf("%d acknowledged, %d on disk after kill -9", len(committed), len(ls))
}

func crashWriter(dir string) {
	s, err := Open(filepath.Join(dir, "leases.db"), Options{Pools: []Pool{{Subnet: netip.MustParsePrefix("198.18.0.0/16"), Ranges: []Range{{ip("198.18.0.1"), ip("198.18.255.254")}}}}, HBA: decide.MustSplit(256)})
	must(err)
	var mu sync.Mutex
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				cl := ClientID(fmt.Sprint(w, "-", i))
				a, err := s.Offer(OfferRequest{Subnet: netip.MustParsePrefix("198.18.0.0/16"), Client: cl, Hold: time.Second})
				must(err)
				_, err = s.Bind(BindRequest{Subnet: netip.MustParsePrefix("198.18.0.0/16"), Client: cl, IP: a, LeaseTime: time.Hour})
				must(err)
				mu.Lock()
				fmt.Println(a)
				mu.Unlock()
			}
		}()
	}
	select {}
}
