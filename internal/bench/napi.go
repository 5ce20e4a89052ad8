package bench

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The receiving side of a NIC runs on its own CPU: the card DMAs frames
// into a ring and a CPU runs the driver's NAPI poll, and with it the XDP
// program. A veth has no card: by default its NAPI poll runs in the softirq
// of whoever sends, here the generator's CPU, so generator, veth and
// receiving program share one CPU and the program's cost is paid out of the
// generator's rate. Threaded NAPI (/sys/class/net/IF/threaded) moves the
// veth's poll into a kernel thread "napi/IF-ID", which the bench pins to a
// CPU the generator does not use: the receiver then has a CPU to itself, as
// behind a NIC, and a receiver that cannot keep up loses frames at the
// veth's ring (counted as sent, not received).

// sysfsThreaded writes v to IF's threaded attribute through sysfs, from
// inside do (the interface's network namespace). sysfs shows the devices of
// the namespace its mount was made in, so when the mounted /sys does not
// have IF a fresh sysfs is mounted on a temporary directory from inside
// the namespace. It returns the previous value.
func sysfsThreaded(do func(func() error) error, iface string, v string) (prev string, err error) {
	err = do(func() error {
		write := func(root string) error {
			p := filepath.Join(root, "class/net", iface, "threaded")
			old, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			prev = strings.TrimSpace(string(old))
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", p, err)
			}
			return nil
		}
		var ifindex int
		if b, err := os.ReadFile(filepath.Join("/sys/class/net", iface, "ifindex")); err == nil {
			ifindex, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if ifindex != 0 && ifindex == currentIndex(iface) {
			return write("/sys")
		}
		dir, err := os.MkdirTemp("", "xb-sysfs-")
		if err != nil {
			return err
		}
		defer os.Remove(dir)
		if err := unix.Mount("sysfs", dir, "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount sysfs for the namespace: %w", err)
		}
		defer unix.Unmount(dir, unix.MNT_DETACH)
		return write(dir)
	})
	if err != nil {
		return "", fmt.Errorf("threaded NAPI on %s: %w", iface, err)
	}
	return prev, nil
}

// currentIndex is iface's index in the calling thread's network namespace
// (0 when it has none).
func currentIndex(iface string) int {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return 0
	}
	return ifi.Index
}

// napiThreads lists the kernel threads polling iface's NAPI instances
// ("napi/IF-ID", the name cut to 15 bytes as the kernel does), in the
// order of their NAPI IDs when the name keeps them (the IDs are handed out
// in queue order), else of their pids.
func napiThreads(iface string) ([]int, error) {
	prefix := "napi/" + iface + "-"
	if len(prefix) > 15 {
		prefix = prefix[:15]
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	type thread struct{ pid, id int }
	var ts []thread
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		name := strings.TrimSpace(string(comm))
		if err != nil || !strings.HasPrefix(name, prefix) {
			continue
		}
		id, err := strconv.Atoi(strings.TrimPrefix(name, prefix))
		if err != nil {
			id = 0
		}
		ts = append(ts, thread{pid, id})
	}
	slices.SortFunc(ts, func(a, b thread) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.pid, b.pid)) })
	pids := make([]int, len(ts))
	for i, t := range ts {
		pids[i] = t.pid
	}
	return pids, nil
}

// pinNAPI pins iface's NAPI threads, the k-th (in queue order) to
// cpus[k mod len(cpus)], and returns their pids.
func pinNAPI(iface string, cpus ...int) ([]int, error) {
	pids, err := napiThreads(iface)
	if err != nil {
		return nil, err
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no NAPI thread for %s (napi/%s-*): threaded NAPI did not take", iface, iface)
	}
	var errs []error
	for k, pid := range pids {
		var set unix.CPUSet
		cpu := cpus[k%len(cpus)]
		set.Set(cpu)
		if err := unix.SchedSetaffinity(pid, &set); err != nil {
			errs = append(errs, fmt.Errorf("pin napi thread %d to CPU %d: %w", pid, cpu, err))
		}
	}
	return pids, errors.Join(errs...)
}

// cpuNanos is the time the tasks ran on a CPU, in nanoseconds (the first
// field of /proc/PID/schedstat; /proc/PID/stat's clock ticks are too
// coarse for slices of a fraction of a second).
func cpuNanos(pids []int) uint64 {
	var sum uint64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		sum += n
	}
	return sum
}
