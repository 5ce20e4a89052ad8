// Package pingcheck asks whether an IPv4 address is in use by sending it
// an ICMP echo request and waiting a short while for the reply, as ISC
// dhcpd's ping-check and Kea's ping_check hook do before offering an
// address.
package pingcheck

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Pinger sends echo requests from one raw ICMP socket and matches the
// replies to the waiting callers by sequence number and source address.
type Pinger struct {
	conn *icmp.PacketConn
	id   uint16
	data []byte

	mu      sync.Mutex
	seq     uint16
	waiting map[uint16]waiter
	closed  bool
	done    chan struct{}
}

type waiter struct {
	ip     netip.Addr
	answer chan struct{}
}

// Open opens the socket (root or CAP_NET_RAW) and reads replies until ctx
// ends or Close.
func Open(ctx context.Context) (*Pinger, error) {
	conn, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("ping check: open ICMP socket: %w", err)
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	p := &Pinger{conn: conn, id: binary.BigEndian.Uint16(b[:]), data: []byte("xdhcp ping check"),
		waiting: map[uint16]waiter{}, done: make(chan struct{})}
	go p.read()
	go func() {
		select {
		case <-ctx.Done():
			p.Close()
		case <-p.done:
		}
	}()
	return p, nil
}

// Close stops the reader; pending pings return an error.
func (p *Pinger) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	return p.conn.Close()
}

// ErrClosed is returned by Ping after Close.
var ErrClosed = errors.New("ping check: closed")

// Ping sends one echo request to ip and reports whether a reply came from
// it within timeout.
func (p *Pinger) Ping(ctx context.Context, ip netip.Addr, timeout time.Duration) (bool, error) {
	if !ip.Is4() {
		return false, fmt.Errorf("ping check: %v is not IPv4", ip)
	}
	w := waiter{ip: ip, answer: make(chan struct{}, 1)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false, ErrClosed
	}
	p.seq++
	seq := p.seq
	p.waiting[seq] = w
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, seq)
		p.mu.Unlock()
	}()
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: int(p.id), Seq: int(seq), Data: p.data}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return false, err
	}
	if _, err := p.conn.WriteTo(b, &net.IPAddr{IP: ip.AsSlice()}); err != nil {
		return false, fmt.Errorf("ping check: send to %v: %w", ip, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.answer:
		return true, nil
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-p.done:
		return false, ErrClosed
	}
}

// read delivers echo replies carrying this pinger's id to their waiter.
func (p *Pinger) read() {
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || uint16(echo.ID) != p.id {
			continue
		}
		src, ok := from.(*net.IPAddr)
		if !ok {
			continue
		}
		a, _ := netip.AddrFromSlice(src.IP.To4())
		p.mu.Lock()
		w, ok := p.waiting[uint16(echo.Seq)]
		p.mu.Unlock()
		if ok && w.ip == a {
			select {
			case w.answer <- struct{}{}:
			default:
			}
		}
	}
}
