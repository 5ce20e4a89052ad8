package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

func randomLease(rnd *rand.Rand) Lease {
	names := []string{"", "pc-1", "h\"o\\st\x01", "é-ü", "<b>&", strings.Repeat("x", 255), "\xff\xfe"}
	times := []time.Time{{}, time.Unix(rnd.Int64N(4e9), rnd.Int64N(1e9)), time.Now(), time.Unix(1e9, 0).In(time.FixedZone("x", 3600))}
	cl := make(ClientID, rnd.IntN(20))
	for i := range cl {
		cl[i] = byte(rnd.IntN(256))
	}
	return Lease{
		IP: netip.AddrFrom4([4]byte{198, 18, byte(rnd.IntN(256)), byte(rnd.IntN(256))}), Client: cl,
		HWAddr: names[rnd.IntN(2)*1], Hostname: names[rnd.IntN(len(names))], State: State(1 + rnd.IntN(3)),
		Start: times[rnd.IntN(len(times))], Expiry: times[rnd.IntN(len(times))],
		IssuedBy:  Issuer{Role: decide.Role(rnd.IntN(2)), ServerID: netip.AddrFrom4([4]byte{198, 18, 0, byte(rnd.IntN(256))})},
		RelayInfo: cl[:rnd.IntN(len(cl)+1)], DNSName: names[rnd.IntN(len(names))],
	}
}

// The hand-written record encoder writes what encoding/json writes, and
// knows every field of Lease (a new field must be taught to it, else the
// store falls back to encoding/json: correct but slower).
func TestRecordFastEncoderKnowsLease(t *testing.T) {
	if !fastEncode {
		t.Fatalf("Lease is now %q: teach appendLeaseJSON (format.go) the new fields and update leaseFields", shapeOf(reflectLease))
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		l := randomLease(rnd)
		want, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendLeaseJSON(nil, l)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("fast %s (%v)\njson %s", got, err, want)
		}
		line, _ := appendRecord(nil, l)
		back, err := decodeRecord(line[:len(line)-1])
		if err != nil {
			t.Fatalf("decode %s: %v", line, err)
		}
		// Compare with what encoding/json itself reads back (it turns
		// invalid UTF-8 into U+FFFD either way).
		var ref Lease
		if err := json.Unmarshal(want, &ref); err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(back)
		b, _ := json.Marshal(ref)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip %s -> %s", b, a)
		}
	}
}

// openWithFive opens a store at path and binds 198.18.1.10-14.
func openWithFive(t *testing.T, path string, c *clock) *Store {
	t.Helper()
	s := openAt(t, path, c, nil)
	for i := range 5 {
		bind(t, s, fmt.Sprint("c", i), ip(fmt.Sprint("198.18.1.", 10+i)), time.Hour)
	}
	return s
}

func journalPath(t *testing.T) string { return filepath.Join(t.TempDir(), "leases.db") }

