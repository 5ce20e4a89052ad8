package isc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
	"github.com/xdhcp/xdhcp/userspace/migrate/migratetest"
)

const leasesConf = `subnet 198.18.0.0 netmask 255.255.255.0 { range 198.18.0.100 198.18.0.199; }`

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// dhcpd.leases is a journal: the last record of an address wins; each
// binding state lands on the store's state that keeps the client's
// claim (bound, released for address affinity, declined for abandoned).
func TestLeasesJournal(t *testing.T) {
	file := filepath.Join("testdata", "dhcpd.leases")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := migrate.NewResult()
	if err := ImportConf("dhcpd.conf", []byte(leasesConf), nil, r); err != nil {
		t.Fatal(err)
	}
	now := at("2030-01-02 10:08")
	if err := ImportLeases(file, src, now, r); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"198.18.0.100": "bound 01020000000064 02:00:00:00:00:64 renewed 10:05 01-02 10:15", // the later record
		"198.18.0.101": "released 01020000000065 02:00:00:00:00:65  10:08 01-02 10:08",     // released ahead of its end: at import time
		"198.18.0.103": "released 01020000000067 02:00:00:00:00:67  09:00 01-02 09:00",     // free, remembered for its client
		"198.18.0.104": "declined    10:00 01-03 10:00",
		"198.18.0.105": "bound 01020000000069 02:00:00:00:00:69  07:00 01-02 08:00", // expired binding
		"198.18.0.106": "bound 0102000000006a 02:00:00:00:00:6a  10:00 01-02 12:00", // uid (octal escapes) is the client
		"198.18.0.108": "bound 0102000000006c 02:00:00:00:00:6c  10:00 01-02 11:00", // epoch dates
		"198.18.0.109": "bound 0102000000006d 02:00:00:00:00:6d  10:00 02-07 06:28", // ends never
	}
	migratetest.SameLeases(t, r, want)
	for _, l := range r.Leases {
		if l.IP.String() == "198.18.0.106" && (fmt.Sprintf("%x", l.RelayInfo) != "0106706f72742d360203000102" || l.DNSName != "six.lab.example") {
			t.Errorf("198.18.0.106: relay info %x, DNS name %q", l.RelayInfo, l.DNSName)
		}
	}
	if r.Read["active"] != 6 || r.Read["free"] != 2 || r.Read["backup"] != 1 || r.Kept != 8 {
		t.Errorf("read %v kept %d", r.Read, r.Kept)
	}
	skips := map[int]string{}
	for _, s := range r.Skipped {
		skips[s.Pos.Line] = s.String()
	}
	for _, w := range []struct{ marker, why string }{
		{`failover peer "dhcp-failover" state`, "failover state"},
		{"lease 10.9.9.9", "in no imported subnet"},
		{"lease 198.18.0.50", "outside every range and reservation"},
		{"tstp", "failover times are not carried over: the pair learns them again (1 lease records)"},
		{"set vendor-class-identifier", "lease variables (other than ddns-fwd-name) are not carried over (1 lease records)"},
		{"on expiry", "event hooks are not carried over (1 lease records)"},
		{"lease 198.18.0.110", "ends inside this record"},
	} {
		l := migratetest.LineOf(t, file, w.marker)
		if !strings.Contains(skips[l], w.why) {
			t.Errorf("line %d (%s): got %q, want %q", l, w.marker, skips[l], w.why)
		}
		delete(skips, l)
	}
	for l, s := range skips {
		t.Errorf("unexpected skip at line %d: %s", l, s)
	}
	// The store takes them as they are.
	st, err := lease.Open(filepath.Join(t.TempDir(), "l.db"), lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Put(context.Background(), r.Leases); err != nil {
		t.Fatal(err)
	}
}

// A record broken in the middle of the file is an error naming its line,
// not a silent loss of what follows.
func TestLeasesCorruptMiddleIsAnError(t *testing.T) {
	r := migrate.NewResult()
	src := "lease 198.18.0.1 {\n  starts 3 2030/01/02 10:00:00;\n}\n}\nlease 198.18.0.2 { binding state active; }\n"
	err := ImportLeases("dhcpd.leases", []byte(src), at("2030-01-02 10:00"), r)
	if err == nil || !strings.Contains(err.Error(), "dhcpd.leases:4:1") {
		t.Fatalf("err %v", err)
	}
}
