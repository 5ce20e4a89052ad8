package kea

import (
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/migrate"
	"github.com/xdhcp/xdhcp/userspace/migrate/migratetest"
)

// FuzzImport: any kea-dhcp4.conf and memfile give a result or an error
// naming a place, never a panic; the configuration reads back unchanged
// and the leases are ones the store takes; leases written out in Kea's
// columns read back to the same bindings.
func FuzzImport(f *testing.F) {
	// Small seeds: the minimiser's time grows with their size; the test
	// files are the unit tests' job.
	f.Add([]byte(`{"Dhcp4": { "valid-lifetime": 600, "option-data": [{"name": "domain-name", "data": "a.b"}, {"code": 42, "data": "1.2.3.4"}],
 "option-def": [{"name": "m", "code": 224, "type": "string"}], // c
 "hooks-libraries": [{"library": "libdhcp_ha.so", "parameters": {"high-availability": [{"this-server-name": "a", "mode": "hot-standby",
   "peers": [{"name": "a", "url": "http://1.2.3.4:8000/", "role": "primary"}, {"name": "b", "url": "http://1.2.3.5/", "role": "standby"}]}]}}],
 "shared-networks": [{"name": "s", "subnet4": [{"id": 1, "subnet": "198.18.0.0/24", "pools": [{"pool": "198.18.0.10 - 198.18.0.20"}],
   "option-data": [{"name": "m", "data": "x\\, y"}], "reservations": [{"hw-address": "2:0:0:0:0:1", "ip-address": "198.18.0.5"}]}]}]}}`),
		[]byte("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n"+
			"198.18.0.10,02:00:00:00:00:02,01:02,600,1893579000,1,0,0,a&#x2cb,0,\n198.18.0.11,,,600,1893579000,1,0,0,,1,\n198.18.0.10,02:00:00:00:00:02,,0,1893579000,1,0,0,,0,\n"))
	f.Add([]byte(`{"Dhcp4": {"subnet4": [{"subnet": "198.18.0.0/24", "pools": [{"pool": "198.18.0.0/30"}]}]}}`),
		[]byte("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname\n198.18.0.1,1:2,,5,9,1,0,0,x&#x2c\n"))
	f.Add([]byte("{\"Dhcp4\": {/* c */ # d\n}}"), []byte(""))
	f.Fuzz(func(t *testing.T, conf, csv []byte) {
		r := migrate.NewResult()
		if err := ImportConf("kea.conf", conf, r); err != nil {
			if !migratetest.Placed.MatchString(err.Error()) {
				t.Fatalf("error names no place: %v", err)
			}
			return
		}
		now := time.Unix(1893578400, 0)
		if err := ImportLeases("leases.csv", csv, now, r); err != nil {
			if !migratetest.Placed.MatchString(err.Error()) {
				t.Fatalf("error names no place: %v", err)
			}
			return
		}
		migratetest.CheckResult(t, r)
	})
}
