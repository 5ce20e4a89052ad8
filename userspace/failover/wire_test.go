package failover

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

var testSecret = []byte("0123456789abcdef-shared")

// bindingFrom makes a lease the way the server would for a DHCP client:
// client id = htype + chaddr, as lease.ClientID documents.
func bindingFrom(t testing.TB, mac, ip string, start time.Time) lease.Lease {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dhcpv4.NewDiscovery(hw, dhcpv4.WithOption(dhcpv4.OptHostName("host-"+strings.ReplaceAll(mac, ":", ""))))
	if err != nil {
		t.Fatal(err)
	}
	return lease.Lease{
		IP: netip.MustParseAddr(ip), Client: append(lease.ClientID{byte(m.HWType)}, m.ClientHWAddr...),
		HWAddr: m.ClientHWAddr.String(), Hostname: m.HostName(), State: lease.Bound,
		Start: start, Expiry: start.Add(time.Hour),
		IssuedBy: lease.Issuer{Role: decide.Secondary, ServerID: netip.MustParseAddr("198.18.0.2")},
	}
}

func sampleMessages(t testing.TB) []*Message {
	now := time.Unix(1_700_000_000, 123456789)
	p := Params{Nonce: [16]byte{1, 2, 3}, HBA: decide.MustSplit(128), Threshold: 6, MCLT: time.Hour,
		ReceiveTimeout: 3 * time.Second, State: decide.Normal, ShareSplit: 128,
		Pools: []lease.Range{{Start: netip.MustParseAddr("198.18.0.100"), End: netip.MustParseAddr("198.18.0.200")}}}
	return []*Message{
		{Header: Header{Type: MsgConnect}, Params: p},
		{Header: Header{Type: MsgConnectAck}, Echo: [16]byte{9}, Reason: "threshold: this server 6, partner 4", Params: p},
		{Header: Header{Type: MsgState}, State: decide.PartnerDown},
		{Header: Header{Type: MsgContact}},
		{Header: Header{Type: MsgUpdReqAll}},
		{Header: Header{Type: MsgUpdDone}},
		{Header: Header{Type: MsgDisconnect}, Shutdown: true, Reason: "stopping"},
		{Header: Header{Type: MsgBndUpd}, Batch: 7, Leases: []lease.Lease{
			bindingFrom(t, "00:00:01:02:03:05", "198.18.0.150", now),
			bindingFrom(t, "52:54:00:12:34:56", "198.18.0.151", now.Add(time.Second)),
		}},
		{Header: Header{Type: MsgBndAck}, Batch: 7, Rejected: []netip.Addr{netip.MustParseAddr("198.18.0.151")}},
		{Header: Header{Type: MsgPoolReq}, Split: 140},
		{Header: Header{Type: MsgPoolResp}, Split: 140, OK: true},
	}
}

