package lease

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// journal is the lease file's writer. One goroutine (the committer) uses
// it; it appends a batch of records with one pwrite and one fdatasync.
//
// Space is written ahead as zeros (growth): an fdatasync then flushes only
// the records' blocks, not the inode (the size does not change), which is
// about half the CPU of an append here. ENOSPC shows when the slack runs
// out, on the commit that needs more.
type journal struct {
	path    string
	f       *os.File
	end     int64 // end of the good records
	size    int64 // end of the zeros written ahead
	records int   // records in the file (compaction compares it with the leases)
	buf     []byte
}

const (
	// growMin and growMax bound how much zero space is written ahead at once.
	growMin = 64 << 10
	growMax = 8 << 20
	// slackMin is the free space a commit must leave; below it the commit
	// first grows the file (and fails when the disk is full).
	slackMin = 4 << 10
)

// errNotLeaseFile refuses to touch a file that is neither a lease journal
// nor a bbolt lease store.
var errNotLeaseFile = errors.New("not an xdhcp lease file (no header, no record)")

// lockFile takes the exclusive lock of path's file for up to timeout. The
// lock is on the inode: after a compaction renamed a new file over path,
// an older descriptor's lock no longer counts, so the inode is checked.
func lockFile(path string, timeout time.Duration) (*os.File, error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			var a, b unix.Stat_t
			if unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat(path, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
				return f, nil
			}
			f.Close() // replaced meanwhile: lock the new one
			continue
		}
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, errLocked
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var errLocked = errors.New("locked by another process (a running daemon?)")

// scan is what reading a journal found.
type scan struct {
	leases  map[[4]byte]Lease // the last record of each address
	records int               // good records
	end     int64             // end of the last good record
	bad     []BadRecord       // damaged records before the end (quarantined)
	torn    int64             // bytes of a torn tail dropped after end
}

// BadRecord is a record that does not decode.
type BadRecord struct {
	Offset int64  `json:"offset"`
	Key    string `json:"key"`
	Err    string `json:"error"`
	Line   []byte `json:"-"`
}

// scanJournal reads a journal's records. A record that does not decode
// is a torn tail when no good record follows it, else damage: listed in
// bad and skipped.
func scanJournal(data []byte) (*scan, error) {
	sc := &scan{leases: map[[4]byte]Lease{}}
	off := 0
	if bytes.HasPrefix(data, []byte(fileHeader)) {
		off = len(fileHeader)
	} else if len(data) > 0 && data[0] != 0 {
		// A damaged first line: quarantine it if records follow.
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return nil, errNotLeaseFile
		}
		sc.bad = append(sc.bad, BadRecord{Offset: 0, Key: "header", Err: "not the xdhcp-leases header", Line: data[:nl]})
		off = nl + 1
	}
	sc.end = int64(off)
	var pending []BadRecord // bad records not yet followed by a good one
	for off < len(data) && data[off] != 0 {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			pending = append(pending, BadRecord{Offset: int64(off), Key: keyOf(data[off:]), Err: "no end of line (cut short)", Line: data[off:]})
			break
		}
		line := data[off : off+nl]
		if z := bytes.IndexByte(line, 0); z >= 0 {
			// Zeros inside a line: a write that did not finish.
			pending = append(pending, BadRecord{Offset: int64(off), Key: keyOf(line), Err: "zero bytes inside (cut short)", Line: line[:z]})
			break
		}
		l, err := decodeRecord(line)
		if err != nil {
			pending = append(pending, BadRecord{Offset: int64(off), Key: keyOf(line), Err: err.Error(), Line: line})
			off += nl + 1
			continue
		}
		sc.bad = append(sc.bad, pending...)
		pending = pending[:0]
		sc.leases[l.IP.As4()] = l
		sc.records++
		off += nl + 1
		sc.end = int64(off)
	}
	if sc.records == 0 && len(sc.bad) > 0 && sc.bad[0].Key == "header" {
		return nil, errNotLeaseFile
	}
	for i := sc.end; i < int64(len(data)); i++ {
		if data[i] != 0 {
			sc.torn = int64(len(data)) - sc.end
			break
		}
	}
	return sc, nil
}

// bboltMagic is at offset 16 of a bbolt file (little-endian 0xED0CDAED).
var bboltMagic = []byte{0xed, 0xda, 0x0c, 0xed}

func isBbolt(data []byte) bool { return len(data) >= 20 && bytes.Equal(data[16:20], bboltMagic) }

