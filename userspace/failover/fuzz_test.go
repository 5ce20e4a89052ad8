package failover

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes to the frame reader and, with a valid
// length and MAC patched in so the body parser is reached, to the decoder.
// Whatever it accepts must encode back to the same message.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages(f) {
		m.Version = ProtocolVersion
		b, err := Encode(testSecret, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if fr, err := ReadFrame(bytes.NewReader(in)); err == nil {
			if len(fr) > MaxFrame || len(fr) > len(in) {
				t.Fatalf("ReadFrame returned %d bytes from %d", len(fr), len(in))
			}
			Decode(testSecret, fr)
		}
		if len(in) < minFrame || len(in) > MaxFrame {
			return
		}
		b := bytes.Clone(in[:len(in)-macLen])
		binary.BigEndian.PutUint16(b, uint16(len(in)))
		fr := macFrame(testSecret, b)
		m, err := Decode(testSecret, fr)
		if err != nil {
			return
		}
		if len(m.Leases) > maxBatch || len(m.Rejected) > maxBatch {
			t.Fatalf("decoded %d bindings, %d rejections", len(m.Leases), len(m.Rejected))
		}
		again, err := Encode(testSecret, m)
		if err != nil {
			t.Fatalf("decoded %s does not encode: %v", m.Type, err)
		}
		m2, err := Decode(testSecret, again)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", m.Type, err)
		}
		if !reflect.DeepEqual(normalise(m), normalise(m2)) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, m2)
		}
	})
}

// normalise drops what the wire does not keep exactly (time locations).
func normalise(m *Message) string { return fmt.Sprintf("%v", *m) }

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzDecode (XDHCP_WRITE_SEEDS=1).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("XDHCP_WRITE_SEEDS") == "" {
		t.Skip("set XDHCP_WRITE_SEEDS=1 to rewrite the committed fuzz corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range sampleMessages(t) {
		m.Version, m.Time = ProtocolVersion, at
		b, err := Encode(testSecret, m)
		if err != nil {
			t.Fatal(err)
		}
		write(fmt.Sprintf("%02d-%s", i, m.Type), b)
	}
	write("garbage-http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	write("length-max", append([]byte{0xff, 0xff}, make([]byte, 80)...))
	write("bndupd-count-65", rawFrame(testSecret, MsgBndUpd, 0, 0, at, []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 65}))
	write("bndupd-str-overrun", rawFrame(testSecret, MsgBndUpd, 0, 0, at, append([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 198, 18, 0, 1, 1, 0, 0, 0, 0, 0}, append(make([]byte, 16), 200)...)))
}
