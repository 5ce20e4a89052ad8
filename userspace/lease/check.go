package lease

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Report is what Check found in a lease file (`xdhcp leases check`).
type Report struct {
	Path   string `json:"path"`
	Format string `json:"format"` // "journal", or "bbolt" (an earlier version's file)
	// Records are the good records, Leases the addresses they describe
	// (the last record of an address wins).
	Records int `json:"records"`
	Leases  int `json:"leases"`
	// Bad are the records that do not decode (quarantined at open).
	Bad []BadRecord `json:"bad"`
	// TornTail is the length of a record cut short at the end by a crash
	// (dropped at open; never acknowledged to a client).
	TornTail int64 `json:"torn_tail_bytes"`
}

// OK says whether the file needs no repair.
func (r Report) OK() bool { return len(r.Bad) == 0 }

// Check reads the lease file at path without changing it (a running
// daemon may hold it) and reports its damage.
func Check(path string) (Report, error) {
	r := Report{Path: path, Format: "journal", Bad: []BadRecord{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("check lease store %s: %w", path, err)
	}
	if isBbolt(data) {
		r.Format = "bbolt"
		ls, bad, err := readBbolt(path, time.Second)
		if err != nil {
			return r, err
		}
		r.Records, r.Leases, r.Bad = len(ls), len(ls), append(r.Bad, bad...)
		return r, nil
	}
	sc, err := scanJournal(data)
	if err != nil {
		return r, fmt.Errorf("check lease store %s: %w", path, err)
	}
	r.Records, r.Leases, r.TornTail = sc.records, len(sc.leases), sc.torn
	r.Bad = append(r.Bad, sc.bad...)
	return r, nil
}

// Repair rewrites the lease file at path without its damaged records
// (saved to PATH.quarantine) and without a torn tail; a bbolt file is
// migrated. It takes the file's lock: stop the daemon first (the daemon
// itself quarantines at start, so a restart repairs too).
func Repair(path string, timeout time.Duration) (Report, error) {
	f, err := lockFile(path, timeout)
	if errors.Is(err, errLocked) {
		return Report{Path: path}, fmt.Errorf("repair lease store %s: %w: stop it first", path, err)
	}
	if err != nil {
		return Report{Path: path}, fmt.Errorf("repair lease store %s: %w", path, err)
	}
	r, err := Check(path)
	if err != nil {
		f.Close()
		return r, err
	}
	if r.Format == "bbolt" {
		f.Close() // bbolt takes its own lock
		return r, migrateBbolt(path, timeout, discardLogger())
	}
	defer f.Close()
	if r.OK() && r.TornTail == 0 {
		return r, nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return r, fmt.Errorf("repair lease store %s: %w", path, err)
	}
	sc, err := scanJournal(data)
	if err != nil {
		return r, fmt.Errorf("repair lease store %s: %w", path, err)
	}
	ls := sortedLeases(sc.leases)
	if err := saveQuarantine(path, r.Bad); err != nil {
		return r, err
	}
	nj, err := writeSnapshot(path+".compact", ls)
	if err != nil {
		return r, fmt.Errorf("repair lease store %s: %w", path, err)
	}
	defer nj.close()
	if err := os.Rename(nj.path, path); err != nil {
		os.Remove(nj.path)
		return r, fmt.Errorf("repair lease store %s: %w", path, err)
	}
	return r, syncDir(path)
}
