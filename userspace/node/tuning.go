package node

// The tuning file keeps live changes (xdhcp threshold|buckets set while
// serve runs) across restarts. It sits beside the lease store (DB +
// ".tuning"), is written atomically (a temporary file, fsync, rename,
// fsync of the directory) and records the flags it was made against:
//
//	{"version":1,"flags":{"threshold":6,"hba":"ff.."},"tuning":{"threshold":2,"hba":"ff.."},"written":"..."}
//
// At start, when serve's flags still give the same threshold and
// assignment as "flags", the file's "tuning" applies; when the flags
// changed since, the operator changed their mind after tuning: the flags
// apply and the file is removed. docs/configuration.md says the same.

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Tuning is what both servers of a pair must use (and what a standalone
// server keeps across restarts): the threshold and the bucket assignment.
type Tuning struct {
	Threshold uint16     `json:"threshold"`
	HBA       decide.HBA `json:"hba"`
}

type tuningFile struct {
	Version int       `json:"version"`
	Flags   Tuning    `json:"flags"`
	Tuning  Tuning    `json:"tuning"`
	Written time.Time `json:"written"`
}

const tuningVersion = 1

// readTuning reads path; a missing file is (nil, nil), a damaged one an
// error naming the file.
func readTuning(path string) (*tuningFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tuning file %s: %w", path, err)
	}
	var f tuningFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("tuning file %s: %w (fix it, or remove it to use the flags)", path, err)
	}
	if f.Version != tuningVersion {
		return nil, fmt.Errorf("tuning file %s: version %d, this xdhcp reads %d (remove it to use the flags)", path, f.Version, tuningVersion)
	}
	return &f, nil
}

// writeTuning replaces path atomically: a reader sees the old file or the
// new one, and after a crash one of them is on disk whole.
func writeTuning(path string, f tuningFile) error {
	f.Version = tuningVersion
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("tuning file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("tuning file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tuning file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tuning file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tuning file %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tuning file %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tuning file %s: sync directory: %w", path, err)
	}
	return nil
}

// applyTuningFile lays the tuning file over the flags' rule (see the top
// of this file) and says where threshold and assignment came from.
func applyTuningFile(path string, r decide.Rule, source string, log *slog.Logger) (decide.Rule, string, error) {
	if source == "" {
		source = "flags"
	}
	f, err := readTuning(path)
	if err != nil || f == nil {
		return r, source, err
	}
	flags := Tuning{Threshold: r.Threshold, HBA: r.HBA}
	if f.Flags != flags {
		log.Warn("the flags changed since the live tuning was made: the flags apply and the tuning file is removed",
			"file", path, "tuned_against_threshold", f.Flags.Threshold, "threshold", r.Threshold,
			"tuned_against_buckets", f.Flags.HBA.Count(r.Role), "buckets", r.HBA.Count(r.Role))
		if err := os.Remove(path); err != nil {
			return r, source, fmt.Errorf("tuning file %s: %w", path, err)
		}
		return r, source, nil
	}
	r.Threshold, r.HBA = f.Tuning.Threshold, f.Tuning.HBA
	return r, fmt.Sprintf("tuning file %s (written %s) over %s", path, f.Written.Format(time.RFC3339), source), nil
}
