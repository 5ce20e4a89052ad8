package daemon

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/dhcpserver"
	"github.com/xdhcp/xdhcp/userspace/dhcpwire"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// BenchmarkServeDORA is the responder's user-space work for one new
// client's DORA, as the daemon does it: parse both requests, serve them
// (the REQUEST's lease on disk through the group commit) and write both
// replies. Without the kernel's share (perfdhcp runs measure that: docs/
// perf-responder.md); with -benchmem and -memprofile it is the allocation
// profile of an exchange.
func BenchmarkServeDORA(b *testing.B) {
	cfg, err := config.Parse("bench.yaml", []byte("lease-time: 1h\nsubnets:\n  - subnet: 198.18.0.0/15\n    ranges: [198.18.0.10-198.19.255.250]\n"))
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	st, err := lease.Open(filepath.Join(b.TempDir(), "leases.db"), lease.Options{Pools: cfg.Pools(), HBA: decide.MustSplit(256), Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := dhcpserver.New(cfg, st, log)
	m := dhcpserver.Meta{Iface: "srv0", IfAddr: netip.MustParseAddr("198.18.0.1")}
	hw := net.HardwareAddr{2, 0, 0, 0, 0, 0}
	out, ackOut := make([]byte, 0, 1024), make([]byte, 0, 1024)
	ctx := context.Background()
	done := make(chan error, 64)
	pending := 0
	b.ReportAllocs()
	cpu0 := cpuTime()
	for i := range b.N {
		b.StopTimer() // the client's side is not the server's cost
		hw[2], hw[3], hw[4], hw[5] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		d, _ := dhcpv4.NewDiscovery(hw)
		wire := d.ToBytes()
		b.StartTimer()
		req, _ := dhcpv4.FromBytes(wire)
		offer, _ := srv.Serve(ctx, req, m)
		if offer == nil {
			b.Fatal("no offer")
		}
		out, _ = dhcpwire.Append(out[:0], offer)
		b.StopTimer()
		r, _ := dhcpv4.NewRequestFromOffer(offer)
		wire = r.ToBytes()
		b.StartTimer()
		req, _ = dhcpv4.FromBytes(wire)
		ack, p := srv.Serve(ctx, req, m)
		if ack == nil || p == nil {
			b.Fatal("no ack")
		}
		p.Then(func(err error) {
			if err == nil {
				ackOut, _ = dhcpwire.Append(ackOut[:0], ack) // on the committer, as the daemon does
			}
			done <- err
		})
		// Under load the group commit carries many changes: wait for the
		// disk every 64 exchanges, not after each.
		if pending++; pending == 64 || i == b.N-1 {
			for range pending {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			pending = 0
		}
	}
	// The process's CPU (all threads: committer, GC, syncs) per DORA; the
	// client's side, built with the timer stopped, is a small part of it.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
