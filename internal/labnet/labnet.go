// Package labnet builds throwaway network namespaces and veth links for the
// lab, the benchmarks and the integration tests, and removes them again.
package labnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is a named network namespace created by this process.
type NS struct {
	Name string
}

// ip runs an iproute2 command and returns its combined output in errors.
func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NewNS creates namespace name with its loopback up.
func NewNS(ctx context.Context, name string) (*NS, error) {
	if err := ip(ctx, "netns", "add", name); err != nil {
		return nil, err
	}
	ns := &NS{Name: name}
	if err := ns.IP(ctx, "link", "set", "lo", "up"); err != nil {
		ns.Close()
		return nil, err
	}
	return ns, nil
}

// Close deletes the namespace (and the veth ends inside it).
func (n *NS) Close() error {
	return ip(context.Background(), "netns", "del", n.Name)
}

// IP runs an ip command inside the namespace.
func (n *NS) IP(ctx context.Context, args ...string) error {
	return ip(ctx, append([]string{"-n", n.Name}, args...)...)
}

// Command prepares name args to run inside the namespace (ip netns exec:
// a private mount namespace with a fresh /sys, as operators run it).
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// NetCommand prepares a command that enters only the namespace's network
// (nsenter --net): it keeps the host's mounts, so bpffs pins persist.
func (n *NS) NetCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=/var/run/netns/" + n.Name, name}, args...)...)
}

// Veth links a in namespace an with b in namespace bn, both up. Addresses
// are CIDR strings ("198.18.0.1/24") or empty.
func Veth(ctx context.Context, an *NS, a, aAddr string, bn *NS, b, bAddr string) error {
	id := shortID()
	tmpA, tmpB := "xv"+id+"a", "xv"+id+"b"
	if err := ip(ctx, "link", "add", tmpA, "type", "veth", "peer", "name", tmpB); err != nil {
		return err
	}
	for _, e := range []struct {
		tmp, name, addr string
		ns              *NS
	}{{tmpA, a, aAddr, an}, {tmpB, b, bAddr, bn}} {
		if err := ip(ctx, "link", "set", e.tmp, "netns", e.ns.Name); err != nil {
			_ = ip(ctx, "link", "del", tmpA)
			return err
		}
		if err := e.ns.IP(ctx, "link", "set", e.tmp, "name", e.name); err != nil {
			return err
		}
		if e.addr != "" {
			if err := e.ns.IP(ctx, "addr", "add", e.addr, "dev", e.name); err != nil {
				return err
			}
		}
		if err := e.ns.IP(ctx, "link", "set", e.name, "up"); err != nil {
			return err
		}
	}
	return nil
}

// shortID keeps temporary interface names unique and below IFNAMSIZ.
func shortID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Do runs fn on an OS thread switched into the namespace. Sockets fn opens
// stay in the namespace after it returns.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: after a namespace switch it is
		// discarded when the goroutine ends, never reused.
		target, err := netns.GetFromName(n.Name)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", n.Name, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", n.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// PacketSocket is an AF_PACKET socket bound to one interface: it sends and
// receives whole Ethernet frames.
type PacketSocket struct {
	fd      int
	ifindex int
}

// OpenPacketSocket opens a packet socket on ifname inside the namespace.
func (n *NS) OpenPacketSocket(ifname string) (*PacketSocket, error) {
	var ps *PacketSocket
	err := n.Do(func() error {
		var err error
		ps, err = OpenPacketSocket(ifname)
		return err
	})
	return ps, err
}

// OpenPacketSocket opens a packet socket on ifname in this process's namespace.
func OpenPacketSocket(ifname string) (*PacketSocket, error) {
	ifi, err := netInterfaceIndex(ifname)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket to %s: %w", ifname, err)
	}
	return &PacketSocket{fd: fd, ifindex: ifi}, nil
}

// Send writes frames out of the interface.
func (s *PacketSocket) Send(frames ...[]byte) error {
	for i, f := range frames {
		if err := unix.Sendto(s.fd, f, 0, &unix.SockaddrLinklayer{Ifindex: s.ifindex}); err != nil {
			return fmt.Errorf("send frame %d: %w", i, err)
		}
	}
	return nil
}

// Recv reads one frame into buf, waiting at most timeoutMs.
func (s *PacketSocket) Recv(buf []byte, timeoutMs int) (int, error) {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(time.Duration(timeoutMs) * time.Millisecond)
	for {
		n, err := unix.Poll(fds, timeoutMs)
		// The Go runtime preempts with signals, so poll sees EINTR; retry
		// with what is left of the timeout.
		if errors.Is(err, unix.EINTR) {
			if timeoutMs < 0 {
				continue
			}
			if timeoutMs = int(time.Until(deadline).Milliseconds()); timeoutMs <= 0 {
				return 0, ErrTimeout
			}
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("poll packet socket: %w", err)
		}
		if n == 0 {
			return 0, ErrTimeout
		}
		break
	}
	m, _, err := unix.Recvfrom(s.fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("read packet socket: %w", err)
	}
	return m, nil
}

// SetRecvBuffer sizes the socket's receive queue (SO_RCVBUFFORCE, root):
// a capture under load must not lose frames to the default ~200 KB queue.
func (s *PacketSocket) SetRecvBuffer(bytes int) error {
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes); err != nil {
		return fmt.Errorf("packet socket receive buffer %d: %w", bytes, err)
	}
	return nil
}

// Drops reports the frames the kernel dropped because the receive queue
// was full since the previous call (PACKET_STATISTICS resets on read).
func (s *PacketSocket) Drops() (uint32, error) {
	st, err := unix.GetsockoptTpacketStats(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, fmt.Errorf("packet socket statistics: %w", err)
	}
	return st.Drops, nil
}

// ErrTimeout is returned by Recv when nothing arrived in time.
var ErrTimeout = errors.New("timeout")

// Close closes the socket.
func (s *PacketSocket) Close() error { return unix.Close(s.fd) }

func htons(v uint16) uint16 { return v<<8 | v>>8 }
