package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// DefaultPinDir is where xdhcp pins its maps and links.
const DefaultPinDir = "/sys/fs/bpf/xdhcp"

// PinDir is a directory on bpffs for xdhcp's pins.
type PinDir struct {
	Path string
	// Persistent is false when this process runs in a private mount
	// namespace (ip netns exec): pins made there vanish with it, so xdhcp
	// neither makes nor expects them.
	Persistent bool
}

// OpenPinDir prepares dir (mounting bpffs at its parent when it is a plain
// /sys/fs/bpf without one) if this process shares the host's mount
// namespace; otherwise it returns a non-persistent PinDir.
func OpenPinDir(dir string) (*PinDir, error) {
	pd := &PinDir{Path: dir}
	shared, err := sharesHostMounts()
	if err != nil || !shared {
		return pd, nil
	}
	parent := filepath.Dir(dir)
	if !isBPFFS(parent) {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, fmt.Errorf("pin dir %s: %w", parent, err)
		}
		if err := unix.Mount("bpf", parent, "bpf", 0, "mode=0700"); err != nil {
			return nil, fmt.Errorf("mount bpffs at %s: %w", parent, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "links"), 0o700); err != nil {
		return nil, fmt.Errorf("pin dir %s: %w", dir, err)
	}
	pd.Persistent = true
	return pd, nil
}

// initMountNSInode is the fixed inode of the initial mount namespace
// (PROC_MNT_INIT_INO, Linux 6.x), for hosts where /proc/1 is not readable.
const initMountNSInode = "mnt:[4026531832]"

// sharesHostMounts says whether this process sees the host's mounts (PID 1's,
// or the initial mount namespace when PID 1 hides its namespaces). Under
// `ip netns exec` it does not: that gives every command a private mount
// namespace whose mounts vanish with it.
func sharesHostMounts() (bool, error) {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return false, err
	}
	if init, err := os.Readlink("/proc/1/ns/mnt"); err == nil {
		return self == init, nil
	}
	return self == initMountNSInode, nil
}

func isBPFFS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.BPF_FS_MAGIC
}

func (pd *PinDir) linkPath(ifname string) string {
	return filepath.Join(pd.Path, "links", ifname)
}

func (pd *PinDir) mapPath(name string) string { return filepath.Join(pd.Path, name) }

// PinMaps pins m's maps (replacing older pins of the same name).
func (pd *PinDir) PinMaps(m *Maps) error {
	if !pd.Persistent {
		return nil
	}
	for _, name := range legacyMapNames {
		_ = os.Remove(pd.mapPath(name)) // an older build's counters: stale
	}
	for name, mp := range m.byName() {
		path := pd.mapPath(name)
		if err := mp.Pin(path); err != nil {
			if !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("pin map %s at %s: %w", name, path, err)
			}
			_ = os.Remove(path)
			if err := mp.Pin(path); err != nil {
				return fmt.Errorf("pin map %s at %s: %w", name, path, err)
			}
		}
	}
	return nil
}

func (pd *PinDir) loadMaps() (*Maps, error) {
	named := map[string]*ebpf.Map{}
	for _, name := range stateMapNames {
		m, err := ebpf.LoadPinnedMap(pd.mapPath(name), nil)
		if err != nil {
			closeAll(named)
			return nil, fmt.Errorf("load pinned map %s: %w", name, err)
		}
		named[name] = m
	}
	return fromNamed(named)
}

// Pinned lists what is pinned under the directory.
func (pd *PinDir) Pinned() ([]string, error) {
	var out []string
	err := filepath.WalkDir(pd.Path, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

// RemoveAll unpins everything xdhcp pinned (maps and links). Programs still
// attached through netlink keep working: the interface holds them.
func (pd *PinDir) RemoveAll() error {
	if !pd.Persistent {
		return nil
	}
	return os.RemoveAll(pd.Path)
}
