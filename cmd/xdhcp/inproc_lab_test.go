package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// inProc runs commands in process with this test's thread inside the lab's
// server namespace (labnet's Do: the thread is switched, the mounts stay
// the host's, so the pins persist), as tubectl's tests do.
type inProc struct {
	l       *liveLab
	pinDir  string
	control string
}

func newInProc(t *testing.T, prefix string) *inProc {
	t.Helper()
	l := newLab(t, prefix)
	p := &inProc{l: l, pinDir: fmt.Sprintf("/sys/fs/bpf/xdhcp-test-%s-%d", prefix, os.Getpid()),
		control: filepath.Join(t.TempDir(), "none.sock")}
	t.Cleanup(func() {
		_, _ = p.run(t, "detach", "--iface", "srv0", "--unpin")
		os.RemoveAll(p.pinDir)
	})
	return p
}

// run runs one command line in the namespace with the lab's pin dir and
// a control socket nobody answers on.
func (p *inProc) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out string
	err := p.l.srv.Do(func() error {
		var err error
		out, err = runApp(t, append(args, "--pin-dir", p.pinDir)...)
		return err
	})
	return out, err
}
