// Package probe is the lab's DHCP client: it sends DISCOVERs with chosen
// chaddr and secs from a packet socket and reports which servers offered
// what. It never sends REQUEST, like the client of the original Windows
// experiment, so it takes no address.
package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/internal/labnet"
)

// Offer is one OFFER seen for a DISCOVER.
type Offer struct {
	ServerID netip.Addr    `json:"server_id"`
	YourIP   netip.Addr    `json:"your_ip"`
	After    time.Duration `json:"after_ns"`
}

// Row is one DISCOVER and the offers it drew.
type Row struct {
	Secs   uint16  `json:"secs"`
	XID    uint32  `json:"xid"`
	MAC    string  `json:"mac"`
	Offers []Offer `json:"offers"`
}

// Header names the columns of Row.String.
const Header = "secs   offered by                         addresses"

// String is the row in fixed columns (under Header): rows print as they
// arrive and still line up, which a tabwriter flushed per row does not.
func (r Row) String() string {
	by, addrs := make([]string, 0, len(r.Offers)), make([]string, 0, len(r.Offers))
	for _, a := range r.Servers() {
		by = append(by, a.String())
	}
	for _, o := range r.Offers {
		addrs = append(addrs, fmt.Sprintf("%s (from %s)", o.YourIP, o.ServerID))
	}
	return strings.TrimRight(fmt.Sprintf("%-6d %-34s %s", r.Secs, orDash(by), orDash(addrs)), " ")
}

func orDash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

// Servers lists the offering server ids, sorted.
func (r Row) Servers() []netip.Addr {
	var out []netip.Addr
	for _, o := range r.Offers {
		out = append(out, o.ServerID)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// Conn sends DISCOVERs and reads OFFERs on one interface.
type Conn struct {
	sock *labnet.PacketSocket
	buf  []byte
}

// Open opens the probe on ifname in this network namespace.
func Open(ifname string) (*Conn, error) {
	s, err := labnet.OpenPacketSocket(ifname)
	if err != nil {
		return nil, fmt.Errorf("probe on %s: %w", ifname, err)
	}
	return &Conn{sock: s, buf: make([]byte, 2048)}, nil
}

// Wrap makes a probe of an open packet socket (e.g. one opened in a namespace).
func Wrap(s *labnet.PacketSocket) *Conn { return &Conn{sock: s, buf: make([]byte, 2048)} }

// Close closes the socket.
func (c *Conn) Close() error { return c.sock.Close() }

// Discover sends one DISCOVER and collects OFFERs for wait.
func (c *Conn) Discover(ctx context.Context, mac net.HardwareAddr, xid uint32, secs uint16, wait time.Duration) (Row, error) {
	m, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithTransactionID(xidOf(xid)), dhcpv4.WithBroadcast(true))
	if err != nil {
		return Row{}, fmt.Errorf("build DISCOVER: %w", err)
	}
	m.NumSeconds = secs
	row := Row{Secs: secs, XID: xid, MAC: mac.String(), Offers: []Offer{}}
	start := time.Now()
	if err := c.sock.Send(frames.Frame{Src: mac, Payload: m.ToBytes()}.Bytes()); err != nil {
		return row, err
	}
	deadline := start.Add(wait)
	for {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return row, ctx.Err()
		}
		n, err := c.sock.Recv(c.buf, int(left/time.Millisecond)+1)
		if errors.Is(err, labnet.ErrTimeout) {
			continue
		}
		if err != nil {
			return row, err
		}
		if o, ok := parseOffer(c.buf[:n], xid, mac); ok {
			o.After = time.Since(start)
			row.Offers = append(row.Offers, o)
		}
	}
}

// Series sends count DISCOVERs for one client, one per interval, with secs
// counting up from secsStart and one xid, as a client that never gets (or
// never takes) an answer does; each row holds the offers seen until the next.
func (c *Conn) Series(ctx context.Context, mac net.HardwareAddr, xid uint32, secsStart uint16, count int, interval time.Duration, each func(Row)) ([]Row, error) {
	var rows []Row
	for i := 0; i < count; i++ {
		row, err := c.Discover(ctx, mac, xid, secsStart+uint16(i), interval)
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
		if each != nil {
			each(row)
		}
	}
	return rows, nil
}

func xidOf(x uint32) dhcpv4.TransactionID {
	var t dhcpv4.TransactionID
	binary.BigEndian.PutUint32(t[:], x)
	return t
}

// parseOffer reads an OFFER for (xid, mac) out of a frame to UDP port 68.
func parseOffer(frame []byte, xid uint32, mac net.HardwareAddr) (Offer, bool) {
	payload, ok := udpPayload(frame, 68)
	if !ok {
		return Offer{}, false
	}
	m, err := dhcpv4.FromBytes(payload)
	if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || m.MessageType() != dhcpv4.MessageTypeOffer {
		return Offer{}, false
	}
	if m.TransactionID != xidOf(xid) || m.ClientHWAddr.String() != mac.String() {
		return Offer{}, false
	}
	sid, _ := netip.AddrFromSlice(m.ServerIdentifier().To4())
	yi, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
	return Offer{ServerID: sid, YourIP: yi}, true
}

// udpPayload returns the UDP payload of an untagged IPv4 frame to port.
func udpPayload(f []byte, port uint16) ([]byte, bool) {
	if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 || f[14+9] != 17 {
		return nil, false
	}
	ihl := int(f[14]&0x0f) * 4
	udp := f[14+ihl:]
	if len(udp) < 8 || binary.BigEndian.Uint16(udp[2:4]) != port {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(udp[4:6]))
	if n < 8 || n > len(udp) {
		return nil, false
	}
	return udp[8:n], true
}
