package failover

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Authentication: every frame carries HMAC-SHA256 over its header and body.
// CONNECT and CONNECTACK are keyed with the shared secret; every later
// frame with a session key derived from the secret and both sides' fresh
// nonces, so a frame recorded on one connection is worthless on another.
// Within a connection each direction numbers its frames 0, 1, 2, ...: a
// replayed, dropped or reordered frame breaks the sequence and is refused.
// The frame time must lie within MaxSkew of the receiver's clock, which
// bounds a replayed CONNECT (it cannot be followed up without the secret).

// DefaultMaxSkew is how far a frame's time may differ from the receiver's clock.
const DefaultMaxSkew = 30 * time.Second

// MinSecret is the shortest shared secret accepted.
const MinSecret = 16

// ErrAuth marks a frame whose MAC, sequence, time or sender is wrong.
var ErrAuth = errors.New("authentication failed")

func authErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrAuth, fmt.Sprintf(format, a...))
}

// sessionKey derives the key of one connection.
func sessionKey(secret []byte, initiator, acceptor [16]byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("xdhcp failover v1 session"))
	m.Write(initiator[:])
	m.Write(acceptor[:])
	return m.Sum(nil)
}

func newNonce() [16]byte {
	var n [16]byte
	if _, err := io.ReadFull(rand.Reader, n[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the kernel's RNG does not fail
	}
	return n
}

// Encode builds a complete frame for m, MAC'd with key.
func Encode(key []byte, m *Message) ([]byte, error) {
	w := &writer{b: make([]byte, headerLen, 128)}
	encodeBody(w, m)
	if w.err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type, w.err)
	}
	n := len(w.b) + macLen
	if n > MaxFrame {
		return nil, fmt.Errorf("encode %s: %d bytes, at most %d", m.Type, n, MaxFrame)
	}
	b := w.b
	binary.BigEndian.PutUint16(b[0:], uint16(n))
	b[2] = m.Version
	b[3] = uint8(m.Type)
	b[4] = uint8(m.Role)
	binary.BigEndian.PutUint64(b[8:], m.Seq)
	binary.BigEndian.PutUint64(b[16:], unixNano(m.Time))
	return macFrame(key, b), nil
}

// macFrame appends the MAC of b.
func macFrame(key, b []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	return mac.Sum(b)
}

// ReadFrame reads one frame: the length first, then exactly that many
// bytes (at most MaxFrame). It checks the framing only.
func ReadFrame(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n < minFrame {
		return nil, frameErr("length %d, at least %d", n, minFrame)
	}
	b := make([]byte, n)
	copy(b, l[:])
	if _, err := io.ReadFull(r, b[2:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, frameErr("truncated: %v", err)
	}
	return b, nil
}

// Verify checks a frame's framing and MAC and returns its header. The body
// is not looked at before the MAC is good.
func Verify(key, frame []byte) (Header, []byte, error) {
	var h Header
	if len(frame) < minFrame || len(frame) > MaxFrame {
		return h, nil, frameErr("length %d, want %d..%d", len(frame), minFrame, MaxFrame)
	}
	if n := int(binary.BigEndian.Uint16(frame)); n != len(frame) {
		return h, nil, frameErr("length field %d, frame has %d bytes", n, len(frame))
	}
	end := len(frame) - macLen
	mac := hmac.New(sha256.New, key)
	mac.Write(frame[:end])
	if !hmac.Equal(mac.Sum(nil), frame[end:]) {
		return h, nil, authErr("MAC does not match (wrong shared secret, or altered in transit)")
	}
	h = Header{Version: frame[2], Type: MsgType(frame[3]), Role: decide.Role(frame[4]),
		Seq: binary.BigEndian.Uint64(frame[8:]), Time: fromNano(binary.BigEndian.Uint64(frame[16:]))}
	if h.Version != ProtocolVersion {
		return h, nil, frameErr("protocol version %d, this server speaks %d", h.Version, ProtocolVersion)
	}
	if frame[5]|frame[6]|frame[7] != 0 {
		return h, nil, frameErr("reserved header bytes not zero")
	}
	if h.Role > decide.Secondary {
		return h, nil, frameErr("sender role %d", h.Role)
	}
	return h, frame[headerLen:end], nil
}

// Decode verifies and decodes a frame (no sequence or time checks: those
// belong to the session).
func Decode(key, frame []byte) (*Message, error) {
	h, body, err := Verify(key, frame)
	if err != nil {
		return nil, err
	}
	m := &Message{Header: h}
	if err := decodeBody(m, body); err != nil {
		return nil, err
	}
	return m, nil
}

// session is one direction pair's authentication state.
type session struct {
	secret  []byte
	key     []byte // nil until the handshake set it
	me      decide.Role
	sendSeq uint64
	recvSeq uint64 // next expected
	maxSkew time.Duration
	now     func() time.Time
}

// current is the session key once the handshake set it, the secret before.
func (s *session) current() []byte {
	if s.key == nil {
		return s.secret
	}
	return s.key
}

// seal numbers, stamps and MACs m with the current key.
func (s *session) seal(m *Message) ([]byte, error) {
	m.Version, m.Role, m.Seq, m.Time = ProtocolVersion, s.me, s.sendSeq, s.now()
	b, err := Encode(s.current(), m)
	if err != nil {
		return nil, err
	}
	s.sendSeq++
	return b, nil
}

// open authenticates and decodes a received frame.
func (s *session) open(frame []byte) (*Message, error) {
	m, err := Decode(s.current(), frame)
	if err != nil {
		return nil, err
	}
	switch {
	case s.key != nil && m.Role == s.me:
		// (the handshake compares roles itself, to say so in both logs)
		return nil, authErr("frame claims this server's own role %s (reflected?)", m.Role)
	case m.Seq != s.recvSeq:
		return nil, authErr("sequence %d, expected %d (replayed or reordered)", m.Seq, s.recvSeq)
	}
	if d := m.Time.Sub(s.now()); d > s.maxSkew || d < -s.maxSkew {
		return nil, authErr("frame time %s is %s off this server's clock (window %s)", m.Time.Format(time.RFC3339Nano), d.Round(time.Millisecond), s.maxSkew)
	}
	s.recvSeq++
	return m, nil
}
