package failover

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// Frame layout (big-endian), loosely after draft-ietf-dhc-failover-12 but
// with a MAC on every frame:
//
//	0  length   u16  whole frame, header and MAC included
//	2  version  u8   ProtocolVersion
//	3  type     u8   MsgType
//	4  role     u8   sender's role (a reflected frame is refused)
//	5  reserved 3 bytes, zero
//	8  seq      u64  per connection and direction, 0, 1, 2, ... (replay)
//	16 time     i64  sender's clock, Unix ns (replay window)
//	24 body
//	   MAC      32   HMAC-SHA256 over bytes 0..len-32
const (
	ProtocolVersion = 1
	headerLen       = 24
	macLen          = 32
	minFrame        = headerLen + macLen
	// MaxFrame bounds a frame; the reader never allocates more.
	MaxFrame = 1<<16 - 1
	// maxBatch bounds the bindings a BNDUPD may carry (the largest binding
	// without extensions is 4+1+1+4+8+8+3*(1+255) = 794 bytes, 64 of them
	// fit in MaxFrame).
	maxBatch = 64
	// sendBatch is how many bindings this server puts in one BNDUPD: with
	// extensions a binding takes up to 794+2+2*(2+255) = 1310 bytes, and
	// 48 of them still fit in MaxFrame.
	sendBatch = 48
	// minBinding is the smallest encoded binding (empty strings).
	minBinding = 4 + 1 + 1 + 4 + 8 + 8 + 3
)

// MsgType is a failover message type (numbers as in draft-12).
type MsgType uint8

const (
	MsgPoolReq    MsgType = 1
	MsgPoolResp   MsgType = 2
	MsgBndUpd     MsgType = 3
	MsgBndAck     MsgType = 4
	MsgConnect    MsgType = 5
	MsgConnectAck MsgType = 6
	MsgUpdReqAll  MsgType = 7
	MsgUpdDone    MsgType = 8
	MsgState      MsgType = 10
	MsgContact    MsgType = 11
	MsgDisconnect MsgType = 12
)

var msgNames = map[MsgType]string{
	MsgPoolReq: "POOLREQ", MsgPoolResp: "POOLRESP", MsgBndUpd: "BNDUPD", MsgBndAck: "BNDACK",
	MsgConnect: "CONNECT", MsgConnectAck: "CONNECTACK", MsgUpdReqAll: "UPDREQALL", MsgUpdDone: "UPDDONE",
	MsgState: "STATE", MsgContact: "CONTACT", MsgDisconnect: "DISCONNECT",
}

func (t MsgType) String() string {
	if n, ok := msgNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Header is a frame's fixed part.
type Header struct {
	Version uint8
	Type    MsgType
	Role    decide.Role
	Seq     uint64
	Time    time.Time
}

// Params are what the two servers must agree on (CONNECT, CONNECTACK).
type Params struct {
	Nonce          [16]byte // fresh per connection: the session key depends on both
	HBA            decide.HBA
	Threshold      uint16
	MCLT           time.Duration // whole seconds on the wire
	ReceiveTimeout time.Duration // ms on the wire: the partner sends CONTACT every third of it
	State          decide.State
	// ShareSplit is the primary's part of every range, in 256ths (pool
	// rebalancing moves it); the secondary adopts the primary's.
	ShareSplit uint16
	Pools      []lease.Range
}

// Message is one decoded frame. Only the fields of Header.Type are set.
type Message struct {
	Header
	Params   Params        // CONNECT, CONNECTACK
	Echo     [16]byte      // CONNECTACK: the initiator's nonce
	Reason   string        // CONNECTACK (refusal, empty: accepted), DISCONNECT
	Shutdown bool          // DISCONNECT: the sender is stopping (partner-down at once)
	State    decide.State  // STATE
	Batch    uint64        // BNDUPD, BNDACK
	Leases   []lease.Lease // BNDUPD
	Rejected []netip.Addr  // BNDACK: bindings the receiver could not apply
	Split    uint16        // POOLREQ, POOLRESP
	OK       bool          // POOLRESP
}

// ErrFrame marks input that is not a valid frame; the text says what was wrong.
var ErrFrame = errors.New("bad frame")

func frameErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFrame, fmt.Sprintf(format, a...))
}

