package loader

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// While the program is replaced again and again, a stream of partner-owned
// DISCOVERs must never reach the stack: a packet socket behind XDP on the
// server side counts what got through. Both attachment kinds are checked.
func TestReplaceHasNoGap(t *testing.T) {
	needRoot(t)
	for _, persistent := range []bool{true, false} {
		name := "netlink"
		if persistent {
			name = "link"
		}
		t.Run(name, func(t *testing.T) { replaceUnderLoad(t, persistent) })
	}
}

func replaceUnderLoad(t *testing.T, persistent bool) {
	ctx := context.Background()
	kind := "n" // netlink
	if persistent {
		kind = "l" // bpf_link
	}
	// Fixed width whatever the PID: namespace names stay short and distinct.
	id := fmt.Sprintf("xdr%05d%s", os.Getpid()%100000, kind)
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
	if err := labnet.Veth(ctx, srv, "srv0", "", cli, "cli0", ""); err != nil {
		t.Fatal(err)
	}
	pins := &PinDir{Path: t.TempDir()}
	if persistent {
		pins = &PinDir{Path: fmt.Sprintf("/sys/fs/bpf/xdhcp-test-xd-%d", os.Getpid()), Persistent: true}
		if err := os.MkdirAll(pins.Path+"/links", 0o700); err != nil {
			t.Skipf("no bpffs at /sys/fs/bpf: %v", err)
		}
		defer os.RemoveAll(pins.Path)
	}
	cfg := decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: decide.Normal}

	first, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.SetRule(cfg); err != nil {
		t.Fatal(err)
	}
	var att *Attachment
	if err := srv.Do(func() error { var e error; att, e = first.Attach("srv0", ModeNative, pins); return e }); err != nil {
		t.Fatal(err)
	}
	defer srv.Do(func() error { return Detach("srv0", pins) })
	if want := map[bool]string{true: "link", false: "netlink"}[persistent]; att.Via != want {
		t.Fatalf("attached via %s, want %s", att.Via, want)
	}

	// Count partner-owned DISCOVERs that reach the stack.
	rx, err := srv.OpenPacketSocket("srv0")
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	var leaked atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := rx.Recv(buf, 50)
			if err != nil {
				continue
			}
			if _, _, ok := decide.ParseFrame(buf[:n]); ok && binary.BigEndian.Uint16(buf[12:14]) == 0x0800 {
				leaked.Add(1)
			}
		}
	}()
	tx, err := cli.OpenPacketSocket("cli0")
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	mac := net.HardwareAddr{0, 0, 1, 2, 3, 5} // bucket 45: the primary's, dropped here
	frame := frames.Discover(mac, 0)
	var sent atomic.Int64
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if tx.Send(frame) == nil {
				sent.Add(1)
			}
		}
	}()

	const replaces = 20
	maps := first.Maps
	for i := 0; i < replaces; i++ {
		next, err := Load(LoadOptions{Reuse: maps})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Do(func() error { _, e := next.Attach("srv0", ModeNative, pins); return e }); err != nil {
			next.Close()
			t.Fatal(err)
		}
		next.Close() // the attachment holds the program
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	<-sendDone
	<-done
	v, err := first.Verdicts()
	if err != nil {
		t.Fatal(err)
	}
	if sent.Load() < 1000 || v[decide.ReasonPartnerDropped] == 0 {
		t.Fatalf("sent %d frames, %d dropped: the stream did not run", sent.Load(), v[decide.ReasonPartnerDropped])
	}
	if leaked.Load() != 0 {
		t.Fatalf("%d of %d partner-owned DISCOVERs reached the stack during %d replaces", leaked.Load(), sent.Load(), replaces)
	}
	t.Logf("%d replaces under a stream of %d frames (%d dropped by shared counters): none reached the stack", replaces, sent.Load(), v[decide.ReasonPartnerDropped])
}