func TestRoundTrip(t *testing.T) {
	s := &session{secret: testSecret, me: decide.Primary, maxSkew: time.Second, now: time.Now}
	r := &session{secret: testSecret, me: decide.Secondary, maxSkew: time.Second, now: time.Now}
	for _, m := range sampleMessages(t) {
		t.Run(m.Type.String(), func(t *testing.T) {
			b, err := s.seal(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.open(b)
			if err != nil {
				t.Fatal(err)
			}
			// times lose their monotonic part and location on the wire
			for i := range got.Leases {
				if !got.Leases[i].Start.Equal(m.Leases[i].Start) || !got.Leases[i].Expiry.Equal(m.Leases[i].Expiry) {
					t.Errorf("lease %d times: %v %v", i, got.Leases[i].Start, got.Leases[i].Expiry)
				}
				got.Leases[i].Start, got.Leases[i].Expiry = m.Leases[i].Start, m.Leases[i].Expiry
			}
			got.Header.Time = m.Header.Time
			if !reflect.DeepEqual(got, m) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	seal := func(secret []byte, role decide.Role, seq uint64, at time.Time, m *Message) []byte {
		s := &session{secret: secret, me: role, sendSeq: seq, maxSkew: time.Second, now: func() time.Time { return at }}
		b, err := s.seal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	state := &Message{Header: Header{Type: MsgState}, State: decide.Normal}
	good := seal(testSecret, decide.Primary, 0, now, state)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 0x40; return c }
	for _, tc := range []struct {
		name  string
		frame []byte
		seq   uint64
		keyed bool
		want  error
		text  string
	}{
		{"wrong secret", seal([]byte("another secret of 16+ bytes"), decide.Primary, 0, now, state), 0, false, ErrAuth, "MAC does not match"},
		{"altered body", flip(good, headerLen), 0, false, ErrAuth, "MAC does not match"},
		{"altered seq", flip(good, 15), 0, false, ErrAuth, "MAC does not match"},
		{"replayed (sequence already seen)", good, 1, false, ErrAuth, "sequence 0, expected 1"},
		{"too old", seal(testSecret, decide.Primary, 0, now.Add(-2*time.Second), state), 0, false, ErrAuth, "off this server's clock"},
		{"from the future", seal(testSecret, decide.Primary, 0, now.Add(2*time.Second), state), 0, false, ErrAuth, "off this server's clock"},
		{"reflected own frame", seal(testSecret, decide.Secondary, 0, now, state), 0, true, ErrAuth, "own role"},
		{"truncated", good[:len(good)-1], 0, false, ErrFrame, "length field"},
		{"short", good[:minFrame-1], 0, false, ErrFrame, "length"},
		{"bad state value", seal(testSecret, decide.Primary, 0, now, &Message{Header: Header{Type: MsgState}, State: 200}), 0, false, ErrFrame, "unknown state 200"},
		{"oversized batch", nil, 0, false, ErrFrame, "at most 64"},
		{"batch count beyond its bytes", rawFrame(testSecret, MsgBndUpd, decide.Primary, 0, now, []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 64, 198, 18, 0, 1}), 0, false, ErrFrame, "64 bindings need at least 1856 bytes, 4 left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frame := tc.frame
			if frame == nil { // hand-built: a BNDUPD claiming 65 bindings
				w := &writer{b: make([]byte, headerLen)}
				w.u64(1)
				w.u16(65)
				frame = rawFrame(testSecret, MsgBndUpd, decide.Primary, 0, now, w.b[headerLen:])
			}
			r := &session{secret: testSecret, me: decide.Secondary, recvSeq: tc.seq, maxSkew: time.Second, now: clock}
			if tc.keyed {
				r.key = testSecret
			}
			m, err := r.open(frame)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("open = %v, %v; want %v containing %q", m, err, tc.want, tc.text)
			}
			if r.recvSeq != tc.seq {
				t.Errorf("a refused frame advanced the sequence to %d", r.recvSeq)
			}
		})
	}
}

// rawFrame builds a correctly MAC'd frame around any body (tests, fuzz seeds).
func rawFrame(key []byte, t MsgType, role decide.Role, seq uint64, at time.Time, body []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(body)+macLen)
	binary.BigEndian.PutUint16(b, uint16(headerLen+len(body)+macLen))
	b[2], b[3], b[4] = ProtocolVersion, byte(t), byte(role)
	binary.BigEndian.PutUint64(b[8:], seq)
	binary.BigEndian.PutUint64(b[16:], uint64(at.UnixNano()))
	return macFrame(key, append(b, body...))
}

func TestReadFrame(t *testing.T) {
	m := sampleMessages(t)[7]
	m.Version = ProtocolVersion
	b, err := Encode(testSecret, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadFrame(bytes.NewReader(append(bytes.Clone(b), 0xff)))
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("ReadFrame = %x, %v", got, err)
	}
	if _, err := ReadFrame(bytes.NewReader(b[:len(b)-3])); !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated frame: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 3, 1, 2, 3})); !errors.Is(err, ErrFrame) {
		t.Errorf("length below the header: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("empty stream: %v, want EOF", err)
	}
	// An encoder refuses what a decoder would refuse.
	big := &Message{Header: Header{Type: MsgBndUpd}, Leases: make([]lease.Lease, maxBatch+1)}
	if _, err := Encode(testSecret, big); err == nil {
		t.Error("encoded a batch larger than maxBatch")
	}
	long := sampleMessages(t)[7]
	long.Leases[0].Hostname = strings.Repeat("h", 256)
	if _, err := Encode(testSecret, long); err == nil || !strings.Contains(err.Error(), "hostname") {
		t.Errorf("256-byte hostname: %v", err)
	}
}

func TestSessionKeyDependsOnBothNonces(t *testing.T) {
	a, b := [16]byte{1}, [16]byte{2}
	k := sessionKey(testSecret, a, b)
	if bytes.Equal(k, sessionKey(testSecret, b, a)) || bytes.Equal(k, sessionKey(testSecret, a, a)) || bytes.Equal(k, testSecret) {
		t.Error("session key does not depend on both nonces in order")
	}
}
