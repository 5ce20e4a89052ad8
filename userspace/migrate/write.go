package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// EncodeConfig writes the configuration as YAML (header on top, where each
// subnet and reservation came from beside it) and checks that
// config.Parse reads back exactly this configuration, validated.
func (r *Result) EncodeConfig(header string) ([]byte, error) {
	out, err := config.Encode(r.Config, config.EncodeOptions{
		Header: header, Comments: r.Comments,
		OptionForm: func(o config.Option) string { return Form(o.Code) },
	})
	if err != nil {
		return nil, err
	}
	back, err := config.Parse("the imported configuration", out)
	if err != nil {
		return nil, fmt.Errorf("the imported configuration does not validate: %w", err)
	}
	if !config.Same(r.Config, back) {
		return nil, fmt.Errorf("the imported configuration does not read back as written (a bug: please report it with the source file)")
	}
	return out, nil
}

// WriteFile writes data to path whole or not at all: a temporary file in
// the same directory, synced, then renamed over path.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ErrStoreExists refuses to write into a store that already exists: an
// import starts a new one, it does not merge.
var ErrStoreExists = errors.New("the lease store already exists (an import writes a new one: move it away or give another --db)")

// WriteStore creates the lease store at path and puts the leases in one
// commit. Nothing is left at path when it fails.
func (r *Result) WriteStore(path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s: %w", path, ErrStoreExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lease store %s: %w", path, err)
	}
	st, err := lease.Open(path, lease.Options{})
	if err != nil {
		return err
	}
	err = st.Put(context.Background(), r.Leases)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write lease store %s: %w", path, err)
	}
	return nil
}
