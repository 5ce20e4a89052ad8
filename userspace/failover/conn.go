package failover

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// ErrRefused marks a handshake refused for a configuration mismatch.
var ErrRefused = errors.New("refused")

// handshakeTimeout bounds each handshake step.
const handshakeTimeout = 3 * time.Second

// conn is one authenticated connection to the partner. The engine's loop
// reads events from in; send queues a frame for the writer goroutine, so
// the loop never blocks on a slow or silent partner.
type conn struct {
	nc      net.Conn
	sess    *session
	peer    Params // the partner's handshake parameters
	out     chan []byte
	in      chan *Message
	err     chan error // the reader's or writer's end, once
	once    sync.Once
	closed  chan struct{}
	timeout time.Duration // receive timeout: no frame for this long ends the connection
	remote  string
}

func newConn(nc net.Conn, sess *session, timeout time.Duration) *conn {
	return &conn{nc: nc, sess: sess, out: make(chan []byte, 4096), in: make(chan *Message, 256),
		err: make(chan error, 2), closed: make(chan struct{}), timeout: timeout, remote: nc.RemoteAddr().String()}
}

// send seals m and queues it; a full queue means the partner stopped
// reading, which ends the connection.
func (c *conn) send(m *Message) error {
	b, err := c.sess.seal(m)
	if err != nil {
		return err
	}
	select {
	case c.out <- b:
		return nil
	case <-c.closed:
		return errors.New("connection closed")
	default:
		c.fail(errors.New("send queue full: the partner does not read"))
		return errors.New("send queue full")
	}
}

func (c *conn) fail(err error) {
	c.once.Do(func() {
		c.err <- err
		close(c.closed)
		c.nc.Close()
	})
}

// run starts the reader and writer; they stop when ctx ends or the connection fails.
func (c *conn) run(ctx context.Context) {
	go func() {
		select {
		case <-ctx.Done():
			c.fail(ctx.Err())
		case <-c.closed:
		}
	}()
	go c.writeLoop()
	go c.readLoop()
}

func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		select {
		case <-c.closed:
			return
		case b := <-c.out:
			c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
			if _, err := bw.Write(b); err != nil {
				c.fail(fmt.Errorf("write: %w", err))
				return
			}
			if len(c.out) == 0 {
				if err := bw.Flush(); err != nil {
					c.fail(fmt.Errorf("write: %w", err))
					return
				}
			}
		}
	}
}

func (c *conn) readLoop() {
	br := bufio.NewReader(c.nc)
	for {
		c.nc.SetReadDeadline(time.Now().Add(c.timeout))
		b, err := ReadFrame(br)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("no message from the partner within the receive timeout %s", c.timeout)
			}
			c.fail(err)
			return
		}
		m, err := c.sess.open(b)
		if err != nil {
			c.fail(err)
			return
		}
		select {
		case c.in <- m:
		case <-c.closed:
			return
		}
	}
}

