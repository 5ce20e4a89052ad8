package lease

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// quarantineSuffix names the file that keeps the raw records that did
// not decode (appended, never read back by the daemon).
const quarantineSuffix = ".quarantine"

// ReadFile lists the leases in the store file at path without a daemon.
// It takes the file's lock shared, so it fails after timeout while a
// daemon holds the file (ask the daemon instead; lease.Check reads a held
// file). A bbolt file of an earlier version is read as it is.
func ReadFile(path string, timeout time.Duration) ([]Lease, error) {
	data, err := readLocked(path, timeout)
	if errors.Is(err, errLocked) {
		return nil, fmt.Errorf("read lease store %s: locked by a running daemon", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read lease store %s: %w", path, err)
	}
	if isBbolt(data) {
		ls, _, err := readBbolt(path, timeout)
		return ls, err
	}
	sc, err := scanJournal(data)
	if err != nil {
		return nil, fmt.Errorf("read lease store %s: %w", path, err)
	}
	return sortedLeases(sc.leases), nil
}

// readLocked reads path under a shared lock taken within timeout.
func readLocked(path string, timeout time.Duration) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deadline := time.Now().Add(timeout)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, errLocked
		}
		time.Sleep(10 * time.Millisecond)
	}
	return io.ReadAll(f)
}

func sortedLeases(m map[[4]byte]Lease) []Lease {
	out := make([]Lease, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	SortByIP(out)
	return out
}

var bucketLeases = []byte("leases")

// readBbolt reads a bbolt lease store of an earlier version: its leases
// and the records that do not decode.
func readBbolt(path string, timeout time.Duration) (ls []Lease, bad []BadRecord, err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, nil, fmt.Errorf("read lease store %s: locked by a running daemon", path)
		}
		return nil, nil, fmt.Errorf("read lease store %s: %w", path, err)
	}
	defer db.Close()
	defer func() {
		// bbolt panics on some damaged pages: an error, not a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("read lease store %s: damaged bbolt file: %v", path, r)
		}
	}()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			l, err := decodeBbolt(k, v)
			if err != nil {
				bad = append(bad, BadRecord{Key: fmt.Sprintf("%x", k), Err: err.Error(), Line: append([]byte(nil), v...)})
				return nil
			}
			ls = append(ls, l)
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read lease store %s: %w", path, err)
	}
	return ls, bad, nil
}

// migrateBbolt turns a bbolt store at path into a journal: the journal is
// written and synced beside it, the old file is kept as PATH.bbolt (a
// hard link), and a rename swaps them, so a crash at any point leaves
// either the old file or the complete new one at path.
func migrateBbolt(path string, timeout time.Duration, log *slog.Logger) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	f.Close()
	if !isBbolt(head[:n]) {
		return nil
	}
	ls, bad, err := readBbolt(path, timeout)
	if err != nil {
		return err
	}
	if err := writeJournalFile(path, ls); err != nil {
		return fmt.Errorf("migrate from bbolt: %w", err)
	}
	log.Info("lease store migrated from bbolt to the journal", "db", path, "leases", len(ls), "old_file", path+".bbolt")
	for i, b := range bad {
		if i < maxBadLogged {
			log.Warn("lease record quarantined: it does not decode and is skipped; the other leases load",
				"db", path, "key", b.Key, "err", b.Err, "saved_to", path+quarantineSuffix)
		}
	}
	return saveQuarantine(path, bad)
}

// writeJournalFile replaces the file at path with a journal of ls,
// keeping the old file as PATH.bbolt.
func writeJournalFile(path string, ls []Lease) error {
	tmp := path + ".migrate"
	SortByIP(ls)
	nj, err := writeSnapshot(tmp, ls)
	if err != nil {
		return err
	}
	defer nj.close()
	old := path + ".bbolt"
	os.Remove(old)
	if err := os.Link(path, old); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keep the old file as %s: %w", old, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(path)
}

// saveQuarantine appends the raw bad records to PATH.quarantine, one per
// line after a comment naming where each came from.
func saveQuarantine(path string, bad []BadRecord) error {
	if len(bad) == 0 {
		return nil
	}
	f, err := os.OpenFile(path+quarantineSuffix, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	defer f.Close()
	var buf []byte
	now := time.Now().UTC().Format(time.RFC3339)
	for _, b := range bad {
		buf = fmt.Appendf(buf, "# %s %s offset %d key %s: %s\n", now, path, b.Offset, b.Key, b.Err)
		buf = append(append(buf, b.Line...), '\n')
	}
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	return unix.Fsync(int(f.Fd()))
}

// Put stores leases as given (an import, a restore) in one commit, after
// what the store holds for their addresses, and returns once they are
// durable. Each must be an IPv4 address with a known state; of two for
// one address the later in ls wins. Subscribers are not called.
func (s *Store) Put(ctx context.Context, ls []Lease) error {
	for _, l := range ls {
		if err := l.check(); err != nil {
			return fmt.Errorf("put leases: %w", err)
		}
		if _, err := l.encode(); err != nil {
			return fmt.Errorf("put lease %v: %w", l.IP, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	type undo struct {
		l, old Lease
		had    bool
	}
	undos := make([]undo, 0, len(ls))
	s.mu.Lock()
	for _, l := range ls {
		old, had := s.byIP[l.IP]
		undos = append(undos, undo{l, old, had})
		s.index(l)
	}
	s.mu.Unlock()
	return s.enqueue(append([]Lease(nil), ls...), func(err error) {
		if err != nil {
			for i := len(undos) - 1; i >= 0; i-- {
				s.revert(undos[i].l, undos[i].old, undos[i].had)
			}
		}
	}).Wait()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