// writer appends big-endian fields.
type writer struct {
	b   []byte
	err error
}

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) raw(b []byte) { w.b = append(w.b, b...) }
func (w *writer) str8(field string, b []byte) {
	if len(b) > 255 {
		w.fail(fmt.Errorf("%s: %d bytes, at most 255", field, len(b)))
		return
	}
	w.u8(uint8(len(b)))
	w.raw(b)
}
func (w *writer) str16(field string, b []byte) {
	if len(b) > 1024 {
		b = b[:1024] // reasons are for logs; keep frames small
	}
	w.u16(uint16(len(b)))
	w.raw(b)
}
func (w *writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// reader consumes big-endian fields; the first shortfall is kept in err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = frameErr("%s: truncated (%d bytes left, %d needed)", field, len(r.b), n)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *reader) u8(f string) uint8 {
	if b := r.take(f, 1); b != nil {
		return b[0]
	}
	return 0
}
func (r *reader) u16(f string) uint16 {
	if b := r.take(f, 2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}
func (r *reader) u32(f string) uint32 {
	if b := r.take(f, 4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}
func (r *reader) u64(f string) uint64 {
	if b := r.take(f, 8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}
func (r *reader) str8(f string) []byte  { return r.take(f, int(r.u8(f+" length"))) }
func (r *reader) str16(f string) []byte { return r.take(f, int(r.u16(f+" length"))) }
func (r *reader) addr(f string) netip.Addr {
	if b := r.take(f, 4); b != nil {
		return netip.AddrFrom4([4]byte(b))
	}
	return netip.Addr{}
}
func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) > 0 {
		r.err = frameErr("%s: %d trailing bytes", what, len(r.b))
	}
	return r.err
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

func fromNano(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v))
}

func putAddr(w *writer, a netip.Addr) {
	if !a.Is4() {
		w.u32(0)
		return
	}
	b := a.As4()
	w.raw(b[:])
}