// flushClose sends what is queued (bounded by wait) and closes.
func (c *conn) flushClose(wait time.Duration) {
	deadline := time.Now().Add(wait)
	for len(c.out) > 0 && time.Now().Before(deadline) {
		select {
		case <-c.closed:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	time.Sleep(10 * time.Millisecond) // let the writer's last Flush complete
	c.fail(errors.New("closed by this server"))
}

// handshake is what one side brings to a connection.
type handshake struct {
	secret  []byte
	role    decide.Role
	params  Params
	maxSkew time.Duration
	now     func() time.Time
}

func (h *handshake) session() *session {
	return &session{secret: h.secret, me: h.role, maxSkew: h.maxSkew, now: h.now}
}

// readHandshake reads one frame keyed with the secret, with a deadline.
func readHandshake(nc net.Conn, s *session, want MsgType) (*Message, error) {
	nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	defer nc.SetReadDeadline(time.Time{})
	b, err := ReadFrame(nc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", want, err)
	}
	m, err := s.open(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", want, err)
	}
	if m.Type != want {
		return nil, fmt.Errorf("%w: got %s, expected %s", ErrFrame, m.Type, want)
	}
	return m, nil
}

func writeFrame(nc net.Conn, s *session, m *Message) error {
	b, err := s.seal(m)
	if err != nil {
		return err
	}
	nc.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	defer nc.SetWriteDeadline(time.Time{})
	_, err = nc.Write(b)
	return err
}

// dialHandshake is the initiator (the primary): CONNECT, CONNECTACK, then
// the first keyed frame (STATE) that proves it holds the secret.
func (h *handshake) initiate(nc net.Conn, timeout time.Duration) (*conn, error) {
	s := h.session()
	p := h.params
	p.Nonce = newNonce()
	if err := writeFrame(nc, s, &Message{Header: Header{Type: MsgConnect}, Params: p}); err != nil {
		return nil, fmt.Errorf("send CONNECT: %w", err)
	}
	ack, err := readHandshake(nc, s, MsgConnectAck)
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return nil, fmt.Errorf("%w: the partner closed the connection without answering CONNECT (wrong shared secret?)", ErrRefused)
	}
	if err != nil {
		return nil, err
	}
	if ack.Echo != p.Nonce {
		return nil, authErr("CONNECTACK does not echo this connection's nonce (replayed)")
	}
	if ack.Reason != "" {
		return nil, fmt.Errorf("%w by the partner: %s", ErrRefused, ack.Reason)
	}
	if err := compatible(h.role, p, ack.Role, ack.Params); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	s.key = sessionKey(h.secret, p.Nonce, ack.Params.Nonce)
	if err := writeFrame(nc, s, &Message{Header: Header{Type: MsgState}, State: p.State}); err != nil {
		return nil, fmt.Errorf("send STATE: %w", err)
	}
	c := newConn(nc, s, timeout)
	c.peer = ack.Params
	return c, nil
}

// accept is the acceptor's side. A CONNECT that fails authentication gets
// no answer; one that authenticates but does not match this server's
// configuration gets a CONNECTACK saying why, so both logs show the reason.
func (h *handshake) accept(nc net.Conn, timeout time.Duration) (*conn, error) {
	s := h.session()
	req, err := readHandshake(nc, s, MsgConnect)
	if err != nil {
		return nil, err
	}
	p := h.params
	p.Nonce = newNonce()
	ack := &Message{Header: Header{Type: MsgConnectAck}, Echo: req.Params.Nonce, Params: p}
	if err := compatible(h.role, p, req.Role, req.Params); err != nil {
		ack.Reason = err.Error()
		writeFrame(nc, s, ack)
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if h.role == decide.Primary {
		// The primary dials; a second connection must not be opened by the secondary.
		ack.Reason = "this server is the primary: it connects to the secondary, not the other way"
		writeFrame(nc, s, ack)
		return nil, fmt.Errorf("%w: the secondary connected to the primary (the primary dials)", ErrRefused)
	}
	if err := writeFrame(nc, s, ack); err != nil {
		return nil, fmt.Errorf("send CONNECTACK: %w", err)
	}
	s.key = sessionKey(h.secret, req.Params.Nonce, p.Nonce)
	first, err := readHandshake(nc, s, MsgState)
	if err != nil {
		return nil, err
	}
	c := newConn(nc, s, timeout)
	c.peer = req.Params
	c.peer.State = first.State
	return c, nil
}

// compatible says why the partner's parameters cannot work with mine, in
// words that read the same in both servers' logs. The secondary adopts the
// primary's HBA and share split (authoritative), so those are not compared.
func compatible(me decide.Role, mine Params, peerRole decide.Role, theirs Params) error {
	if peerRole == me {
		return fmt.Errorf("role: both servers are %s (one must be primary, the other secondary)", me)
	}
	p, s := mine, theirs
	if me == decide.Secondary {
		p, s = theirs, mine
	}
	switch {
	case p.Threshold != s.Threshold:
		return fmt.Errorf("threshold: primary %d, secondary %d (must be equal)", p.Threshold, s.Threshold)
	case p.MCLT != s.MCLT:
		return fmt.Errorf("mclt: primary %s, secondary %s (must be equal)", p.MCLT, s.MCLT)
	case !slices.Equal(sortedRanges(p.Pools), sortedRanges(s.Pools)):
		return fmt.Errorf("pools: primary %v, secondary %v (must be equal)", p.Pools, s.Pools)
	}
	return nil
}

func sortedRanges(rs []lease.Range) []lease.Range {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b lease.Range) int { return a.Start.Compare(b.Start) })
	return out
}
