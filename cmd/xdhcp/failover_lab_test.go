package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
)

func TestFailoverPairLab(t *testing.T) {
	l := newFoLab(t)
	a, b := l.a, l.b
	l.start(b)
	l.start(a, "--metrics", "127.0.0.1:9167")
	l.waitStates(10*time.Second, map[*foServer]decide.State{a: decide.Normal, b: decide.Normal})
	// start returned once each daemon served; NORMAL reaches the maps with
	// the state change (a short margin for the partner's side of it).
	waitLog(t, a, "msg=serving", 10*time.Second)
	waitLog(t, b, "msg=serving", 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	t.Run("normal: owner only below the threshold, both from it", func(t *testing.T) {
		perOwner := map[string]int{}
		for i := 0; i < 64; i++ {
			mac := labMAC(i)
			owner := ownerOf(mac)
			perOwner[owner]++
			if got := l.offers(mac, foThreshold-1, 60*time.Millisecond); len(got) != 1 || got[0] != owner {
				t.Errorf("%s (bucket %d) secs %d: offers from %v, want only the owner %s", mac, decide.Bucket(mac), foThreshold-1, got, owner)
			}
			if got := l.offers(mac, foThreshold, 60*time.Millisecond); len(got) != 2 {
				t.Errorf("%s secs %d: offers from %v, want both", mac, foThreshold, got)
			}
		}
		t.Logf("64 MACs: %d owned by A, %d by B", perOwner[foAddrA], perOwner[foAddrB])
		// partner-down is refused while the partner is connected.
		out, err := exec.Command(l.bin, "partner-down", "--control", a.control()).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "the partner is connected") {
			t.Errorf("partner-down while connected: %v\n%s", err, out)
		}
		text := run(t, exec.Command(l.bin, "status", "--control", a.control()))
		for _, want := range []string{"state              normal", "buckets owned now  128 of 256", "unacked updates    0", "primary (this server)"} {
			if !strings.Contains(text, want) {
				t.Errorf("status output lacks %q:\n%s", want, text)
			}
		}
		// The failover and pool gauges of serve --metrics.
		var body []byte
		if err := a.ns.Do(func() error { // dial on this thread: it is in A's namespace
			conn, err := net.Dial("tcp", "127.0.0.1:9167")
			if err != nil {
				return err
			}
			defer conn.Close()
			fmt.Fprint(conn, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err = io.ReadAll(resp.Body)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`xdhcp_failover_state{state="normal"} 1`, `xdhcp_failover_partner_state{state="normal"} 1`, `share="local"`, `share="partner"`} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("metrics lack %s", want)
			}
		}
		// The responder's counters: A offered at least once per MAC (at secs T).
		for _, name := range []string{"xdhcp_dhcp_offers_total", `xdhcp_dhcp_received_total{message_type="discover"}`} {
			if n := metricValue(body, name); n < 64 {
				t.Errorf("%s = %v, want >= 64 after 64 clients", name, n)
			}
		}
		st := l.statusCLI(a)
		if st.BucketsOwned != 128 || st.PartnerState == nil || *st.PartnerState != decide.Normal || st.LastContact == nil {
			t.Errorf("A status %+v", st)
		}
	})

	// Leases taken now must be in both stores.
	acked := map[string]string{} // ip -> mac, every ACK any client saw
	ackedBy := func(mac net.HardwareAddr, server, ip string) {
		t.Helper()
		if ip == "" {
			return
		}
		if prev, ok := acked[ip]; ok && prev != mac.String() {
			t.Errorf("address %s ACKed to %s and to %s (by %s)", ip, prev, mac, server)
		}
		acked[ip] = mac.String()
	}
	for i := 100; i < 108; i++ {
		mac := labMAC(i)
		srv, ip := l.dora(mac, 0, "")
		if srv != ownerOf(mac) {
			t.Errorf("%s: ACK from %q, want the owner %s", mac, srv, ownerOf(mac))
		}
		ackedBy(mac, srv, ip)
	}
	sameBindings := func(what string) {
		t.Helper()
		var ba, bb map[netip.Addr]string
		deadline := time.Now().Add(5 * time.Second)
		for {
			ba, bb = bound(l.leases(a)), bound(l.leases(b))
			if fmt.Sprint(ba) == fmt.Sprint(bb) && len(ba) > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if fmt.Sprint(ba) != fmt.Sprint(bb) {
			t.Errorf("%s: stores differ:\nA %v\nB %v", what, ba, bb)
		}
		clients := map[string]netip.Addr{}
		for ip, c := range ba {
			c, _, _ = strings.Cut(c, " ")
			if prev, ok := clients[c]; ok {
				t.Errorf("%s: client %s bound to %s and %s", what, c, prev, ip)
			}
			clients[c] = ip
		}
		t.Logf("%s: both stores hold the same %d bindings", what, len(ba))
	}
	sameBindings("after 8 leases")

	aOwned, bOwned := net.HardwareAddr(nil), net.HardwareAddr(nil)
	for i := 0; aOwned == nil || bOwned == nil; i++ {
		if mac := labMAC(i); ownerOf(mac) == foAddrA {
			aOwned = mac
		} else {
			bOwned = mac
		}
	}

	t.Run("kill -9: survivor answers at secs 0", func(t *testing.T) {
		killed := time.Now()
		l.stop(a, syscall.SIGKILL)
		d := l.takeover(aOwned, foAddrB, killed, 2*time.Second)
		t.Logf("MEASURED takeover after kill -9 of A: B offered to A's client at secs 0 after %s", d.Round(time.Millisecond))
		if d > 500*time.Millisecond {
			t.Errorf("takeover took %s, want within 0.5 s", d)
		}
		if st := l.status(b); st.State != decide.CommunicationsInterrupted || st.BucketsOwned != 256 || st.Connected {
			t.Errorf("B status %+v", st)
		}
		// The operator confirms A is down.
		var pd failover.Status
		out := run(t, exec.Command(l.bin, "partner-down", "--json", "--control", b.control()))
		if err := json.Unmarshal([]byte(out), &pd); err != nil || pd.State != decide.PartnerDown || pd.PartnerDownSince == nil {
			t.Errorf("partner-down: %v %+v", err, pd)
		}
		// B's clients meanwhile: two new leases only B knows.
		for i := 110; i < 112; i++ {
			mac := labMAC(i)
			srv, ip := l.dora(mac, 0, "")
			if srv != foAddrB {
				t.Errorf("%s: ACK from %q while A is down", mac, srv)
			}
			ackedBy(mac, srv, ip)
		}
	})

	t.Run("restart: both normal, same bindings", func(t *testing.T) {
		start := time.Now()
		l.start(a)
		l.waitStates(10*time.Second, map[*foServer]decide.State{a: decide.Normal, b: decide.Normal})
		t.Logf("A restarted and both normal after %s (XDP load included)", time.Since(start).Round(time.Millisecond))
		sameBindings("after restart")
		if got := l.offers(aOwned, 0, 100*time.Millisecond); len(got) != 1 || got[0] != foAddrA {
			t.Errorf("A's client after the restart: offers from %v, want only A", got)
		}
	})

	t.Run("silent loss, partition and heal", func(t *testing.T) {
		ctx := context.Background()
		cut := time.Now()
		// No FIN: B's end of the failover link goes down; TCP on both
		// sides only stops hearing.
		if err := b.ns.IP(ctx, "link", "set", "peer0", "down"); err != nil {
			t.Fatal(err)
		}
		defer b.ns.IP(ctx, "link", "set", "peer0", "up") // also when a check below fails
		d := l.takeover(aOwned, foAddrB, cut, 5*time.Second)
		t.Logf("MEASURED silent loss: B answered A's client at secs 0 after %s (receive timeout 3s)", d.Round(time.Millisecond))
		if d > 3*time.Second+200*time.Millisecond {
			t.Errorf("silent loss took %s, want within the receive timeout 3s", d)
		}
		l.waitStates(time.Second, map[*foServer]decide.State{a: decide.CommunicationsInterrupted, b: decide.CommunicationsInterrupted})
		// Clients against both sides while partitioned: each takes the first ACK.
		served := map[string]int{}
		for i := 120; i < 140; i++ {
			mac := labMAC(i)
			srv, ip := l.dora(mac, 0, []string{foAddrA, foAddrB}[i%2])
			if ip == "" {
				t.Errorf("%s got no lease during the partition", mac)
			}
			served[srv]++
			ackedBy(mac, srv, ip)
		}
		t.Logf("during the partition: ACKs per server %v; shares A %+v B %+v", served, l.status(a).Shares, l.status(b).Shares)
		// A client of A's rebinds (broadcast, ciaddr set) and takes B's ACK:
		// after the heal both stores must hold B's newer lease.
		var renewMAC net.HardwareAddr
		var renewIP string
		for i := 100; i < 108 && renewMAC == nil; i++ {
			if ownerOf(labMAC(i)) == foAddrA {
				renewMAC = labMAC(i)
			}
		}
		for ip, m := range acked {
			if m == renewMAC.String() {
				renewIP = ip
			}
		}
		rebind, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(renewMAC),
			dhcpv4.WithClientIP(net.ParseIP(renewIP)), dhcpv4.WithBroadcast(true))
		if err != nil {
			t.Fatal(err)
		}
		// The ACK is unicast to ciaddr: the client namespace must answer ARP for it.
		if err := l.cli.IP(ctx, "addr", "add", renewIP+"/32", "dev", "br0"); err != nil {
			t.Fatal(err)
		}
		ack := l.exchange(renewMAC, rebind, dhcpv4.MessageTypeAck, foAddrB)
		l.cli.IP(ctx, "addr", "del", renewIP+"/32", "dev", "br0")
		if ack == nil || ack.YourIPAddr.String() != renewIP {
			t.Fatalf("rebinding %s for %s at B during the partition: %v", renewMAC, renewIP, ack)
		}
		renewed := l.leases(b)[netip.MustParseAddr(renewIP)]
		if err := b.ns.IP(ctx, "link", "set", "peer0", "up"); err != nil {
			t.Fatal(err)
		}
		healed := time.Now()
		l.waitStates(10*time.Second, map[*foServer]decide.State{a: decide.Normal, b: decide.Normal})
		t.Logf("healed: both normal after %s", time.Since(healed).Round(time.Millisecond))
		sameBindings("after the partition")
		// Both servers may have answered the rebinding (both serve everyone
		// while partitioned); the client holds B's ACK, so neither store may
		// end the lease before B's expiry.
		for _, s := range []*foServer{a, b} {
			if got := l.leases(s)[netip.MustParseAddr(renewIP)]; got.Expiry.Before(renewed.Expiry) || got.Client.String() != renewed.Client.String() {
				t.Errorf("%s's record of %s after the heal: %+v, want the client's lease until at least B's %v", s.name, renewIP, got, renewed.Expiry)
			}
		}
		for ip, x := range bound(l.leases(a)) {
			x, _, _ = strings.Cut(x, " ")
			if mac, ok := acked[ip.String()]; ok && !strings.HasSuffix(x, strings.ReplaceAll(mac, ":", "")) {
				t.Errorf("%s: store says client %s, the ACK went to %s", ip, x, mac)
			}
		}
	})

	t.Run("garbage from the partner's address: refused, no state change", func(t *testing.T) {
		before := l.status(a)
		var c net.Conn
		err := b.ns.Do(func() error {
			var err error
			c, err = net.DialTimeout("tcp", foPeerA+":647", time.Second)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Write(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 20000))
		c.Close()
		waitLog(t, a, "peer connection refused", 2*time.Second)
		t.Logf("A's log: %s", lastLine(a.logText(), "peer connection refused"))
		if after := l.status(a); after.State != decide.Normal || !after.StateSince.Equal(before.StateSince) || !after.Connected {
			t.Errorf("A's state changed: %+v", after)
		}
	})

	t.Run("graceful SIGTERM hands the buckets over", func(t *testing.T) {
		stopped := time.Now()
		l.stop(b, syscall.SIGTERM)
		exited := time.Since(stopped)
		d := l.takeover(bOwned, foAddrA, stopped, 2*time.Second)
		t.Logf("MEASURED graceful stop: B exited after %s; A answered B's client at secs 0 after %s", exited.Round(time.Millisecond), d.Round(time.Millisecond))
		st := l.status(a)
		if st.State != decide.PartnerDown || !strings.Contains(st.Reason, "shutting down") {
			t.Errorf("A status after B's SIGTERM: %+v", st)
		}
		if !strings.Contains(a.logText(), "partner is shutting down") {
			t.Error("A's log does not say B shut down")
		}
	})

	t.Run("wrong secret and wrong role: refused in both logs, no state change", func(t *testing.T) {
		wrong := filepath.Join(l.dir, "wrong-secret")
		if err := os.WriteFile(wrong, []byte("not-the-pair's-secret-at-all"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name       string
			args       []string
			aLog, bLog string
		}{
			{"wrong secret", []string{"--secret-file", wrong}, "wrong shared secret", "MAC does not match"},
			{"wrong role", []string{"--role", "primary"}, "both servers are primary", "both servers are primary"},
		} {
			before := l.status(a)
			l.start(b, tc.args...)
			waitLog(t, a, tc.aLog, 3*time.Second)
			waitLog(t, b, tc.bLog, 3*time.Second)
			t.Logf("%s: A: %s", tc.name, lastLine(a.logText(), tc.aLog))
			t.Logf("%s: B: %s", tc.name, lastLine(b.logText(), tc.bLog))
			if st := l.status(a); st.State != decide.PartnerDown || !st.StateSince.Equal(before.StateSince) || st.Connected {
				t.Errorf("%s: A's state changed: %+v", tc.name, st)
			}
			if st := l.status(b); st.Connected || (st.State != decide.Startup && st.State != decide.CommunicationsInterrupted) {
				t.Errorf("%s: B connected or moved on: %+v", tc.name, st)
			}
			l.stop(b, syscall.SIGKILL)
		}
		l.start(b)
		l.waitStates(10*time.Second, map[*foServer]decide.State{a: decide.Normal, b: decide.Normal})
		sameBindings("B back with the right configuration")
	})
}
