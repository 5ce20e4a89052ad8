package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/relaydiag"
)

// relayedDiscover is a DISCOVER as relay giaddr forwards it: unicast from
// the relay's address and port 67 to the server, giaddr set, hops 1.
func relayedDiscover(mac net.HardwareAddr, giaddr net.IP, secs uint16) []byte {
	m, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithRelay(giaddr))
	if err != nil {
		panic(err) // only fails on a broken random source
	}
	m.NumSeconds = secs
	return frames.Frame{Src: net.HardwareAddr{0x02, 0x18, 0xff, 0, 0, giaddr.To4()[3]}, SrcIP: giaddr, DstIP: net.IPv4(198, 18, 0, 1),
		SrcPort: 67, Payload: m.ToBytes()}.Bytes()
}

// macsOwnedBy returns n MACs whose bucket role owns under split 128.
func macsOwnedBy(role decide.Role, n int, seed byte) []net.HardwareAddr {
	hba := decide.MustSplit(128)
	var out []net.HardwareAddr
	for i := 0; len(out) < n; i++ {
		mac := net.HardwareAddr{0x02, 0x18, seed, 0, byte(i >> 8), byte(i)}
		if hba.Owner(decide.Bucket(mac)) == role {
			out = append(out, mac)
		}
	}
	return out
}

func readRelaysJSON(t *testing.T, out string) relaydiag.Report {
	t.Helper()
	var rep relaydiag.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("relays --json: %v\n%s", err, out)
	}
	return rep
}

func findRelay(rep relaydiag.Report, name string) (relaydiag.Finding, bool) {
	for _, f := range rep.Relays {
		if f.Name == name {
			return f, true
		}
	}
	return relaydiag.Finding{}, false
}

