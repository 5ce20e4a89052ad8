package lease

import (
	"errors"
	"syscall"
	"time"
)

// Fault is a failed commit: the store could not write (disk full,
// read-only filesystem, I/O error). Nothing already stored is lost: the
// journal's end stays where it was (the failed write is zeroed) and the
// failed changes are undone in memory.
type Fault struct {
	Err   error
	Cause string // "disk full", "read-only filesystem", ... for operators
	Since time.Time
	At    time.Time // the latest failure
}

// faultHold is how long after a failed commit Fault keeps reporting it
// when nothing commits meanwhile: long enough that a storm of DISCOVERs
// gets no OFFERs the store could not honour, short enough that the next
// REQUEST soon tries the disk again (its commit is the probe).
const faultHold = 5 * time.Second

// faultLogEvery bounds the failure log to one line per interval: a storm
// of failing commits must not flood the log.
const faultLogEvery = 10 * time.Second

// faultLog is the committer's log limiter (only the committer touches it).
type faultLog struct {
	last       time.Time
	suppressed uint64
}

// Fault reports the last commit failure when no commit has succeeded
// since and it is recent (faultHold), else nil.
func (s *Store) Fault() *Fault {
	f := s.fault.Load()
	if f == nil || s.now().Sub(f.At) > faultHold {
		return nil
	}
	return f
}

// failed records a failed commit of n lease changes: counters, the fault
// state and a rate-limited error naming the file and the cause.
func (s *Store) failed(err error, n int) {
	s.failedTxs.Add(1)
	s.notStored.Add(uint64(n))
	now := s.now()
	f := &Fault{Err: err, Cause: faultCause(err), Since: now, At: now}
	if prev := s.fault.Load(); prev != nil {
		f.Since = prev.Since
	}
	s.fault.Store(f)
	l := &s.faultLog
	if !l.last.IsZero() && now.Sub(l.last) < faultLogEvery {
		l.suppressed++
		return
	}
	s.log.Error("lease store write failed: no reply that changes a lease is sent until it recovers; leases already stored are intact",
		"db", s.path, "cause", f.Cause, "err", err, "failing_since", f.Since, "lines_not_logged", l.suppressed,
		"failed_transactions", s.failedTxs.Load())
	l.last, l.suppressed = now, 0
}

// recovered clears the fault after a successful commit. On a full disk a
// commit that fits in the space the journal wrote ahead still succeeds
// while one that needs the file to grow fails, so success and failure may
// alternate: the one log limiter covers both lines.
func (s *Store) recovered() {
	f := s.fault.Swap(nil)
	if f == nil {
		return
	}
	l := &s.faultLog
	if now := s.now(); !l.last.IsZero() && now.Sub(l.last) < faultLogEvery {
		l.suppressed++
		return
	}
	s.log.Info("lease store wrote again", "db", s.path, "failing_since", f.Since, "cause", f.Cause,
		"failed_transactions", s.failedTxs.Load(), "lines_not_logged", l.suppressed)
	l.last, l.suppressed = s.now(), 0
}

// faultCause names the usual causes of a failed write.
func faultCause(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "disk full"
	case errors.Is(err, syscall.EROFS):
		return "read-only filesystem"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "permission denied"
	case errors.Is(err, syscall.EIO):
		return "I/O error"
	}
	return "write failed"
}
