package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
	"github.com/xdhcp/xdhcp/userspace/migrate/kea"
)

// The CSV export is a Kea memfile: Kea's reader (here the importer, which
// follows Kea's load rules) takes back the same bindings.
func TestLeasesExport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "leases.db")
	now := time.Now().Truncate(time.Second)
	in := []lease.Lease{
		{IP: netip.MustParseAddr("198.18.0.100"), Client: lease.ClientID{1, 2, 0, 0, 0, 0, 1}, HWAddr: "02:00:00:00:00:01", Hostname: "a,b", State: lease.Bound, Start: now.Add(-time.Minute), Expiry: now.Add(time.Hour)},
		{IP: netip.MustParseAddr("198.18.0.101"), Client: lease.ClientID("id-2"), State: lease.Released, Start: now.Add(-time.Minute), Expiry: now.Add(-time.Minute)},
		{IP: netip.MustParseAddr("198.18.0.102"), State: lease.Declined, Start: now, Expiry: now.Add(time.Hour)},
		{IP: netip.MustParseAddr("198.18.5.7"), Client: lease.ClientID{1, 2, 0, 0, 0, 0, 3}, HWAddr: "02:00:00:00:00:03", State: lease.Bound, Start: now, Expiry: now.Add(time.Hour)},
	}
	st, err := lease.Open(db, lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st.Close()
	conf := filepath.Join(dir, "xdhcp.yaml")
	os.WriteFile(conf, []byte("subnets:\n  - subnet: 198.18.5.0/24\n    ranges: [198.18.5.5-198.18.5.9]\n  - subnet: 198.18.0.0/24\n    ranges: [198.18.0.100-198.18.0.199]\n"), 0o644)
	out, err := runApp(t, "leases", "export", "--db", db, "--format", "csv", "--config", conf)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != strings.Join(kea.Columns, ",") || len(lines) != 5 {
		t.Fatalf("csv:\n%s", out)
	}
	if !strings.HasPrefix(lines[1], "198.18.0.100,02:00:00:00:00:01,01:02:00:00:00:00:01,3660,") || !strings.HasSuffix(lines[1], ",2,0,0,a&#x2cb,0,") {
		t.Fatalf("bound row %q", lines[1])
	}
	if !strings.HasSuffix(lines[4], ",1,0,0,,0,") { // 198.18.5.7 is in the first subnet of --config
		t.Fatalf("subnet id: %q", lines[4])
	}
	r := migrate.NewResult()
	if err := readConfig(conf, r); err != nil {
		t.Fatal(err)
	}
	if err := kea.ImportLeases("export.csv", []byte(out), now, r); err != nil {
		t.Fatal(err)
	}
	if len(r.Leases) != len(in) || len(r.Skipped) != 0 {
		t.Fatalf("read back %d leases, skipped %v", len(r.Leases), r.Skipped)
	}
	for i, l := range r.Leases {
		o := in[i]
		if l.IP != o.IP || l.State != o.State || l.Client.String() != o.Client.String() || l.Hostname != o.Hostname || !l.Expiry.Equal(o.Expiry) {
			t.Errorf("%v: exported %+v, read back %+v", o.IP, o, l)
		}
	}

	out, err = runApp(t, "leases", "export", "--db", db, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var back []lease.Lease
	if err := json.Unmarshal([]byte(out), &back); err != nil || len(back) != len(in) || back[0].Hostname != "a,b" {
		t.Fatalf("json: %v %+v", err, back)
	}
	if _, err := runApp(t, "leases", "export", "--db", db, "--format", "xml"); err == nil || !strings.Contains(err.Error(), "csv or json") {
		t.Fatalf("--format xml: %v", err)
	}
	if _, err := runApp(t, "leases", "export", "--db", filepath.Join(dir, "none.db")); err == nil {
		t.Fatal("a missing store exported")
	}
}

// readConfig loads an xdhcp configuration into a result (the subnets the
// lease reader checks addresses against).
func readConfig(path string, r *migrate.Result) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	r.Config = cfg
	return nil
}
