package failover

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
)

// legacyBinding is the version-1 binding layout written out field by
// field: what a partner built before extensions existed sends and expects.
func legacyBinding(l lease.Lease) []byte {
	var b []byte
	ip, sid := l.IP.As4(), l.IssuedBy.ServerID.As4()
	b = append(b, ip[:]...)
	b = append(b, uint8(l.State), uint8(l.IssuedBy.Role))
	b = append(b, sid[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Start.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(l.Expiry.UnixNano()))
	for _, s := range [][]byte{l.Client, []byte(l.HWAddr), []byte(l.Hostname)} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b
}

func bndupdBody(bindings ...[]byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(bindings)))
	for _, x := range bindings {
		b = append(b, x...)
	}
	return b
}

func TestBindingWithoutExtensionsIsVersion1(t *testing.T) {
	l := bindingFrom(t, "00:00:01:02:03:05", "198.18.0.150", time.Unix(1_700_000_000, 5))
	w := &writer{}
	putLease(w, &l)
	if w.err != nil || !bytes.Equal(w.b, legacyBinding(l)) {
		t.Fatalf("binding without relay info or DNS name:\n got %x\nwant %x (err %v)", w.b, legacyBinding(l), w.err)
	}
	// And a version-1 frame decodes to the same lease.
	m := &Message{Header: Header{Type: MsgBndUpd}}
	if err := decodeBody(m, bndupdBody(legacyBinding(l))); err != nil {
		t.Fatal(err)
	}
	if got := m.Leases[0]; got.IP != l.IP || got.Hostname != l.Hostname || got.RelayInfo != nil || got.DNSName != "" {
		t.Fatalf("decoded %+v", got)
	}
}

func TestBindingExtensionsRoundTrip(t *testing.T) {
	l := bindingFrom(t, "52:54:00:12:34:56", "198.18.0.151", time.Unix(1_700_000_000, 0))
	l.RelayInfo = []byte{1, 4, 'e', '-', 'r', 'c', 2, 3, 0x0a, 0x0b, 0x0c}
	l.DNSName = "host-525400123456.lab.example."
	w := &writer{}
	putLease(w, &l)
	if w.err != nil {
		t.Fatal(w.err)
	}
	if w.b[4]&stateExtended == 0 {
		t.Fatalf("state byte %#x lacks the extension flag", w.b[4])
	}
	// A TLV of a type this version does not know is skipped.
	enc := append([]byte(nil), w.b...)
	n := binary.BigEndian.Uint16(enc[len(legacyBinding(l)):])
	enc = append(enc, 99, 2, 'x', 'y')
	binary.BigEndian.PutUint16(enc[len(legacyBinding(l)):], n+4)
	for name, body := range map[string][]byte{"known": bndupdBody(w.b), "with unknown TLV": bndupdBody(enc)} {
		m := &Message{Header: Header{Type: MsgBndUpd}}
		if err := decodeBody(m, body); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := m.Leases[0]
		got.Start, got.Expiry = l.Start, l.Expiry
		if !reflect.DeepEqual(got, l) {
			t.Fatalf("%s:\n got %+v\nwant %+v", name, got, l)
		}
	}
	// Truncated or overrunning extension blocks are refused, naming the field.
	for _, cut := range []int{1, 3, 6} {
		m := &Message{Header: Header{Type: MsgBndUpd}}
		err := decodeBody(m, bndupdBody(w.b[:len(w.b)-cut]))
		if !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "extension") {
			t.Fatalf("cut %d: %v", cut, err)
		}
	}
}

// The largest bindings this server sends still fit one frame per BNDUPD.
func TestLargestBatchFitsAFrame(t *testing.T) {
	big := lease.Lease{
		IP: netip.MustParseAddr("198.18.0.1"), State: lease.Bound, Client: bytes.Repeat([]byte{1}, 255),
		HWAddr: strings.Repeat("a", 255), Hostname: strings.Repeat("h", 255),
		RelayInfo: bytes.Repeat([]byte{2}, 255), DNSName: strings.Repeat("d", 255),
		Start: time.Unix(1, 0), Expiry: time.Unix(2, 0),
	}
	m := &Message{Header: Header{Type: MsgBndUpd}}
	for range sendBatch {
		m.Leases = append(m.Leases, big)
	}
	s := &session{secret: testSecret, maxSkew: time.Second, now: time.Now}
	if _, err := s.seal(m); err != nil {
		t.Fatalf("%d largest bindings: %v", sendBatch, err)
	}
}
