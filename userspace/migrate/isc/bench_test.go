package isc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// BenchmarkImportLeases reads a dhcpd.leases of 20,000 records as dhcpd
// writes them (one record a statement at a time: memory stays that of one
// record, see Each). Reported per record.
func BenchmarkImportLeases(b *testing.B) {
	const n = 20000
	var src strings.Builder
	for i := range n {
		fmt.Fprintf(&src, "lease 10.%d.%d.%d {\n  starts 3 2030/01/02 10:00:00;\n  ends 3 2030/01/02 22:00:00;\n  cltt 3 2030/01/02 10:00:00;\n"+
			"  binding state active;\n  next binding state free;\n  rewind binding state free;\n  hardware ethernet 02:00:00:%02x:%02x:%02x;\n  client-hostname \"h%d\";\n}\n",
			(i+1)>>16, ((i+1)>>8)&255, (i+1)&255, i>>16, (i>>8)&255, i&255, i)
	}
	conf := []byte("subnet 10.0.0.0 netmask 255.254.0.0 { range 10.0.0.1 10.1.255.254; }")
	data := []byte(src.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := migrate.NewResult()
		if err := ImportConf("dhcpd.conf", conf, nil, r); err != nil {
			b.Fatal(err)
		}
		if err := ImportLeases("dhcpd.leases", data, time.Date(2030, 1, 2, 11, 0, 0, 0, time.UTC), r); err != nil || len(r.Leases) != n {
			b.Fatalf("%d leases, %v", len(r.Leases), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
