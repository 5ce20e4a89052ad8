package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// xdhcp leases check: a clean file passes, a damaged record is reported
// with its address and exit 1, --repair removes it and keeps the others.
func TestLeasesCheckCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leases.db")
	st, err := lease.Open(db, lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var ls []lease.Lease
	for i := range 10 {
		ls = append(ls, lease.Lease{IP: netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + i)}), Client: lease.ClientID(fmt.Sprint("c", i)),
			State: lease.Bound, Start: now, Expiry: now.Add(time.Hour)})
	}
	if err := st.Put(context.Background(), ls); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, err := runApp(t, "leases", "check", "--db", db)
	if err != nil || !strings.Contains(out, "10 good records, 10 leases") || !strings.Contains(out, "no damaged record") {
		t.Fatalf("clean file: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(db)
	i := bytes.Index(data, []byte(`"198.18.0.13"`))
	data[i+30] = '#'
	os.WriteFile(db, data, 0o600)
	out, err = runApp(t, "leases", "check", "--db", db)
	if !strings.Contains(out, `key "198.18.0.13"`) || !strings.Contains(out, "1 damaged records") {
		t.Fatalf("damaged file report:\n%s", out)
	}
	if err == nil || !strings.Contains(err.Error(), "1 damaged records") {
		t.Fatalf("damaged file: %v, want an error (exit 1)", err)
	}
	out, err = runApp(t, "leases", "check", "--repair", "--db", db)
	if err != nil || !strings.Contains(out, "repaired: 1 damaged records removed") {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	if out, err = runApp(t, "leases", "check", "--db", db); err != nil || !strings.Contains(out, "9 good records, 9 leases") {
		t.Fatalf("after repair: %v\n%s", err, out)
	}
}
