package loader

import (
	"context"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xdhcp/xdhcp/internal/frames"
	"github.com/xdhcp/xdhcp/internal/labnet"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

// Two interfaces whose indexes share a counter slot (5 and 5+64) take the
// slot in turn: each takeover moves the slot's counts aside, so the totals
// stay exact while the per-interface view shows the slot's current holder.
func TestInterfaceSlotTakeover(t *testing.T) {
	p := loadTest(t)
	setCfg(t, p, decide.Rule{HBA: decide.MustSplit(128), Role: decide.Secondary, Threshold: 6, Rule: decide.Normal})
	ctx := context.Background()
	ns, err := labnet.NewNS(ctx, fmt.Sprintf("xl-slot-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	for _, idx := range []string{"5", "69"} {
		if err := ns.IP(ctx, "link", "add", "name", "d"+idx, "index", idx, "type", "veth", "peer", "name", "p"+idx); err != nil {
			t.Fatal(err)
		}
	}
	run := func(ifindex uint32, n int) {
		err := ns.Do(func() error {
			// One CPU for every run: the counters are per CPU.
			var cpu0 unix.CPUSet
			cpu0.Set(0)
			if err := unix.SchedSetaffinity(0, &cpu0); err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				ret, err := p.XDP().Run(&ebpfRunOptions{Data: frames.Discover(macP, 0),
					Context: xdpMd{DataEnd: uint32(len(frames.Discover(macP, 0))), IngressIfindex: ifindex}})
				if err != nil || ret != xdpDrop {
					return fmt.Errorf("ifindex %d: action %d, %v", ifindex, ret, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	run(5, 3)
	run(69, 2)
	run(5, 4)
	v, err := p.Verdicts()
	if err != nil {
		t.Fatal(err)
	}
	per, err := p.InterfaceVerdicts()
	if err != nil {
		t.Fatal(err)
	}
	if v[decide.ReasonPartnerDropped] != 9 || v.Total() != 9 {
		t.Errorf("totals %v, want 9 partner-dropped", v)
	}
	if len(per) != 1 || per[5][decide.ReasonPartnerDropped] != 4 {
		t.Errorf("per interface %v, want ifindex 5 holding the slot with its last 4", per)
	}
}

// xdpMd is struct xdp_md, a test run's context.
type xdpMd struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}
