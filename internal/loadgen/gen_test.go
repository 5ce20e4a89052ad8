package loadgen

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

func TestClientsShare(t *testing.T) {
	hba := decide.MustSplit(128)
	for _, tc := range []struct {
		n     int
		share float64
	}{{1000, 0}, {1000, 0.5}, {1000, 1}, {999, 0.25}, {1, 1}} {
		macs, err := Clients(tc.n, tc.share, hba, decide.Primary)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		partner := 0
		for _, m := range macs {
			if seen[m.String()] {
				t.Fatalf("%v: %s twice", tc, m)
			}
			seen[m.String()] = true
			if hba.Owner(decide.Bucket(m)) == decide.Secondary {
				partner++
			}
		}
		if want := int(float64(tc.n)*tc.share + 0.5); len(macs) != tc.n || partner != want {
			t.Errorf("%v: %d clients, %d the partner's; want %d, %d", tc, len(macs), partner, tc.n, want)
		}
	}
}

func TestClientsBadInput(t *testing.T) {
	for _, tc := range []struct {
		n     int
		share float64
		hba   decide.HBA
	}{{0, 0.5, decide.MustSplit(128)}, {MaxClients + 1, 0.5, decide.MustSplit(128)}, {10, -0.1, decide.MustSplit(128)},
		{10, 1.1, decide.MustSplit(128)}, {10, 0.5, decide.MustSplit(256)}, {10, 0.5, decide.MustSplit(0)}} {
		if _, err := Clients(tc.n, tc.share, tc.hba, decide.Primary); err == nil {
			t.Errorf("Clients(%d, %v, %s): no error", tc.n, tc.share, tc.hba)
		}
	}
}

// Every template parses as the rule expects, with the fields the program
// stamps at the offsets it stamps them.
func TestTemplates(t *testing.T) {
	cfg := decide.DefaultRule()
	sid := netip.MustParseAddr("198.18.0.1")
	cfg.ServerIDs = []netip.Addr{sid}
	want := map[Type]decide.Reason{
		Discover: decide.ReasonOwned, Request: decide.ReasonServerIDMine, Reboot: decide.ReasonOwned,
		Renew: decide.ReasonRenewRebind, Rebind: decide.ReasonRenewRebind, Decline: decide.ReasonServerIDMine,
		Release: decide.ReasonServerIDMine, Inform: decide.ReasonOwned,
	}
	owned := net.HardwareAddr{0x00, 0x00, 0x01, 0x02, 0x03, 0x05} // bucket 45: the primary's
	for _, typ := range Types() {
		f, err := Template(typ, sid)
		if err != nil {
			t.Fatal(err)
		}
		copy(f[bootpOff+chaddrOff:], owned)
		if got := decide.DecideFrame(&cfg, f).Reason; got != want[typ] {
			t.Errorf("%s: %s, want %s", typ, got, want[typ])
		}
	}
	if _, err := ParseTypes("discover, request"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "offer", "discover,,ack"} {
		if _, err := ParseTypes(bad); err == nil {
			t.Errorf("ParseTypes(%q): no error", bad)
		}
	}
}

// The program stamps a new client, xid and secs into every frame, walking
// the client table in order.
func TestProgramRewritesEachPacket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs (run as root; CI does)")
	}
	clients, err := Clients(3, 0.5, decide.MustSplit(128), decide.Primary)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := load(len(clients), map[string]uint32{"gen_ifindex": 1, "gen_clients_n": 3, "gen_cpu_stride": 0,
		"gen_secs_min": 5, "gen_secs_span": 3, "gen_rewrite": 1})
	if err != nil {
		t.Fatal(err)
	}
	defer objs.Close()
	if err := fillClients(objs.GenClients, clients); err != nil {
		t.Fatal(err)
	}
	tmpl, err := Template(Discover, netip.MustParseAddr("198.18.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	xids := map[uint32]bool{}
	for i := 0; i < 7; i++ {
		out := make([]byte, len(tmpl))
		ret, err := objs.XdhcpGen.Run(&ebpf.RunOptions{Data: tmpl, DataOut: out})
		if err != nil {
			t.Fatal(err)
		}
		if ret != 4 { // XDP_REDIRECT
			t.Fatalf("packet %d: action %d, want XDP_REDIRECT", i, ret)
		}
		want := clients[i%3]
		if !bytes.Equal(out[bootpOff+chaddrOff:bootpOff+chaddrOff+6], want) || !bytes.Equal(out[ethSrcOff:ethSrcOff+6], want) {
			t.Errorf("packet %d: chaddr %x, eth src %x; want %s", i, out[bootpOff+chaddrOff:][:6], out[ethSrcOff:][:6], want)
		}
		if secs := binary.BigEndian.Uint16(out[bootpOff+8:]); secs < 5 || secs > 7 {
			t.Errorf("packet %d: secs %d, want 5..7", i, secs)
		}
		xids[binary.BigEndian.Uint32(out[bootpOff+4:])] = true
		if req, _, ok := decide.ParseFrame(out); !ok || req.MsgType != decide.MsgDiscover {
			t.Errorf("packet %d: no longer a DISCOVER", i)
		}
	}
	if len(xids) < 6 {
		t.Errorf("%d distinct xids in 7 packets", len(xids))
	}
	n, err := sentCount(objs.GenSent)
	if err != nil || n != 7 {
		t.Errorf("sent counter %d (%v), want 7", n, err)
	}
}
