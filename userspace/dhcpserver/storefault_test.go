package dhcpserver

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// syncBuffer is a log sink the committer goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

// tmpfs mounts a small tmpfs on a fresh directory, removed after the test.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a small tmpfs to fill it")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return
		}
	}
}

// faultHoldForTest is past the store's fault hold and log interval.
const faultHoldForTest = 11 * time.Second

const faultConfig = `
lease-time: 1h
subnets:
  - subnet: 198.18.0.0/16
    ranges: [198.18.1.0-198.18.200.255]
`

// TestStoreFullDisk fills the filesystem under a real bbolt store: the
// commit that cannot grow the file fails, its ACK is never sent, the index
// is reverted, OFFERs are withheld while the store fails, renewals get no
// ACK, INFORM is still answered, the error is logged once (with the db path
// and the cause) and counted; freeing space recovers, and reopening the
// file finds every lease stored before the failure and nothing of the
// failed ones.
func TestStoreFullDisk(t *testing.T) {
	dir := tmpfs(t, "512k")
	clk := &fakeClock{time.Unix(1e9, 0)}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg, err := config.Parse("test.yaml", []byte(faultConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DB = filepath.Join(dir, "leases.db")
	st, err := lease.Open(cfg.DB, lease.Options{Pools: cfg.Pools(), HBA: decide.MustSplit(256), Now: clk.now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			st.Close()
		}
	}()
	s := New(cfg, st, log)
	s.now = clk.now
	m := Meta{Iface: "eth0", IfAddr: netip.AddrFrom4([4]byte{198, 18, 0, 1})}
	ask := func(r *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 { return s.Handle(t.Context(), r, m) }
	doraM := func(hw net.HardwareAddr) (*dhcpv4.DHCPv4, *dhcpv4.DHCPv4) {
		offer := ask(newDiscover(hw))
		if offer == nil {
			return nil, nil
		}
		req, _ := dhcpv4.NewRequestFromOffer(offer)
		return offer, ask(req)
	}

	// Leases stored before the disk fills.
	stored := map[string]lease.Lease{}
	for i := range 30 {
		_, ack := doraM(mac(fmt.Sprintf("02:00:00:00:05:%02x", i)))
		if msgType(ack) != dhcpv4.MessageTypeAck {
			t.Fatalf("client %d before the fill: %v", i, ack)
		}
		l, _ := st.Get(addrOf(ack.YourIPAddr))
		stored[l.IP.String()] = l
	}
	filler := filepath.Join(dir, "filler")
	fill(t, filler)

	// New clients until a commit needs space that is not there.
	var failed *dhcpv4.DHCPv4
	for i := 0; failed == nil; i++ {
		if i == 20000 {
			t.Fatal("20000 binds on a full filesystem and no commit failed")
		}
		offer, ack := doraM(mac(fmt.Sprintf("02:00:00:%02x:%02x:%02x", 6+i>>16, i>>8&0xff, i&0xff)))
		switch {
		case offer == nil:
			t.Fatalf("client %d: no offer before any commit failed", i)
		case ack == nil:
			failed = offer
		case ack.MessageType() != dhcpv4.MessageTypeAck:
			t.Fatalf("client %d: %v", i, ack)
		default:
			l, _ := st.Get(addrOf(ack.YourIPAddr))
			stored[l.IP.String()] = l
		}
	}
	failedIP := addrOf(failed.YourIPAddr)
	if l, ok := st.Get(failedIP); ok && l.State == lease.Bound {
		t.Fatalf("index keeps the failed binding %+v", l)
	}
	f := st.Fault()
	if f == nil || f.Cause != "disk full" || !errors.Is(f.Err, syscall.ENOSPC) {
		t.Fatalf("fault %+v, want disk full (ENOSPC)", f)
	}
	t.Logf("first failed commit after %d stored leases: %v", len(stored), f.Err)

	// While it fails: no OFFER to a new client, INFORM still answered (it
	// changes nothing), and new clients asking for an address outright get
	// no ACK: each needs the file to grow.
	if r := ask(newDiscover(mac("02:00:00:00:0f:01"))); r != nil {
		t.Fatalf("OFFER while the store fails: %v", r.YourIPAddr)
	}
	inf, _ := dhcpv4.NewInform(mac("02:00:00:00:0f:02"), net.IPv4(198, 18, 9, 9))
	if r := ask(inf); msgType(r) != dhcpv4.MessageTypeAck {
		t.Fatalf("INFORM while the store fails: %v", r)
	}
	for i := range 20 {
		want := netip.AddrFrom4([4]byte{198, 18, 150, byte(i)})
		req, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(fmt.Sprintf("02:00:00:00:0e:%02x", i))), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(want.AsSlice()))))
		if r := ask(req); r != nil {
			t.Fatalf("REQUEST %d for a new address answered on a full disk: %v", i, r.MessageType())
		}
		if _, ok := st.Get(want); ok {
			t.Fatalf("index keeps the failed binding of %v", want)
		}
	}
	d, ss := s.Drops(), st.Stats()
	if d.NotStored != 21 || d.StoreFault != 1 || ss.FailedTransactions != 21 || ss.LeasesNotStored != 21 {
		t.Fatalf("drops %+v, store %+v: want 21 not stored, 1 offer withheld", d, ss)
	}
	if n := logs.count("lease store write failed"); n != 1 {
		t.Fatalf("%d failure log lines for 21 failed commits, want 1:\n%s", n, logs.b.String())
	}
	if logs.count("db="+cfg.DB) == 0 || logs.count(`cause="disk full"`) == 0 {
		t.Fatalf("failure log does not name the db and cause:\n%s", logs.b.String())
	}

	// A renewal rewrites a record bbolt already has room for: it may be
	// stored even now. Whatever happens, the ACK and the disk agree
	// (checked after reopening).
	var renewed lease.Lease
	for _, l := range stored {
		renewed = l
		break
	}
	clk.add(time.Minute) // a stored renewal moves Start
	renew, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(renewed.HWAddr)), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(net.IP(renewed.IP.AsSlice())))
	renewAcked := ask(renew) != nil
	if l, _ := st.Get(renewed.IP); l.Start.After(renewed.Start) != renewAcked {
		t.Fatalf("renewal ACK %v but index %+v (was %+v)", renewAcked, l, renewed)
	}
	t.Logf("renewal on the full disk acknowledged: %v", renewAcked)

	// Space again: new clients are stored and the fault is over.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	clk.add(faultHoldForTest)
	if _, ack := doraM(mac("02:00:00:00:0f:03")); msgType(ack) != dhcpv4.MessageTypeAck {
		t.Fatalf("new client after freeing space: %v", ack)
	}
	if st.Fault() != nil {
		t.Fatalf("fault not cleared: %+v", st.Fault())
	}

	// Reopen: every lease stored before the failure is there as it was
	// (the renewed one with its later start), the failed one is not.
	st.Close()
	closed = true
	ls, err := lease.ReadFile(cfg.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[string]lease.Lease{}
	for _, l := range ls {
		onDisk[l.IP.String()] = l
	}
	for ip, want := range stored {
		got, ok := onDisk[ip]
		if ip == renewed.IP.String() && renewAcked {
			if !ok || !got.Start.After(want.Start) {
				t.Errorf("acknowledged renewal of %s not on disk: %+v", ip, got)
			}
			continue
		}
		if !ok || !got.Start.Equal(want.Start) || !bytes.Equal(got.Client, want.Client) || got.State != want.State {
			t.Errorf("lease %s: on disk %+v, stored %+v", ip, got, want)
		}
	}
	if l, ok := onDisk[failedIP.String()]; ok && l.HWAddr == failed.ClientHWAddr.String() {
		t.Errorf("the failed binding reached the disk: %+v", l)
	}
}