// encodeBody appends m's body (the fields of m.Type).
func encodeBody(w *writer, m *Message) {
	switch m.Type {
	case MsgConnect:
		putParams(w, &m.Params)
	case MsgConnectAck:
		w.raw(m.Echo[:])
		w.str16("reason", []byte(m.Reason))
		putParams(w, &m.Params)
	case MsgState:
		w.u8(uint8(m.State))
	case MsgContact, MsgUpdReqAll, MsgUpdDone:
	case MsgDisconnect:
		w.u8(boolByte(m.Shutdown))
		w.str16("reason", []byte(m.Reason))
	case MsgBndUpd:
		if len(m.Leases) > maxBatch {
			w.fail(fmt.Errorf("BNDUPD: %d bindings, at most %d", len(m.Leases), maxBatch))
			return
		}
		w.u64(m.Batch)
		w.u16(uint16(len(m.Leases)))
		for i := range m.Leases {
			putLease(w, &m.Leases[i])
		}
	case MsgBndAck:
		w.u64(m.Batch)
		if len(m.Rejected) > maxBatch {
			w.fail(fmt.Errorf("BNDACK: %d rejections, at most %d", len(m.Rejected), maxBatch))
			return
		}
		w.u16(uint16(len(m.Rejected)))
		for _, a := range m.Rejected {
			putAddr(w, a)
		}
	case MsgPoolReq:
		w.u16(m.Split)
	case MsgPoolResp:
		w.u16(m.Split)
		w.u8(boolByte(m.OK))
	default:
		w.fail(fmt.Errorf("encode: unknown message type %d", m.Type))
	}
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func putParams(w *writer, p *Params) {
	w.raw(p.Nonce[:])
	w.raw(p.HBA[:])
	w.u16(p.Threshold)
	w.u32(uint32(p.MCLT / time.Second))
	w.u32(uint32(p.ReceiveTimeout / time.Millisecond))
	w.u8(uint8(p.State))
	w.u16(p.ShareSplit)
	if len(p.Pools) > 1024 {
		w.fail(fmt.Errorf("params: %d ranges, at most 1024", len(p.Pools)))
		return
	}
	w.u16(uint16(len(p.Pools)))
	for _, r := range p.Pools {
		putAddr(w, r.Start)
		putAddr(w, r.End)
	}
}

func putLease(w *writer, l *lease.Lease) {
	if !l.IP.Is4() {
		w.fail(fmt.Errorf("binding: address %v is not IPv4", l.IP))
		return
	}
	putAddr(w, l.IP)
	state := uint8(l.State)
	if hasExtensions(l) {
		state |= stateExtended
	}
	w.u8(state)
	w.u8(uint8(l.IssuedBy.Role))
	putAddr(w, l.IssuedBy.ServerID)
	w.u64(unixNano(l.Start))
	w.u64(unixNano(l.Expiry))
	w.str8("client id", l.Client)
	w.str8("hwaddr", []byte(l.HWAddr))
	w.str8("hostname", []byte(l.Hostname))
	putExtensions(w, l)
}

// decodeBody fills m from body according to m.Type; it refuses anything
// short, long or out of range, naming the field.
func decodeBody(m *Message, body []byte) error {
	r := &reader{b: body}
	switch m.Type {
	case MsgConnect:
		getParams(r, &m.Params)
	case MsgConnectAck:
		copy(m.Echo[:], r.take("echo", 16))
		m.Reason = string(r.str16("reason"))
		getParams(r, &m.Params)
	case MsgState:
		m.State = decide.State(r.u8("state"))
		if r.err == nil {
			if _, err := decide.ParseState(m.State.String()); err != nil {
				return frameErr("STATE: unknown state %d", m.State)
			}
		}
	case MsgContact, MsgUpdReqAll, MsgUpdDone:
	case MsgDisconnect:
		m.Shutdown = getBool(r, "shutdown")
		m.Reason = string(r.str16("reason"))
	case MsgBndUpd:
		m.Batch = r.u64("batch")
		n := int(r.u16("count"))
		if n > maxBatch {
			return frameErr("BNDUPD: %d bindings, at most %d", n, maxBatch)
		}
		// Allocate only what the bytes present can hold.
		if r.err == nil && len(r.b) < n*minBinding {
			return frameErr("BNDUPD: %d bindings need at least %d bytes, %d left", n, n*minBinding, len(r.b))
		}
		if r.err == nil && n > 0 {
			m.Leases = make([]lease.Lease, n)
		}
		for i := 0; i < n && r.err == nil; i++ {
			getLease(r, &m.Leases[i], i)
		}
	case MsgBndAck:
		m.Batch = r.u64("batch")
		n := int(r.u16("rejected count"))
		if n > maxBatch {
			return frameErr("BNDACK: %d rejections, at most %d", n, maxBatch)
		}
		for i := 0; i < n && r.err == nil; i++ {
			m.Rejected = append(m.Rejected, r.addr("rejected address"))
		}
	case MsgPoolReq:
		m.Split = r.u16("split")
	case MsgPoolResp:
		m.Split = r.u16("split")
		m.OK = getBool(r, "ok")
	default:
		return frameErr("unknown message type %d", m.Type)
	}
	if err := r.done(m.Type.String()); err != nil {
		return err
	}
	if (m.Type == MsgPoolReq || m.Type == MsgPoolResp) && m.Split > 256 {
		return frameErr("%s: split %d, at most 256", m.Type, m.Split)
	}
	return nil
}

func getBool(r *reader, f string) bool {
	v := r.u8(f)
	if v > 1 && r.err == nil {
		r.err = frameErr("%s: %d is not 0 or 1", f, v)
	}
	return v == 1
}

func getParams(r *reader, p *Params) {
	copy(p.Nonce[:], r.take("nonce", 16))
	copy(p.HBA[:], r.take("hba", 32))
	p.Threshold = r.u16("threshold")
	p.MCLT = time.Duration(r.u32("mclt")) * time.Second
	p.ReceiveTimeout = time.Duration(r.u32("receive timeout")) * time.Millisecond
	p.State = decide.State(r.u8("state"))
	p.ShareSplit = r.u16("share split")
	n := int(r.u16("range count"))
	if r.err != nil {
		return
	}
	if n > 1024 {
		r.err = frameErr("params: %d ranges, at most 1024", n)
		return
	}
	if p.ShareSplit > 256 {
		r.err = frameErr("params: share split %d, at most 256", p.ShareSplit)
		return
	}
	if _, err := decide.ParseState(p.State.String()); err != nil {
		r.err = frameErr("params: unknown state %d", p.State)
		return
	}
	for i := 0; i < n && r.err == nil; i++ {
		rg := lease.Range{Start: r.addr("range start"), End: r.addr("range end")}
		if r.err == nil && rg.End.Less(rg.Start) {
			r.err = frameErr("params: range %d ends before it starts (%v)", i, rg)
		}
		p.Pools = append(p.Pools, rg)
	}
}

func getLease(r *reader, l *lease.Lease, i int) {
	l.IP = r.addr("binding address")
	state := r.u8("binding state")
	l.State = lease.State(state &^ stateExtended)
	role := r.u8("binding issuer role")
	sid := r.addr("binding issuer server id")
	l.Start = fromNano(r.u64("binding start"))
	l.Expiry = fromNano(r.u64("binding expiry"))
	if c := r.str8("binding client id"); len(c) > 0 {
		l.Client = append(lease.ClientID(nil), c...)
	}
	l.HWAddr = string(r.str8("binding hwaddr"))
	l.Hostname = string(r.str8("binding hostname"))
	if state&stateExtended != 0 {
		getExtensions(r, l)
	}
	if r.err != nil {
		return
	}
	switch {
	case l.State < lease.Bound || l.State > lease.Declined:
		r.err = frameErr("binding %d (%v): unknown state %d", i, l.IP, l.State)
	case role > uint8(decide.Secondary):
		r.err = frameErr("binding %d (%v): unknown issuer role %d", i, l.IP, role)
	}
	l.IssuedBy.Role = decide.Role(role)
	if sid != netip.AddrFrom4([4]byte{}) {
		l.IssuedBy.ServerID = sid
	}
}
