package failover

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// The status's shares from the store's kept counts agree with the scan of
// every lease they replace (the store's own test checks the counts
// against a walk over every address).
func TestCountedSharesMatchScan(t *testing.T) {
	pool := lease.Range{Start: netip.MustParseAddr("198.18.0.10"), End: netip.MustParseAddr("198.18.0.209")}
	st, err := lease.Open(filepath.Join(t.TempDir(), "leases.db"), lease.Options{
		Pools: []lease.Pool{{Subnet: netip.MustParsePrefix("198.18.0.0/24"), Ranges: []lease.Range{pool}}},
		HBA:   decide.MustSplit(128), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for i := range 70 {
		l := lease.Lease{IP: netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + 3*i%200)}), Client: lease.ClientID(fmt.Sprint("c", i)),
			State: lease.Bound, Start: now, Expiry: now.Add(time.Duration(i-20) * time.Minute)}
		if i%7 == 0 {
			l.State = lease.Released
		}
		if _, err := st.ApplyPeer(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
	for _, split := range []int{0, 64, 128, 256} {
		h := decide.MustSplit(split)
		got := countedShares([]lease.Range{pool}, h, decide.Primary, st)
		want := shares([]lease.Range{pool}, h, decide.Primary, st.All(), time.Now())
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("split %d: counted %+v, scanned %+v", split, got, want)
		}
	}
}