// openJournal locks and reads the journal at path (creating it), drops a
// torn tail, and leaves it ready for appends.
func openJournal(path string, timeout time.Duration) (*journal, *scan, error) {
	f, err := lockFile(path, timeout)
	if err != nil {
		return nil, nil, err
	}
	j := &journal{path: path, f: f}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if len(data) == 0 {
		if err := j.create(); err != nil {
			f.Close()
			return nil, nil, err
		}
		return j, &scan{leases: map[[4]byte]Lease{}, end: int64(len(fileHeader))}, nil
	}
	sc, err := scanJournal(data)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	j.end, j.size, j.records = sc.end, int64(len(data)), sc.records
	if sc.torn > 0 {
		// Zero the torn tail so no later read mistakes its bytes for
		// records once new ones are written before them.
		err := j.zero(sc.end, j.size)
		if err == nil {
			err = unix.Fdatasync(int(f.Fd()))
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("drop the torn tail: %w", err)
		}
	}
	return j, sc, nil
}

// create writes the header and the first zeros of a new journal.
func (j *journal) create() error {
	if _, err := j.f.WriteAt([]byte(fileHeader), 0); err != nil {
		return err
	}
	j.end, j.size = int64(len(fileHeader)), int64(len(fileHeader))
	if err := j.grow(0); err != nil && !isNoSpace(err) {
		return err
	}
	if err := unix.Fdatasync(int(j.f.Fd())); err != nil {
		return err
	}
	return syncDir(j.path)
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// zero overwrites [from, to) with zeros.
func (j *journal) zero(from, to int64) error {
	z := make([]byte, min(to-from, 1<<20))
	for off := from; off < to; off += int64(len(z)) {
		n := min(int64(len(z)), to-off)
		if _, err := j.f.WriteAt(z[:n], off); err != nil {
			return err
		}
	}
	return nil
}

// grow writes zeros ahead so that need more bytes fit with slack to spare.
func (j *journal) grow(need int) error {
	if j.size-j.end-int64(need) >= slackMin {
		return nil
	}
	step := min(max(j.size/8, growMin, int64(need)+slackMin), max(growMax, int64(need)+slackMin))
	if err := j.zero(j.size, j.size+step); err != nil {
		// Give back what part of the zeros did land: the size is known again.
		j.f.Truncate(j.size)
		return err
	}
	j.size += step
	return nil
}

// write appends the encoded records in buf (n of them) and syncs. On
// failure nothing of buf counts: its bytes are zeroed (best effort) so a
// later read cannot take them for records, and end stays.
func (j *journal) write(buf []byte, n int) error {
	if err := j.grow(len(buf)); err != nil {
		return err
	}
	if _, err := j.f.WriteAt(buf, j.end); err != nil {
		j.zero(j.end, j.end+int64(len(buf)))
		return err
	}
	if err := j.sync(); err != nil {
		j.zero(j.end, j.end+int64(len(buf)))
		return err
	}
	j.end += int64(len(buf))
	j.records += n
	return nil
}

func (j *journal) close() error { return j.f.Close() }

// syncDir makes a rename or a new file in path's directory durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeSnapshot writes leases as a new journal at tmp (locked, synced) and
// returns it open; the caller appends the tail and renames it.
func writeSnapshot(tmp string, leases []Lease) (*journal, error) {
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	j := &journal{path: tmp, f: f}
	buf := append([]byte(nil), fileHeader...)
	for _, l := range leases {
		if buf, err = appendRecord(buf, l); err != nil {
			f.Close()
			os.Remove(tmp)
			return nil, fmt.Errorf("encode lease %v: %w", l.IP, err)
		}
	}
	if _, err := f.WriteAt(buf, 0); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	j.end, j.size, j.records = int64(len(buf)), int64(len(buf)), len(leases)
	if err := j.grow(0); err != nil && !isNoSpace(err) {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	return j, nil
}

// sync makes the records written so far durable, through the ordinary
// system call path: a disk that stalls then stalls only the committer (the
// scheduler hands its P on), and DISCOVERs, INFORMs and the failover link
// go on while the ACKs wait. Holding the P through the sync (RawSyscall)
// cost 13-27% less CPU per DORA in process, but under the suite's disk
// contention a slow sync held the one P and OFFERs waited up to 1.2 s
// (docs/perf-responder.md, step 4).
func (j *journal) sync() error { return unix.Fdatasync(int(j.f.Fd())) }
