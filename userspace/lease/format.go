package lease

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// The lease file is a journal of text lines (docs/lease-store.md):
//
//	xdhcp-leases 1
//	3f1c22a0 {"ip":"198.18.0.10","client_id":"01020000000001",...}
//	...
//	(zero bytes: space written ahead, so a commit does not grow the file)
//
// Each record is the CRC-32C of its JSON (8 hex digits), a space, the
// lease as JSON (the same fields as `xdhcp leases --json`) and a newline.
// The last record of an address wins. Reading stops at the first zero
// byte; a record cut short by a crash (no newline, or a CRC that does not
// match, with no good record after it) is a torn tail and is dropped.

// fileHeader is the first line of a lease journal.
const fileHeader = "xdhcp-leases 1\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends l's journal line to b.
func appendRecord(b []byte, l Lease) ([]byte, error) {
	start := len(b)
	b = append(b, "00000000 "...)
	js := len(b)
	var err error
	if b, err = appendLeaseJSON(b, l); err != nil {
		return b[:start], err
	}
	var crc [4]byte
	c := crc32.Checksum(b[js:], castagnoli)
	crc[0], crc[1], crc[2], crc[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	hex.Encode(b[start:start+8], crc[:])
	return append(b, '\n'), nil
}

// encode is the lease's record JSON (Put and imports check it first).
func (l Lease) encode() ([]byte, error) { return appendLeaseJSON(nil, l) }

// errTorn marks a line that is not a whole record (no CRC, bad CRC).
var errTorn = errors.New("not a whole record (cut short or overwritten)")

// decodeRecord reads one journal line (without its newline).
func decodeRecord(line []byte) (Lease, error) {
	var l Lease
	if len(line) < 10 || line[8] != ' ' {
		return l, errTorn
	}
	var crc [4]byte
	if _, err := hex.Decode(crc[:], line[:8]); err != nil {
		return l, errTorn
	}
	want := uint32(crc[0])<<24 | uint32(crc[1])<<16 | uint32(crc[2])<<8 | uint32(crc[3])
	js := line[9:]
	if crc32.Checksum(js, castagnoli) != want {
		return l, fmt.Errorf("%w: CRC mismatch", errTorn)
	}
	if err := json.Unmarshal(js, &l); err != nil {
		return l, fmt.Errorf("decode: %w", err)
	}
	if err := l.check(); err != nil {
		return l, err
	}
	return l, nil
}

// check refuses a decoded lease no server would have written.
func (l Lease) check() error {
	if !l.IP.Is4() {
		return fmt.Errorf("address %v is not IPv4", l.IP)
	}
	if l.State < Bound || l.State > Declined {
		return fmt.Errorf("lease %v: unknown state %d", l.IP, l.State)
	}
	return nil
}

// keyOf names a record that does not decode, for the log: its "ip" field
// when one can be read, else "?".
func keyOf(line []byte) string {
	i := bytes.Index(line, []byte(`"ip":"`))
	if i < 0 {
		return "?"
	}
	rest := line[i+6:]
	if j := bytes.IndexByte(rest, '"'); j > 0 && j <= 15 {
		return strconv.QuoteToASCII(string(rest[:j]))
	}
	return "?"
}

// leaseFields is Lease's shape as appendLeaseJSON knows it; when Lease
// changes, appendLeaseJSON falls back to encoding/json (correct, slower)
// and TestRecordFastEncoderKnowsLease fails until it is taught the field.
const leaseFields = "IP:netip.Addr Client:lease.ClientID HWAddr:string Hostname:string State:lease.State " +
	"Start:time.Time Expiry:time.Time IssuedBy:lease.Issuer{Role:decide.Role ServerID:netip.Addr} RelayInfo:[]uint8 DNSName:string"

func shapeOf(t reflect.Type) string {
	var b []byte
	for i := range t.NumField() {
		f := t.Field(i)
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f.Name+":"+f.Type.String()...)
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath() {
			b = append(b, '{')
			b = append(b, shapeOf(f.Type)...)
			b = append(b, '}')
		}
	}
	return string(b)
}

var fastEncode = shapeOf(reflectLease) == leaseFields

// appendLeaseJSON appends l as encoding/json would write it (field for
// field; the tests compare the two) without its allocations.
func appendLeaseJSON(b []byte, l Lease) ([]byte, error) {
	if !fastEncode {
		js, err := json.Marshal(l)
		return append(b, js...), err
	}
	b = append(b, `{"ip":"`...)
	b = l.IP.AppendTo(b)
	b = append(b, '"')
	if len(l.Client) > 0 {
		b = append(b, `,"client_id":"`...)
		b = hex.AppendEncode(b, l.Client)
		b = append(b, '"')
	}
	if l.HWAddr != "" {
		b = append(b, `,"hwaddr":`...)
		b = appendJSONString(b, l.HWAddr)
	}
	if l.Hostname != "" {
		b = append(b, `,"hostname":`...)
		b = appendJSONString(b, l.Hostname)
	}
	b = append(b, `,"state":`...)
	b = appendJSONString(b, l.State.String())
	var err error
	b = append(b, `,"start":`...)
	if b, err = appendTime(b, l.Start); err != nil {
		return b, err
	}
	b = append(b, `,"expiry":`...)
	if b, err = appendTime(b, l.Expiry); err != nil {
		return b, err
	}
	b = append(b, `,"issued_by":{"role":`...)
	b = appendJSONString(b, l.IssuedBy.Role.String())
	b = append(b, `,"server_id":"`...)
	b = l.IssuedBy.ServerID.AppendTo(b)
	b = append(b, `"}`...)
	if len(l.RelayInfo) > 0 {
		b = append(b, `,"relay_info":"`...)
		b = base64.StdEncoding.AppendEncode(b, l.RelayInfo)
		b = append(b, '"')
	}
	if l.DNSName != "" {
		b = append(b, `,"dns_name":`...)
		b = appendJSONString(b, l.DNSName)
	}
	return append(b, '}'), nil
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		js, err := json.Marshal(t) // the same error encoding/json gives
		return append(b, js...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendJSONString quotes s; plain printable ASCII (hostnames, MACs) is
// copied, anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			js, _ := json.Marshal(s)
			return append(b, js...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

var reflectLease = reflect.TypeFor[Lease]()