func openAt(t *testing.T, path string, c *clock, log *slog.Logger) *Store {
	t.Helper()
	s, err := Open(path, Options{Pools: pools("198.18.1.10-198.18.1.250"), HBA: decide.MustSplit(256), Now: c.now, Logger: log, CommitInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A crash mid-write leaves a record cut short, possibly with bytes of a
// later record of the same unacknowledged write beyond a zero gap: open
// drops both (and zeroes them, so new records written before them never
// run into them) and loads the rest.
func TestTornTailDropped(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	path := journalPath(t)
	s := openWithFive(t, path, c)
	end := s.j.end
	s.Close()
	ghost, _ := appendRecord(nil, Lease{IP: ip("198.18.1.99"), Client: cid("ghost"), State: Bound, Start: c.t, Expiry: c.t.Add(time.Hour)})
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt(ghost[:len(ghost)/2], end)       // the cut record
	f.WriteAt(ghost, end+int64(len(ghost))+50) // a later sector that landed
	f.Close()
	if r, err := Check(path); err != nil || r.TornTail == 0 || len(r.Bad) != 0 || r.Leases != 5 {
		t.Fatalf("check: %+v %v", r, err)
	}
	s = openAt(t, path, c, nil)
	bind(t, s, "new", ip("198.18.1.20"), time.Hour) // written where the torn record was
	s.Close()
	ls, err := ReadFile(path, time.Second)
	if err != nil || len(ls) != 6 {
		t.Fatalf("after reopen: %d leases %v", len(ls), err)
	}
	for _, l := range ls {
		if l.IP == ip("198.18.1.99") {
			t.Fatal("the unacknowledged record beyond the tear came back")
		}
	}
}

// A damaged record in the middle is quarantined (logged with its key,
// counted, saved), the others load, and the file is rewritten without it.
func TestDamagedRecordQuarantined(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	path := journalPath(t)
	s := openWithFive(t, path, c)
	s.Close()
	data, _ := os.ReadFile(path)
	i := bytes.Index(data, []byte(`"198.18.1.12"`))
	data[i+20] ^= 0x01 // one bit of the third record
	os.WriteFile(path, data, 0o600)
	var logs bytes.Buffer
	s = openAt(t, path, c, slog.New(slog.NewTextHandler(&logs, nil)))
	if st := s.Stats(); st.Quarantined != 1 {
		t.Fatalf("quarantined %d, want 1", st.Quarantined)
	}
	if _, ok := s.Get(ip("198.18.1.12")); ok {
		t.Fatal("the damaged record loaded")
	}
	if n := len(s.All()); n != 4 {
		t.Fatalf("%d leases loaded, want the 4 others", n)
	}
	if !strings.Contains(logs.String(), `key="\"198.18.1.12\""`) || !strings.Contains(logs.String(), "quarantined") {
		t.Fatalf("log does not name the record:\n%s", logs.String())
	}
	q, _ := os.ReadFile(path + quarantineSuffix)
	if !bytes.Contains(q, []byte("198.18.1.12")) {
		t.Fatalf("quarantine file: %q", q)
	}
	s.Close()
	if r, err := Check(path); err != nil || !r.OK() || r.Leases != 4 {
		t.Fatalf("after the rewrite: %+v %v", r, err)
	}
}

// check and repair: check lists the damage without touching the file,
// repair refuses while a store holds the file and rewrites it after.
func TestCheckRepair(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	path := journalPath(t)
	s := openWithFive(t, path, c)
	data, _ := os.ReadFile(path)
	data = bytes.Replace(data, []byte(`"state":"bound"`), []byte(`"state":"BOUND"`), 1)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt(data, 0)
	f.Close()
	r, err := Check(path)
	if err != nil || r.OK() || len(r.Bad) != 1 || r.Leases != 4 {
		t.Fatalf("check: %+v %v", r, err)
	}
	if _, err := Repair(path, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("repair while open: %v", err)
	}
	s.Close()
	if r, err := Repair(path, time.Second); err != nil || len(r.Bad) != 1 {
		t.Fatalf("repair: %+v %v", r, err)
	}
	if r, err := Check(path); err != nil || !r.OK() || r.Leases != 4 {
		t.Fatalf("after repair: %+v %v", r, err)
	}
}

// A bbolt store of the earlier versions is migrated at open: every lease
// kept, the old file kept beside it, a bad record quarantined.
func TestMigrateBbolt(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	path := journalPath(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []Lease
	err = db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket(bucketLeases)
		for i := range 50 {
			l := Lease{IP: ip(fmt.Sprint("198.18.1.", 10+i)), Client: cid(fmt.Sprint("c", i)), State: Bound,
				Start: c.t, Expiry: c.t.Add(time.Hour), Hostname: fmt.Sprint("h", i)}
			v, _ := json.Marshal(l)
			a := l.IP.As4()
			b.Put(a[:], v)
			want = append(want, l)
		}
		return b.Put([]byte{198, 18, 1, 200}, []byte("{not json"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path, c, nil)
	got := s.All()
	s.Close()
	if len(got) != len(want) {
		t.Fatalf("migrated %d leases, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].IP != want[i].IP || got[i].Hostname != want[i].Hostname || !got[i].Expiry.Equal(want[i].Expiry) {
			t.Fatalf("lease %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if r, err := Check(path); err != nil || r.Format != "journal" || r.Leases != 50 {
		t.Fatalf("after migration: %+v %v", r, err)
	}
	if ls, err := ReadFile(path+".bbolt", time.Second); err != nil || len(ls) != 50 {
		t.Fatalf("old file kept: %d %v", len(ls), err)
	}
	if q, _ := os.ReadFile(path + quarantineSuffix); !bytes.Contains(q, []byte("c61201c8")) {
		t.Fatalf("bad bbolt record not quarantined: %q", q)
	}
}

// Renewals make the journal longer than the leases need: it is compacted
// in the background and the file still holds exactly the store's leases.
func TestCompaction(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	path := journalPath(t)
	s := openAt(t, path, c, nil)
	s.compactMin = 4096
	var ps []*Pending
	for round := range 300 {
		for i := range 40 {
			_, p, err := s.BindAsync(BindRequest{Subnet: subnet, Client: cid(fmt.Sprint("c", i)), IP: ip(fmt.Sprint("198.18.1.", 10+i)), LeaseTime: time.Duration(round+1) * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		c.add(time.Second)
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	// One more commit lets the committer take the finished snapshot.
	for s.Stats().Compactions == 0 {
		bind(t, s, "tick", ip("198.18.1.100"), time.Hour)
	}
	want := s.All()
	st := s.Stats()
	s.Close()
	r, err := Check(path)
	if err != nil || r.Leases != len(want) || r.Records >= 12000 {
		t.Fatalf("after %d compactions: %+v %v", st.Compactions, r, err)
	}
	got, _ := ReadFile(path, time.Second)
	for i := range want {
		if got[i].IP != want[i].IP || !got[i].Expiry.Equal(want[i].Expiry) {
			t.Fatalf("lease %v: file %+v, store %+v", want[i].IP, got[i], want[i])
		}
	}
	t.Logf("%d records written, %d compactions, %d records in the file for %d leases", st.Leases, st.Compactions, r.Records, r.Leases)
}

// Put stores many leases in one commit (imports).
func TestPut(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	path := journalPath(t)
	s := openAt(t, path, c, nil)
	var ls []Lease
	for i := range 200 {
		ls = append(ls, Lease{IP: ip(fmt.Sprint("198.18.1.", 10+i)), Client: cid(fmt.Sprint("c", i)), State: Bound, Start: c.t, Expiry: c.t.Add(time.Hour)})
	}
	if err := s.Put(context.Background(), ls); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), []Lease{{IP: ip("198.18.1.1")}}); err == nil {
		t.Fatal("put of a lease without a state")
	}
	if st := s.Stats(); st.Transactions != 1 || st.Leases != 200 {
		t.Fatalf("stats %+v: want one commit of 200", st)
	}
	if a := offerTo(t, s, "new"); a.Less(ip("198.18.1.210")) {
		t.Fatalf("offered a put address %v", a)
	}
	s.Close()
	if got, _ := ReadFile(path, time.Second); len(got) != 200 {
		t.Fatalf("%d on disk", len(got))
	}
}

// FuzzDecodeRecord: no input makes the record decoder or the journal
// reader panic, and a record that decodes encodes back to one that
// decodes to the same lease.
func FuzzDecodeRecord(f *testing.F) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 8 {
		line, _ := appendRecord(nil, randomLease(rnd))
		f.Add(line)
		f.Add(append([]byte(fileHeader), line...))
	}
	f.Add([]byte("00000000 {}"))
	f.Add([]byte(fileHeader + "zzzzzzzz {\"ip\":\"1.2.3.4\"}\n\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if sc, err := scanJournal(data); err == nil {
			for _, l := range sc.leases {
				if l.check() != nil {
					t.Fatalf("journal reader kept a lease that fails check: %+v", l)
				}
			}
		}
		line, _, _ := bytes.Cut(data, []byte{'\n'})
		l, err := decodeRecord(line)
		if err != nil {
			return
		}
		again, err := appendRecord(nil, l)
		if err != nil {
			return // a time encoding/json cannot write either
		}
		back, err := decodeRecord(again[:len(again)-1])
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v\n%s", err, again)
		}
		a, _ := json.Marshal(l)
		b, _ := json.Marshal(back)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip changed the lease:\n%s\n%s", a, b)
		}
	})
}
