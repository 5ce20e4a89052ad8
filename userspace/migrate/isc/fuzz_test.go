package isc

import (
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/migrate"
	"github.com/xdhcp/xdhcp/userspace/migrate/migratetest"
)

// FuzzImport: any dhcpd.conf and dhcpd.leases give a result or an error
// naming a place, never a panic; a configuration imported is one xdhcp
// reads back unchanged (EncodeConfig checks it), and the leases are ones
// the store takes (IPv4, one per address, in a range or reservation).
func FuzzImport(f *testing.F) {
	// Small seeds: the minimiser's time grows with their size; the corpus
	// files are the unit tests' job.
	hosts := []byte("host h { hardware ethernet 2:0:0:0:0:1; fixed-address 198.18.0.9; option host-name \"h\"; }")
	f.Add([]byte(`authoritative; default-lease-time 600; option domain-name "a.b";
option o code 200 = { ip-address, text }; include "hosts.conf";
failover peer "p" { primary; address 198.18.0.2; peer address 198.18.0.3; mclt 60; split 128; load balance max seconds 3; }
shared-network s { subnet 198.18.0.0 netmask 255.255.255.0 { option routers 198.18.0.1; option o 1.2.3.4 "x";
 pool { failover peer "p"; range 198.18.0.10 198.18.0.20; } } }
group { host g { option dhcp-client-identifier 1:2:3; fixed-address 198.18.0.8; } }
class "c" { match if option vendor-class-identifier = "x"; } if exists foo { next-server 1.2.3.4; } else { }`),
		[]byte(`lease 198.18.0.10 { starts 3 2030/01/02 10:00:00; ends never; binding state active; hardware ethernet 2:0:0:0:0:2; uid "\001x"; set a = "b"; }
lease 198.18.0.11 { starts epoch 1893578400; ends epoch 1893582000; binding state free; hardware ethernet 2:0:0:0:0:3; }
lease 198.18.0.12 { binding state abandoned; } lease 198.18.0.13 {`))
	f.Add([]byte(leasesConf), []byte("lease 198.18.0.100 { binding state expired; client-hostname \"a\"; hardware ethernet 1:2:3:4:5:6; }"))
	f.Fuzz(func(t *testing.T, conf, leases []byte) {
		read := func(name string) ([]byte, error) {
			if strings.HasSuffix(name, "hosts.conf") {
				return hosts, nil
			}
			return conf, nil // an include of itself: refused as a loop
		}
		r := migrate.NewResult()
		if err := ImportConf("dhcpd.conf", conf, read, r); err != nil {
			if !migratetest.Placed.MatchString(err.Error()) {
				t.Fatalf("error names no place: %v", err)
			}
			return
		}
		if err := ImportLeases("dhcpd.leases", leases, time.Unix(1893578400, 0), r); err != nil {
			if !migratetest.Placed.MatchString(err.Error()) {
				t.Fatalf("error names no place: %v", err)
			}
		}
		migratetest.CheckResult(t, r)
	})
}
