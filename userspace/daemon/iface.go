package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/userspace/dhcpserver"
	"github.com/xdhcp/xdhcp/userspace/dhcpwire"
)

// link is one served interface: a UDP socket on port 67 bound to it for
// receiving and for replies that go through the IP stack (relays, clients
// with an address), and a packet socket for replies to clients that have
// no address yet (broadcast, or unicast to chaddr without ARP).
type link struct {
	name   string
	index  int
	mac    net.HardwareAddr
	addr   netip.Addr // the interface's IPv4 address
	sid    netip.Addr // server identifier answered with
	xdp    bool       // the XDP program filters this interface
	prog   uint32     // its program ID, when xdp
	conn   *net.UDPConn
	pc     *ipv4.PacketConn // conn's batch reads and writes (recvmmsg, sendmmsg)
	packet int              // AF_PACKET fd
	log    *slog.Logger
	out    outbox
}

// batchSize is how many datagrams one recvmmsg or sendmmsg moves at most.
const batchSize = 64

// outbox holds replies for conn until the end of the batch that made
// them (a receive batch, a group commit), then sends them with sendmmsg.
// Replies are written into an arena and the messages' slots (addresses
// included) are reused: a reply costs no allocation here.
type outbox struct {
	mu        sync.Mutex
	msgs      []ipv4.Message
	arena     []byte
	sent      []ipv4.Message // the previous flush's, reused
	sentArena []byte
}

// addReply queues resp for to; false when it cannot be written (not IPv4).
func (o *outbox) addReply(resp *dhcpv4.DHCPv4, to netip.AddrPort) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	start := len(o.arena)
	var ok bool
	if o.arena, ok = dhcpwire.Append(o.arena, resp); !ok {
		return false
	}
	// The arena may have moved: earlier messages keep the old array alive.
	payload := o.arena[start:len(o.arena):len(o.arena)]
	n := len(o.msgs)
	if n < cap(o.msgs) {
		o.msgs = o.msgs[:n+1]
	} else {
		o.msgs = append(o.msgs, ipv4.Message{})
	}
	m := &o.msgs[n]
	ua, _ := m.Addr.(*net.UDPAddr)
	if ua == nil {
		ua = &net.UDPAddr{}
		m.Addr = ua
	}
	a4 := to.Addr().As4()
	ua.IP, ua.Port = append(ua.IP[:0], a4[:]...), int(to.Port())
	if len(m.Buffers) == 0 {
		m.Buffers = make([][]byte, 1)
	}
	m.Buffers[0] = payload
	return true
}

// flush sends what is queued; it returns the count sent and the last error.
func (l *link) flush() (sent int, err error) {
	o := &l.out
	o.mu.Lock()
	msgs, arena := o.msgs, o.arena
	o.msgs, o.arena, o.sent, o.sentArena = o.sent[:0], o.sentArena[:0], nil, nil
	o.mu.Unlock()
	for rest := msgs; len(rest) > 0; {
		n, werr := l.pc.WriteBatch(rest[:min(len(rest), batchSize)], 0)
		if werr != nil {
			// Skip the datagram that failed (counted by the caller), keep going.
			err, n = werr, max(n, 1)
		}
		sent += n
		rest = rest[n:]
	}
	o.mu.Lock()
	if o.sent == nil && cap(arena) <= maxArena {
		o.sent, o.sentArena = msgs[:0], arena[:0]
	}
	o.mu.Unlock()
	return sent, err
}

// maxArena bounds the reply arena kept for reuse (a huge burst's is dropped).
const maxArena = 1 << 20

func openLink(ctx context.Context, name string, log *slog.Logger) (*link, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	l := &link{name: name, index: ifi.Index, mac: ifi.HardwareAddr, packet: -1, log: log.With("iface", name)}
	if l.addr, err = ifaceAddr(ifi); err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			for _, o := range [][2]int{{unix.SO_REUSEADDR, 1}, {unix.SO_BROADCAST, 1}} {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], o[1]); serr != nil {
					return
				}
			}
			// Bursts (a group commit's ACKs, a relay's backlog) need deep
			// queues; net.core.[rw]mem_max caps the plain options, the
			// FORCE ones (CAP_NET_ADMIN, which XDP needs anyway) do not.
			for _, o := range [][3]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, 4 << 20}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, 4 << 20}} {
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], o[2]) != nil {
					if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], o[2]); serr != nil {
						return
					}
				}
			}
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name)
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", ":67")
	if err != nil {
		return nil, fmt.Errorf("interface %s: listen on port 67: %w", name, err)
	}
	l.conn = pc.(*net.UDPConn)
	l.pc = ipv4.NewPacketConn(l.conn)
	// Protocol 0: this socket only sends, it receives nothing.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		l.close()
		return nil, fmt.Errorf("interface %s: packet socket: %w", name, err)
	}
	l.packet = fd
	return l, nil
}

func (l *link) close() {
	if l.conn != nil {
		l.conn.Close()
	}
	if l.packet >= 0 {
		unix.Close(l.packet)
		l.packet = -1
	}
}

// send delivers a reply as Route says, now (the daemon queues most
// replies through the IP stack with outbox.addReply instead).
func (l *link) send(payload []byte, d dhcpserver.Dest) error {
	switch d.Via {
	case dhcpserver.ViaRelay, dhcpserver.ViaUnicast:
		_, err := l.conn.WriteToUDPAddrPort(payload, netip.AddrPortFrom(d.IP, d.Port))
		return err
	case dhcpserver.ViaBroadcast, dhcpserver.ViaL2:
		dst := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		if d.Via == dhcpserver.ViaL2 {
			dst = d.MAC
		}
		f := frames.Frame{Src: l.mac, Dst: dst, SrcIP: l.addr.AsSlice(), DstIP: d.IP.AsSlice(), SrcPort: 67, DstPort: d.Port, Payload: payload}.Bytes()
		sa := &unix.SockaddrLinklayer{Ifindex: l.index, Protocol: htons(unix.ETH_P_IP), Halen: 6}
		copy(sa.Addr[:], dst)
		return unix.Sendto(l.packet, f, 0, sa)
	}
	return fmt.Errorf("no route for reply (%v)", d)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ifaceAddr is the interface's first IPv4 address.
func ifaceAddr(ifi *net.Interface) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("interface %s: addresses: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			v, _ := netip.AddrFromSlice(n.IP.To4())
			return v, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no IPv4 address: the server needs one (source of replies, default server id)", ifi.Name)
}
