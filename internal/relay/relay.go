// Package relay is a minimal DHCPv4 relay agent (RFC 1542) for the lab: it
// forwards client requests to a configurable list of servers with giaddr
// set, and server replies back to the client segment. The lab uses it to
// show a relay that reaches only one server of the pair.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"
)

// Relay forwards between one client interface and a set of servers.
type Relay struct {
	ClientIface string     // the client segment
	Giaddr      netip.Addr // the relay's address on the client segment
	Log         *slog.Logger

	mu      sync.Mutex
	servers []netip.Addr
	stats   Stats
}

// Stats counts what the relay forwarded.
type Stats struct {
	Requests  uint64 `json:"requests"`
	Forwarded uint64 `json:"forwarded"`
	Replies   uint64 `json:"replies"`
	Dropped   uint64 `json:"dropped"`
}

// SetServers changes where requests go (the misconfigured relay of act 2).
func (r *Relay) SetServers(s ...netip.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.servers = append([]netip.Addr(nil), s...)
}

// Stats returns the counters.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

func (r *Relay) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

// Listen opens the relay's sockets in the calling goroutine's network
// namespace; Serve then runs until ctx ends. Both sockets use port 67, as
// relays do: the one bound to the client interface takes client requests
// (the more specific bind wins) and sends replies to clients; the other
// takes server replies and sends requests to servers.
func (r *Relay) Listen() (*Conn, error) {
	client, err := udpSocket(r.ClientIface, 67)
	if err != nil {
		return nil, fmt.Errorf("relay listen %s:67: %w", r.ClientIface, err)
	}
	server, err := udpSocket("", 67)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("relay listen :67: %w", err)
	}
	return &Conn{client: client, server: server}, nil
}

// Conn holds the relay's sockets.
type Conn struct {
	client, server *net.UDPConn
}

// Close closes the sockets.
func (c *Conn) Close() error { return errors.Join(c.client.Close(), c.server.Close()) }

// Serve relays until ctx ends or the sockets close.
func (r *Relay) Serve(ctx context.Context, c *Conn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	errc := make(chan error, 2)
	// Broadcasts reach both sockets: each side handles only its direction.
	go func() { errc <- r.read(ctx, c, c.client, dhcpv4.OpcodeBootRequest) }()
	go func() { errc <- r.read(ctx, c, c.server, dhcpv4.OpcodeBootReply) }()
	err := <-errc
	cancel()
	return errors.Join(err, <-errc)
}

func (r *Relay) read(ctx context.Context, c *Conn, sock *net.UDPConn, op dhcpv4.OpcodeType) error {
	buf := make([]byte, 1500)
	for {
		n, from, err := sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("relay read: %w", err)
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			r.count(func(s *Stats) { s.Dropped++ })
			r.log().Debug("relay: not DHCP", "from", from, "err", err)
			continue
		}
		switch {
		case m.OpCode != op:
		case op == dhcpv4.OpcodeBootRequest:
			r.forwardRequest(c, m)
		default:
			r.forwardReply(c, m)
		}
	}
}

func (r *Relay) forwardRequest(c *Conn, m *dhcpv4.DHCPv4) {
	r.count(func(s *Stats) { s.Requests++ })
	if m.HopCount >= 16 {
		r.count(func(s *Stats) { s.Dropped++ })
		return
	}
	m.HopCount++
	if m.GatewayIPAddr == nil || m.GatewayIPAddr.IsUnspecified() {
		m.GatewayIPAddr = net.IP(r.Giaddr.AsSlice())
	}
	r.mu.Lock()
	servers := append([]netip.Addr(nil), r.servers...)
	r.mu.Unlock()
	b := m.ToBytes()
	for _, s := range servers {
		if _, err := c.server.WriteToUDPAddrPort(b, netip.AddrPortFrom(s, 67)); err != nil {
			r.log().Warn("relay: forward to server", "server", s, "err", err)
			continue
		}
		r.count(func(s *Stats) { s.Forwarded++ })
	}
}

// forwardReply broadcasts the reply on the client segment: lab clients have
// no address yet, and broadcasting needs no ARP entry.
func (r *Relay) forwardReply(c *Conn, m *dhcpv4.DHCPv4) {
	r.count(func(s *Stats) { s.Replies++ })
	if _, err := c.client.WriteToUDPAddrPort(m.ToBytes(), netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 68)); err != nil {
		r.log().Warn("relay: forward reply", "err", err)
	}
}

func (r *Relay) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// udpSocket opens a UDP socket on port, bound to iface when given, allowed
// to broadcast.
func udpSocket(iface string, port int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscallRawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1); serr != nil {
				return
			}
			if iface != "" {
				serr = unix.BindToDevice(int(fd), iface)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}
