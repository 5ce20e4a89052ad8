package lease

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"
)

// committer writes queued leases. Adaptive group commit: a change that
// finds the last fsync begun longer than CommitInterval ago is written at
// once; under load the changes arriving within the interval share one
// write and one fsync (fsyncs cost about 60 us of CPU each here, so the
// pace sets the store's CPU per exchange, docs/perf-responder.md).
func (s *Store) committer(ctx context.Context) {
	defer close(s.done)
	defer s.compaction.abandon()
	var last time.Time // when the last write began
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-s.wake:
		case r := <-s.compaction.done:
			s.finishCompaction(r)
			continue
		case <-ctx.Done():
			s.drain()
			return
		}
		if wait := s.every - time.Since(last); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done(): // write what is queued, then stop
				timer.Stop()
			}
		}
		batch := s.take()
		if len(batch) == 0 {
			continue
		}
		last = time.Now()
		s.write(batch)
		s.giveBack(batch)
		s.maybeCompact()
	}
}

// drain fails commits that arrive while closing.
func (s *Store) drain() {
	s.qmu.Lock()
	s.closing = true
	q := s.queue
	s.queue = nil
	s.qfull.Broadcast()
	s.qmu.Unlock()
	for _, c := range q {
		c.done(errClosed)
	}
}

func (s *Store) write(batch []*commit) {
	n := 0
	buf := s.j.buf[:0]
	var err error
encode:
	for _, c := range batch {
		for _, l := range c.leases {
			if buf, err = appendRecord(buf, l); err != nil {
				err = fmt.Errorf("encode lease %v: %w", l.IP, err)
				break encode
			}
			n++
		}
	}
	if err == nil {
		err = s.j.write(buf, n)
	}
	if cap(buf) <= 1<<20 {
		s.j.buf = buf // reused by the next batch
	}
	if err != nil {
		s.compaction.failed = true // its index was reverted: the snapshot is stale
		n = 0
		for _, c := range batch {
			n += len(c.leases)
		}
		err = fmt.Errorf("commit %d lease changes to %s: %w", n, s.path, err)
		s.failed(err, n)
	} else {
		s.txs.Add(1)
		s.written.Add(uint64(n))
		s.recovered()
	}
	for _, c := range batch {
		c.done(err)
	}
	s.subMu.Lock()
	after := s.afterCommit
	s.subMu.Unlock()
	for _, fn := range after {
		fn()
	}
}

// AfterCommits calls fn on the committer after each group commit, once
// the callbacks of its changes have run: the daemon sends the replies they
// queued in one system call. fn must be quick.
func (s *Store) AfterCommits(fn func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.afterCommit = append(s.afterCommit[:len(s.afterCommit):len(s.afterCommit)], fn)
}

// compactMin is the journal's least length in records before compaction
// is considered (about 16 MB; a small pool's renewals would otherwise
// compact it every few seconds); then it compacts once it holds more than
// twice as many records as there are leases.
const compactMin = 1 << 16

// compaction rewrites the journal as one record per address, off the hot
// path: the committer copies the index at a batch boundary (every record
// up to from is in that copy), a goroutine writes and syncs the copy as a
// new file, and the committer then appends the records written meanwhile
// (from..end) and renames the new file over the old.
type compaction struct {
	running bool
	failed  bool  // a commit failed after the copy: its change was undone in the index
	from    int64 // journal end at the copy
	done    chan compactResult
}

type compactResult struct {
	j   *journal
	err error
}

// abandon waits for a running snapshot and throws it away (closing).
func (c *compaction) abandon() {
	if !c.running {
		return
	}
	if r := <-c.done; r.j != nil {
		r.j.close()
		os.Remove(r.j.path)
	}
	c.running = false
}

func (s *Store) maybeCompact() {
	c := &s.compaction
	if c.running {
		return
	}
	s.mu.Lock()
	if s.j.records < s.compactMin || s.j.records <= 2*len(s.byIP) {
		s.mu.Unlock()
		return
	}
	snap := make([]Lease, 0, len(s.byIP))
	for _, l := range s.byIP {
		snap = append(snap, l)
	}
	s.mu.Unlock()
	c.running, c.failed, c.from = true, false, s.j.end
	if c.done == nil {
		c.done = make(chan compactResult, 1)
	}
	tmp := s.path + ".compact"
	go func() {
		SortByIP(snap)
		j, err := writeSnapshot(tmp, snap)
		c.done <- compactResult{j, err}
	}()
}

func (s *Store) finishCompaction(r compactResult) {
	c := &s.compaction
	c.running = false
	if r.err != nil {
		s.log.Warn("lease store compaction failed: the journal keeps growing until the next try", "db", s.path, "err", r.err)
		os.Remove(s.path + ".compact")
		return
	}
	if c.failed {
		r.j.close()
		os.Remove(r.j.path)
		return
	}
	tail := make([]byte, s.j.end-c.from)
	if _, err := s.j.f.ReadAt(tail, c.from); err != nil {
		s.log.Warn("lease store compaction: read the tail", "db", s.path, "err", err)
		r.j.close()
		os.Remove(r.j.path)
		return
	}
	if err := s.switchTo(r.j, tail); err != nil {
		s.log.Warn("lease store compaction failed: keeping the journal as it is", "db", s.path, "err", err)
		return
	}
	s.compactions.Add(1)
}

// switchTo appends tail (whole records) to the new journal nj, renames it
// over the store's file and makes it the one written from now on.
func (s *Store) switchTo(nj *journal, tail []byte) error {
	err := nj.write(tail, bytes.Count(tail, []byte{'\n'}))
	if err == nil {
		err = os.Rename(nj.path, s.path)
	}
	if err == nil {
		err = syncDir(s.path)
	}
	if err != nil {
		nj.close()
		os.Remove(nj.path)
		return err
	}
	old := s.j
	nj.path, nj.buf = s.path, old.buf
	s.j = nj
	old.close()
	return nil
}

// quarantine logs, counts and saves the records Open could not decode,
// then rewrites the journal without them so they are not met again.
func (s *Store) quarantine(bad []BadRecord) error {
	for i, b := range bad {
		if i == maxBadLogged {
			s.log.Warn("lease records quarantined: more not logged", "db", s.path, "count", len(bad))
			break
		}
		s.log.Warn("lease record quarantined: it does not decode and is skipped; the other leases load",
			"db", s.path, "offset", b.Offset, "key", b.Key, "err", b.Err, "saved_to", s.path+quarantineSuffix)
	}
	s.quarantined = len(bad)
	if err := saveQuarantine(s.path, bad); err != nil {
		return err
	}
	nj, err := writeSnapshot(s.path+".compact", s.All())
	if err != nil {
		return fmt.Errorf("rewrite without the damaged records: %w", err)
	}
	return s.switchTo(nj, nil)
}

const maxBadLogged = 20
