package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/xdhcp/xdhcp/userspace/control"
)

// attach and detach in process: the program is attached through a pinned
// bpf_link and filters; a second attach replaces it; attach refuses when
// a daemon serves the interface; detach --unpin removes link and pins.
func TestAttachAndDetach(t *testing.T) {
	p := newInProc(t, "xia")
	out, err := p.run(t, "attach", "--iface", "srv0", "--role", "secondary", "--threshold", "6", "--json", "--control", p.control)
	if err != nil || !strings.Contains(out, `"via": "link"`) {
		t.Fatalf("attach: %v %s", err, out)
	}
	for _, name := range []string{"xdhcp_cfg", "links/srv0"} {
		if _, err := os.Stat(filepath.Join(p.pinDir, name)); err != nil {
			t.Errorf("pin %s: %v", name, err)
		}
	}
	p.l.sendSecs(t, 0, 9)
	s := waitStats(t, func() statsJSON {
		out, err := p.run(t, "stats", "--json", "--iface", "srv0")
		if err != nil {
			t.Fatal(err)
		}
		return readStatsJSON(t, out)
	}, 10)
	if s.Verdicts["partner-dropped"] != 6 || s.Verdicts["secs-override"] != 4 {
		t.Fatalf("verdicts %v, want 6 dropped and 4 overridden", s.Verdicts)
	}
	if out, err := p.run(t, "attach", "--iface", "srv0", "--role", "secondary", "--control", p.control); err != nil || !strings.Contains(out, "attached to srv0") {
		t.Fatalf("re-attach: %v %s", err, out)
	}
	// A daemon serving srv0 in this namespace owns the fast path.
	var ns string
	_ = p.l.srv.Do(func() error { ns, _ = os.Readlink("/proc/thread-self/ns/net"); return nil })
	sock := serveFake(t, &fakeNode{health: control.Health{NetNS: ns, Interfaces: []control.InterfaceHealth{{Name: "srv0"}}}})
	if _, err := p.run(t, "attach", "--iface", "srv0", "--control", sock); err == nil || !strings.Contains(err.Error(), "attaches the fast path itself") {
		t.Errorf("attach under a daemon: %v", err)
	}
	if out, err := p.run(t, "detach", "--iface", "srv0", "--unpin"); err != nil || !strings.Contains(out, "detached from srv0") {
		t.Fatalf("detach: %v %s", err, out)
	}
	if _, err := os.Stat(p.pinDir); !os.IsNotExist(err) {
		t.Errorf("pin dir after detach --unpin: %v", err)
	}
	_ = p.l.srv.Do(func() error {
		l, err := netlink.LinkByName("srv0")
		if err != nil {
			t.Fatal(err)
		}
		if x := l.Attrs().Xdp; x != nil && x.Attached {
			t.Errorf("srv0 still has XDP program %d", x.ProgId)
		}
		return nil
	})
	if _, err := p.run(t, "attach", "--iface", "nosuch0", "--control", p.control); err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("attach to a missing interface: %v", err)
	}
}

// maps in process: the pins and the interface's program with its maps.
func TestMapsCommand(t *testing.T) {
	p := newInProc(t, "xim")
	if out, err := p.run(t, "maps", "--json"); err != nil || !strings.Contains(out, `"interfaces": []`) {
		t.Fatalf("maps before attach: %v %s", err, out)
	}
	if _, err := os.Stat(p.pinDir); !os.IsNotExist(err) {
		t.Errorf("maps (a reader) created the pin dir: %v", err)
	}
	if _, err := p.run(t, "attach", "--iface", "srv0", "--control", p.control); err != nil {
		t.Fatal(err)
	}
	out, err := p.run(t, "maps", "--json")
	if err != nil {
		t.Fatal(err)
	}
	m := readMapsJSON(t, out)
	if len(m.Interfaces) != 1 || m.Interfaces[0].Iface != "srv0" || !m.Interfaces[0].Xdhcp || len(m.Pinned) < 5 {
		t.Errorf("maps after attach: %+v", m)
	}
	text, err := p.run(t, "maps")
	if err != nil || !strings.Contains(text, "links/srv0") || !strings.Contains(text, "srv0 (ifindex") {
		t.Errorf("maps text: %v\n%s", err, text)
	}
	var raw map[string]any
	if json.Unmarshal([]byte(out), &raw) != nil || raw["persistent"] != true {
		t.Errorf("maps --json persistent: %s", out)
	}
}
