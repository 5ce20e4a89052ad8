package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Listen creates the control socket at path: mode 0600 (0660 and the
// group's when group is set), in a directory created 0750 when missing.
// A socket another live daemon answers on is never taken over: Listen
// probes it and refuses. A stale one (nobody answers) is replaced.
//
// The socket is bound under a temporary name, given its mode and owner,
// and then hard-linked to path: nobody can connect before the mode is
// right, and of two daemons starting at once one gets EEXIST.
func Listen(path, group string) (net.Listener, error) {
	gid := -1
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("--control-group %q: %w", group, err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("--control-group %q: gid %q: %w", group, g.Gid, err)
		}
	}
	dir := filepath.Dir(path)
	if err := makeDir(dir, gid); err != nil {
		return nil, err
	}
	if err := claimable(path); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".xdhcp-ctl-%d", os.Getpid()))
	_ = os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	mode := os.FileMode(0o600)
	if gid >= 0 {
		mode = 0o660
		if err := os.Chown(tmp, -1, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("another process created it just now")
		}
		return fail(err)
	}
	os.Remove(tmp)
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &listener{UnixListener: ln, path: path, fi: fi}, nil
}

// makeDir creates the socket's directory 0750 (group gid when set); a
// directory that exists is left as its owner made it.
func makeDir(dir string, gid int) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("control socket directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return fmt.Errorf("control socket directory %s: %w", dir, err)
	}
	if gid >= 0 {
		if err := os.Chown(dir, -1, gid); err != nil {
			return fmt.Errorf("control socket directory %s: %w", dir, err)
		}
	}
	return nil
}

// claimable removes a stale socket at path and refuses a live one or a
// file that is not a socket.
func claimable(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control socket %s: exists and is not a socket (%s): remove it or give another --control", path, fi.Mode().Type())
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another running daemon answers on it: stop it, or give this one another --control", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control socket %s: exists and cannot be probed (%v): refusing to remove it", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("control socket %s: remove stale socket: %w", path, err)
	}
	return nil
}

// listener removes its path on Close, unless another daemon has put its
// own socket there meanwhile.
type listener struct {
	*net.UnixListener
	path string
	fi   os.FileInfo
}

func (l *listener) Close() error {
	err := l.UnixListener.Close()
	if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.fi) {
		os.Remove(l.path)
	}
	return err
}