// The lab: this server is the secondary (non-owner of the primary's
// buckets) with threshold 6, attached by `xdhcp attach` under ip netns exec.
// Relay A forwards only here: its partner-owned clients retransmit with secs
// 0..9 and are served from secs 6. Relay B forwards to both servers: its
// partner-owned clients stop at secs 5 because the partner answered. The
// kernel's counters, read by `xdhcp relays`, must flag A and only A.
func TestRelayDiagnosisInNamespaceLab(t *testing.T) {
	l := newLab(t, "xor")
	bin := buildBinary(t)
	ctx := context.Background()
	x := func(args ...string) string { return run(t, l.srv.Command(ctx, bin, args...)) }
	t.Cleanup(func() { _ = l.srv.Command(ctx, bin, "detach", "--iface", "srv0").Run() })

	x("attach", "--iface", "srv0", "--mode", "native", "--role", "secondary", "--split", "128", "--threshold", "6")

	relayA, relayB := net.IPv4(198, 18, 7, 1), net.IPv4(198, 18, 8, 1)
	partner := macsOwnedBy(decide.Primary, 6, 1)
	mine := macsOwnedBy(decide.Secondary, 2, 2)
	sent := 0
	send := func(f []byte) {
		if err := l.tx.Send(f); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	// Interleaved as the clients would be: every second each waiting client retransmits.
	for secs := uint16(0); secs <= 9; secs++ {
		for _, mac := range partner[:3] {
			send(relayedDiscover(mac, relayA, secs))
		}
		if secs <= 5 {
			for _, mac := range partner[3:] {
				send(relayedDiscover(mac, relayB, secs))
			}
		}
	}
	for _, mac := range mine {
		send(relayedDiscover(mac, relayA, 0))
		send(relayedDiscover(mac, relayB, 0))
	}

	var rep relaydiag.Report
	deadline := time.Now().Add(5 * time.Second)
	for {
		rep = readRelaysJSON(t, x("relays", "--json"))
		var n uint64
		for _, f := range rep.Relays {
			n += f.Requests
		}
		if n >= uint64(sent) || time.Now().After(deadline) {
			if n != uint64(sent) {
				t.Fatalf("kernel counted %d relayed requests, sent %d: %+v", n, sent, rep)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	a, okA := findRelay(rep, "198.18.7.1")
	b, okB := findRelay(rep, "198.18.8.1")
	if !okA || !okB || len(rep.Relays) != 2 {
		t.Fatalf("want relays A and B only: %+v", rep.Relays)
	}
	// A: 3 clients x (6 dropped at secs 0..5, 4 served at secs 6..9) + 2 owned.
	if a.PartnerDropped != 18 || a.PartnerOverridden != 12 || a.Owned != 2 || a.MaxOverrideSecs != 9 {
		t.Errorf("relay A counters %+v", a)
	}
	// B: 3 clients x 6 dropped, none served here + 2 owned.
	if b.PartnerDropped != 18 || b.PartnerOverridden != 0 || b.Owned != 2 {
		t.Errorf("relay B counters %+v", b)
	}
	if a.Status != relaydiag.StatusForwardsOnlyHere || b.Status != relaydiag.StatusOK || rep.Flagged != 1 {
		t.Errorf("diagnosis: A %s, B %s, flagged %d; want A only", a.Status, b.Status, rep.Flagged)
	}
	text := x("relays")
	if !strings.Contains(text, "relay 198.18.7.1 appears to forward only to this server") || strings.Contains(text, "relay 198.18.8.1 appears") {
		t.Errorf("relays text output:\n%s", text)
	}
	if time.Since(a.LastSeen) > time.Minute || time.Since(a.LastSeen) < -time.Second {
		t.Errorf("relay A last seen %s, want just now", a.LastSeen)
	}

	// explain reads the same live config and relay counters.
	var ex struct {
		Config         struct{ Source, Role string }
		Verdict        struct{ Reason string }
		Action         string
		RelayDiagnosis *relaydiag.Finding `json:"relay_diagnosis"`
	}
	out := x("explain", partner[0].String(), "--secs", "3", "--giaddr", "198.18.7.1", "--json")
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("explain --json: %v\n%s", err, out)
	}
	if ex.Config.Source != "the attached fast path" || ex.Config.Role != "secondary" || ex.Verdict.Reason != "partner-dropped" || ex.Action != "drop" {
		t.Errorf("explain: %s", out)
	}
	if ex.RelayDiagnosis == nil || ex.RelayDiagnosis.Status != relaydiag.StatusForwardsOnlyHere {
		t.Errorf("explain: relay diagnosis %+v", ex.RelayDiagnosis)
	}

	// A window with no traffic diagnoses nothing.
	if rep := readRelaysJSON(t, x("relays", "--json", "--window", "200ms")); len(rep.Relays) != 0 || rep.Window != "200ms" {
		t.Errorf("quiet window: %+v", rep)
	}
}

type mapsJSON struct {
	Persistent bool
	Pinned     []struct {
		Path string
		Kind string
		Map  *struct {
			Name string
			BTF  bool
		}
		LinkID    uint32 `json:"link_id"`
		ProgramID uint32 `json:"program_id"`
		Ifindex   uint32
	}
	Interfaces []struct {
		Iface     string
		Ifindex   uint32
		Mode      string
		ProgramID uint32 `json:"program_id"`
		Xdhcp     bool
		LinkID    uint32 `json:"link_id"`
		Maps      []struct {
			Name string
			BTF  bool
		}
	}
}

func readMapsJSON(t *testing.T, out string) mapsJSON {
	t.Helper()
	var m mapsJSON
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("maps --json: %v\n%s", err, out)
	}
	return m
}

var stateMaps = []string{"xdhcp_cfg", "xdhcp_active", "xdhcp_stats", "xdhcp_relays"}

// xdhcp maps, under ip netns exec (nothing pinned visible, the interface is
// the way in) and with the host's mounts (pins and a bpf_link); bpftool
// prints the pinned config as a struct because the maps carry BTF.
func TestMapsListing(t *testing.T) {
	l := newLab(t, "xom")
	bin := buildBinary(t)
	ctx := context.Background()
	pinDir := fmt.Sprintf("/sys/fs/bpf/xdhcp-test-xo-%d", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(pinDir) })
	net := func(args ...string) string {
		return run(t, l.srv.NetCommand(ctx, bin, append(args, "--pin-dir", pinDir)...))
	}
	t.Cleanup(func() {
		_ = l.srv.NetCommand(ctx, bin, "detach", "--iface", "srv0", "--unpin", "--pin-dir", pinDir).Run()
	})

	if m := readMapsJSON(t, net("maps", "--json")); len(m.Interfaces) != 0 || len(m.Pinned) != 0 {
		t.Fatalf("before attach: %+v", m)
	}
	net("attach", "--iface", "srv0", "--role", "secondary", "--threshold", "6")

	m := readMapsJSON(t, net("maps", "--json"))
	if !m.Persistent || len(m.Interfaces) != 1 {
		t.Fatalf("with pins: %+v", m)
	}
	iv := m.Interfaces[0]
	if iv.Iface != "srv0" || !iv.Xdhcp || iv.LinkID == 0 || iv.Mode != "native" {
		t.Errorf("interface %+v", iv)
	}
	pinnedMaps := map[string]bool{}
	var linkPin bool
	for _, p := range m.Pinned {
		switch {
		case p.Kind == "map" && p.Map != nil:
			pinnedMaps[p.Map.Name] = p.Map.BTF
		case p.Kind == "link" && filepath.Base(p.Path) == "srv0":
			linkPin = p.ProgramID == iv.ProgramID && p.LinkID == iv.LinkID && p.Ifindex == iv.Ifindex
		}
	}
	attached := map[string]bool{}
	for _, mv := range iv.Maps {
		attached[mv.Name] = mv.BTF
	}
	for _, name := range stateMaps {
		if !pinnedMaps[name] || !attached[name] {
			t.Errorf("map %s: pinned with BTF %v, used by the program with BTF %v", name, pinnedMaps[name], attached[name])
		}
	}
	if !linkPin {
		t.Errorf("links/srv0 does not name the attached program and link: %+v", m.Pinned)
	}

	// ip netns exec: a fresh /sys, no pins; the interface still shows the program.
	m = readMapsJSON(t, run(t, l.srv.Command(ctx, bin, "maps", "--json")))
	if m.Persistent || len(m.Pinned) != 0 || len(m.Interfaces) != 1 || !m.Interfaces[0].Xdhcp {
		t.Errorf("under ip netns exec: %+v", m)
	}

	if _, err := exec.LookPath("bpftool"); err != nil {
		t.Log("bpftool not installed: skipping the BTF dump check")
		return
	}
	out, err := exec.Command("bpftool", "map", "dump", "pinned", filepath.Join(pinDir, "xdhcp_cfg")).CombinedOutput()
	if err != nil {
		t.Fatalf("bpftool map dump: %v\n%s", err, out)
	}
	for _, field := range []string{`"threshold": 6`, `"role": 1`, `"hba": [`} {
		if !strings.Contains(string(out), field) {
			t.Errorf("bpftool dump lacks %s (BTF-formatted struct):\n%s", field, out)
		}
	}
}
