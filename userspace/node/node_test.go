package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// childEnv marks the test binary run inside the lab's namespace: the node
// opens its sockets in the process's network namespace, so the whole
// process must be in it (ip netns exec).
const childEnv = "XDHCP_NODE_TEST_DIR"

// TestNodeInNamespace starts, tunes, restarts and stops a real node (XDP
// attached natively on a veth) in process, inside a namespace of its own.
func TestNodeInNamespace(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		nodeScenario(t, dir)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and XDP (run as root; CI does)")
	}
	ctx := context.Background()
	id := fmt.Sprintf("xnd%d", os.Getpid()%100000)
	srv, err := labnet.NewNS(ctx, id+"s")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := labnet.NewNS(ctx, id+"c")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := labnet.Veth(ctx, srv, "n0", "198.18.0.1/24", cli, "n1", ""); err != nil {
		t.Fatal(err)
	}
	cmd := srv.Command(ctx, os.Args[0], "-test.run=^TestNodeInNamespace$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the node scenario failed in namespace %s: %v\n%s", srv.Name, err, out)
	}
	t.Logf("%s", out)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func nodeScenario(t *testing.T, dir string) {
	cfg := config.Default()
	cfg.Interfaces, cfg.DB, cfg.XDP = []string{"n0"}, filepath.Join(dir, "leases.db"), "native"
	cfg.Subnets = []*config.Subnet{{Prefix: netip.MustParsePrefix("198.18.0.0/24"),
		Ranges: []lease.Range{{Start: netip.MustParseAddr("198.18.0.10"), End: netip.MustParseAddr("198.18.0.50")}}}}
	if err := cfg.Validate("test"); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "control.sock")
	opts := func(threshold uint16, metrics string) Options {
		r := decide.DefaultRule()
		r.HBA, r.Threshold = decide.MustSplit(256), threshold
		return Options{Config: cfg, Rule: r, Control: sock, Metrics: metrics, PinDir: filepath.Join(dir, "pins"), Logger: quiet()}
	}
	start := func(o Options) (*Node, context.CancelFunc) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		n, err := Start(ctx, o)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		select {
		case <-n.Ready():
		case <-n.Done():
			cancel()
			t.Fatalf("node stopped before ready: %v", n.Wait())
		case <-time.After(30 * time.Second):
			cancel()
			t.Fatal("node not ready within 30 s")
		}
		return n, cancel
	}
	stop := func(n *Node, cancel context.CancelFunc) {
		t.Helper()
		cancel()
		if err := n.Wait(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("control socket left after stop: %v", err)
		}
	}
	mapsThreshold := func() uint16 {
		t.Helper()
		m, err := loader.Open("n0", nil)
		if err != nil {
			t.Fatalf("find the fast path on n0: %v", err)
		}
		defer m.Close()
		r, err := m.Rule()
		if err != nil {
			t.Fatal(err)
		}
		return r.Threshold
	}
	ctx := context.Background()
	c := control.Dial(sock)

	// Start: serving, healthy, the fast path attached with the flags' rule.
	maddr := freePort(t)
	n, cancel := start(opts(6, maddr))
	// It stays up (a part ending on its own would stop it).
	time.Sleep(200 * time.Millisecond)
	h, err := c.Health(ctx)
	if err != nil || !h.OK || !h.Serving || len(h.Interfaces) != 1 || !h.Interfaces[0].XDP || !h.Store.Writable || h.Partner != nil {
		t.Fatalf("health: %v %+v", err, h)
	}
	if got := mapsThreshold(); got != 6 {
		t.Errorf("threshold in the maps %d, want 6", got)
	}
	// A second node on the same control socket is refused before it opens anything.
	if _, err := Start(ctx, opts(6, "")); err == nil || !strings.Contains(err.Error(), "another running daemon answers on it") {
		t.Errorf("second node on a live socket: %v", err)
	}
	// Live tuning through the control socket: the maps change, the file keeps it.
	two := uint16(2)
	v, err := c.Tune(ctx, control.RuleChange{Threshold: &two})
	if err != nil || v.Rule.Threshold != 2 || v.Pair {
		t.Fatalf("tune: %v %+v", err, v)
	}
	if got := mapsThreshold(); got != 2 {
		t.Errorf("threshold in the maps after tuning %d, want 2", got)
	}
	if metric := scrape(t, maddr, "xdhcp_fastpath_threshold_seconds"); metric != "2" {
		t.Errorf("metrics threshold %q, want 2", metric)
	}
	stop(n, cancel)
	if _, err := loader.Open("n0", nil); err == nil {
		t.Error("fast path still attached after a stop without KeepXDP")
	}
	if _, err := net.DialTimeout("tcp", maddr, time.Second); err == nil {
		t.Error("metrics still served after the stop")
	}

	// Restart with the same flags: the tuning applies again.
	n, cancel = start(opts(6, ""))
	if got := mapsThreshold(); got != 2 {
		t.Errorf("threshold after a restart %d, want the kept 2", got)
	}
	if v, _ := c.Rule(ctx); !strings.Contains(v.Source, "tuning file") {
		t.Errorf("rule source %q, want the tuning file", v.Source)
	}
	stop(n, cancel)
	// The operator changed the flags since: they win, the file goes.
	n, cancel = start(opts(4, ""))
	if got := mapsThreshold(); got != 4 {
		t.Errorf("threshold after a restart with --threshold 4: %d", got)
	}
	if _, err := os.Stat(cfg.DB + ".tuning"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("superseded tuning file kept: %v", err)
	}
	stop(n, cancel)

	// A busy metrics address stops the start, naming it, and frees the socket.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Start(ctx, opts(4, ln.Addr().String())); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("busy metrics port: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket kept after a failed start: %v", err)
	}
	// An interface that is not there: the start fails, nothing is left.
	bad := opts(4, "")
	cfg2 := *cfg
	cfg2.Interfaces = []string{"nosuch0"}
	bad.Config = &cfg2
	if n, err := Start(ctx, bad); err == nil {
		err = n.Wait()
		if err == nil || !strings.Contains(err.Error(), "nosuch0") {
			t.Errorf("missing interface: %v", err)
		}
	} else if !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("missing interface: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket kept after a failed start: %v", err)
	}
}

// scrape reads one metric's value from /metrics.
func scrape(t *testing.T, addr, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}
