package dhcpwire

import (
	"bytes"
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func seedMessages(t testing.TB) []*dhcpv4.DHCPv4 {
	hw := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	d, err := dhcpv4.NewDiscovery(hw, dhcpv4.WithOption(dhcpv4.OptHostName("pc-1")))
	if err != nil {
		t.Fatal(err)
	}
	offer, _ := dhcpv4.NewReplyFromRequest(d, dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
		dhcpv4.WithYourIP(net.IPv4(198, 18, 0, 10)), dhcpv4.WithServerIP(net.IPv4(198, 18, 0, 1)),
		dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(198, 18, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionRelayAgentInformation, []byte{1, 3, 'e', '-', 'r'})),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(119), bytes.Repeat([]byte{'a'}, 600))),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(224), nil)))
	offer.ServerHostName = string(bytes.Repeat([]byte{'s'}, 70))
	offer.BootFileName = "pxelinux.0"
	long := *offer
	long.ClientHWAddr = bytes.Repeat([]byte{7}, 20)
	return []*dhcpv4.DHCPv4{d, offer, &long}
}

// Append writes what ToBytes writes, for the messages the responder sends
// and the odd ones (long options, relay agent option, long fields).
func TestAppendMatchesToBytes(t *testing.T) {
	for i, m := range seedMessages(t) {
		got, ok := Append([]byte("prefix"), m)
		if !ok || !bytes.Equal(got[6:], m.ToBytes()) || string(got[:6]) != "prefix" {
			t.Fatalf("message %d: Append differs from ToBytes\n%x\n%x", i, got[6:], m.ToBytes())
		}
	}
}

func TestAppendAllocatesNothing(t *testing.T) {
	m := seedMessages(t)[1]
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() { buf, _ = Append(buf[:0], m) }); n != 0 {
		t.Fatalf("%v allocations per Append", n)
	}
}

// FuzzAppend is the differential target: any message dhcpv4 parses (and
// then any change to its header fields) is written by Append exactly as
// ToBytes writes it.
func FuzzAppend(f *testing.F) {
	for _, m := range seedMessages(f) {
		f.Add(m.ToBytes(), uint8(0), "")
	}
	f.Fuzz(func(t *testing.T, data []byte, hops uint8, sname string) {
		m, err := dhcpv4.FromBytes(data)
		if err != nil {
			return
		}
		m.HopCount, m.ServerHostName = hops, sname
		var want []byte
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			want = m.ToBytes()
			return false
		}()
		got, ok := Append(nil, m)
		if panicked {
			if ok {
				t.Fatalf("ToBytes panics on %+v, Append wrote it", m)
			}
			return
		}
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("Append differs from ToBytes (ok %v)\n%x\n%x", ok, got, want)
		}
	})
}
