package failover

// Connecting: the primary dials, the secondary accepts only its partner;
// a new session resynchronises, a lost one moves to COMMUNICATIONS-INTERRUPTED.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

func (e *Engine) dialLoop(ctx context.Context, conns chan<- *conn) {
	var lastErr string
	for ctx.Err() == nil {
		c, err := e.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if msg := err.Error(); msg != lastErr {
				lastErr = msg
				if errors.Is(err, ErrRefused) || errors.Is(err, ErrAuth) || errors.Is(err, ErrFrame) {
					e.log.Error("partner connection refused", "peer", e.o.Peer, "err", err)
				} else {
					e.log.Info("partner not reachable", "peer", e.o.Peer, "err", err)
				}
			}
			sleep(ctx, e.o.Retry)
			continue
		}
		lastErr = ""
		select {
		case conns <- c:
		case <-ctx.Done():
			c.nc.Close()
			return
		}
		select {
		case <-c.closed:
		case <-ctx.Done():
			return
		}
		sleep(ctx, e.o.Retry/5)
	}
}

func (e *Engine) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: handshakeTimeout}
	nc, err := d.DialContext(ctx, "tcp", e.o.Peer)
	if err != nil {
		return nil, err
	}
	c, err := e.handshake().initiate(nc, e.o.ReceiveTimeout)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (e *Engine) acceptLoop(ctx context.Context, ln net.Listener, conns chan<- *conn) {
	go func() { <-ctx.Done(); ln.Close() }()
	var mu sync.Mutex
	last := map[string]string{} // remote IP -> last refusal: repeated ones go to debug
	refuse := func(remote string, err error) {
		host, _, _ := net.SplitHostPort(remote)
		mu.Lock()
		repeat := last[host] == err.Error()
		last[host] = err.Error()
		mu.Unlock()
		level := slog.LevelError
		if repeat {
			level = slog.LevelDebug
		}
		e.log.Log(ctx, level, "peer connection refused", "remote", remote, "err", err)
	}
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("accept", "err", err)
			}
			return
		}
		go func() {
			remote := nc.RemoteAddr().String()
			if err := e.checkSource(nc.RemoteAddr()); err != nil {
				refuse(remote, err)
				nc.Close()
				return
			}
			c, err := e.handshake().accept(nc, e.o.ReceiveTimeout)
			if err != nil {
				refuse(remote, err)
				nc.Close()
				return
			}
			mu.Lock()
			clear(last)
			mu.Unlock()
			select {
			case conns <- c:
			case <-ctx.Done():
				nc.Close()
			}
		}()
	}
}

// checkSource refuses connections from anywhere but the configured partner.
func (e *Engine) checkSource(a net.Addr) error {
	if e.o.Peer == "" {
		return nil
	}
	host, _, _ := net.SplitHostPort(e.o.Peer)
	want, err := netip.ParseAddr(host)
	if err != nil {
		return nil // a name: the secret decides
	}
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return nil
	}
	got, _ := netip.AddrFromSlice(ta.IP)
	if got.Unmap() != want.Unmap() {
		return fmt.Errorf("connection from %s, the partner is %s", got, want)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// connected starts a session: the secondary adopts the primary's HBA and
// share, both ask for every binding (RECOVER from STARTUP).
func (e *Engine) connected(c *conn) {
	now := e.o.Now()
	s := &e.st
	s.connected, s.cur, s.remote, s.lastContact, s.lastSent = true, c, c.remote, now, now
	s.partner, s.partnerKnown = c.peer.State, true
	s.peerTimeout = c.peer.ReceiveTimeout
	if e.role == decide.Secondary {
		if c.peer.HBA != s.hba {
			e.log.Warn("adopting the primary's HBA (it is authoritative)", "mine", s.hba.String(), "primary", c.peer.HBA.String())
		}
		s.hba, s.split = c.peer.HBA, c.peer.ShareSplit
	}
	s.resyncing, s.sentDone, s.gotDone, s.doneBatch = true, false, false, 0
	e.q.requeueInflight()
	e.log.Info("partner connected", "remote", c.remote, "partner_state", c.peer.State)
	if s.state == decide.Startup {
		e.setState(decide.Recover, "partner connected: requesting every binding")
	} else {
		e.apply() // the HBA may have changed
	}
	c.send(&Message{Header: Header{Type: MsgUpdReqAll}})
}

func (e *Engine) disconnected(c *conn, err error) {
	s := &e.st
	if !s.connected || s.cur != c {
		return
	}
	s.connected, s.cur, s.resyncing, s.rebalancing = false, nil, false, false
	e.q.requeueInflight()
	e.log.Warn("partner connection lost", "remote", c.remote, "err", err)
	switch s.state {
	case decide.PartnerDown:
	default:
		e.setState(decide.CommunicationsInterrupted, "partner unreachable: "+err.Error())
	}
}
