package loader

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// readCapture returns the frames of a pcap or pcapng file in testdata/.
func readCapture(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	next := func() ([]byte, error) { return nil, io.EOF }
	if strings.HasSuffix(name, ".pcapng") {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
	}
	for {
		d, err := next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, append([]byte(nil), d...))
	}
}

// requests keeps the frames the XDP program would see at a server: those
// the twin parses as BOOTREQUESTs to port 67.
func requests(frames [][]byte) (out [][]byte, reqs []decide.Request) {
	for _, f := range frames {
		if r, _, ok := decide.ParseFrame(f); ok {
			out = append(out, f)
			reqs = append(reqs, r)
		}
	}
	return out, reqs
}

// dhcp-seconds.pcap: the Windows non-owner is silent at secs 0..5 and answers
// from 6; xdhcp as the non-owner with T=6 must drop and pass the same.
func TestReplayWindowsSecs(t *testing.T) {
	p := loadTest(t)
	frames, reqs := requests(readCapture(t, "dhcp-seconds.pcap"))
	if len(frames) != 30 {
		t.Fatalf("dhcp-seconds.pcap: %d DISCOVERs, want 30 (3 runs of secs 0..9)", len(frames))
	}
	// Windows gives buckets 0-127 to .30: the primary here.
	for _, tc := range []struct {
		name  string
		role  decide.Role
		state decide.State
	}{
		{"non-owner", decide.Secondary, decide.Normal},
		{"owner", decide.Primary, decide.Normal},
		{"non-owner in partner-down", decide.Secondary, decide.PartnerDown},
	} {
		cfg := setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: tc.role, Threshold: 6, Rule: tc.state, ChaddrOnly: true})
		dropped := map[uint16]int{}
		for i, f := range frames {
			action, reason := kernelVerdict(t, p, f)
			if twin := decide.DecideFrame(cfg, f); twin.Reason != reason {
				t.Errorf("%s frame %d: kernel %s, Go %s", tc.name, i, reason, twin.Reason)
			}
			if action == xdpDrop {
				dropped[reqs[i].Secs]++
			}
		}
		for secs := uint16(0); secs < 10; secs++ {
			want := 0
			if tc.role == decide.Secondary && tc.state == decide.Normal && secs < 6 {
				want = 3 // once per run
			}
			if dropped[secs] != want {
				t.Errorf("%s: secs %d dropped %d times, want %d", tc.name, secs, dropped[secs], want)
			}
		}
	}
}

// win-server2-1.pcapng: the non-owner .31 answers neither the DISCOVER nor the
// SELECTING REQUEST naming .30; win-server1-1: the owner passes every request.
func TestReplayWindowsServers(t *testing.T) {
	p := loadTest(t)
	s30, s31 := netip.MustParseAddr("10.0.41.30"), netip.MustParseAddr("10.0.41.31")
	cfg := setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: decide.Normal, ServerIDs: []netip.Addr{s31}, ChaddrOnly: true})
	frames, reqs := requests(readCapture(t, "win-server2-1.pcapng"))
	if len(frames) != 2 {
		t.Fatalf("win-server2-1: %d requests, want 2", len(frames))
	}
	want := []decide.Reason{decide.ReasonPartnerDropped, decide.ReasonOtherServerDropped}
	for i, f := range frames {
		if reqs[i].Giaddr != [4]byte{192, 168, 60, 1} {
			t.Errorf("frame %d: giaddr %v, want the relay", i, reqs[i].Giaddr)
		}
		checkFrame(t, p, cfg, "win-server2-1", f, want[i])
	}
	cfg = setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Primary, Threshold: 6, Rule: decide.Normal, ServerIDs: []netip.Addr{s30}, ChaddrOnly: true})
	frames, _ = requests(readCapture(t, "win-server1-1.pcapng"))
	// DISCOVER (owned), SELECTING (names .30), RENEWING (ciaddr), RELEASE (names .30)
	want = []decide.Reason{decide.ReasonOwned, decide.ReasonServerIDMine, decide.ReasonRenewRebind, decide.ReasonServerIDMine}
	if len(frames) != len(want) {
		t.Fatalf("win-server1-1: %d requests, want %d", len(frames), len(want))
	}
	for i, f := range frames {
		checkFrame(t, p, cfg, "win-server1-1", f, want[i])
	}
}
