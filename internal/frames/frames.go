// Package frames builds Ethernet/IPv4/UDP frames around DHCP payloads: the
// test vectors for the XDP program, the lab's probe and the load generator.
package frames

import (
	"encoding/binary"
	"net"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Frame describes one frame. Zero fields get client-broadcast defaults.
type Frame struct {
	Src, Dst         net.HardwareAddr
	VLANs            []uint16 // outer first; the outer tag uses 802.1ad when there are two
	SrcIP, DstIP     net.IP
	SrcPort, DstPort uint16
	IPOptions        []byte // padded to a multiple of 4
	FragOff          uint16 // raw flags+offset field (host order)
	Payload          []byte
}

// Bytes renders the frame with correct lengths and IPv4 checksum.
func (f Frame) Bytes() []byte {
	src, dst := f.Src, f.Dst
	if src == nil {
		src = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	}
	if dst == nil {
		dst = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	sip, dip := f.SrcIP.To4(), f.DstIP.To4()
	if sip == nil {
		sip = net.IPv4zero.To4()
	}
	if dip == nil {
		dip = net.IPv4bcast.To4()
	}
	sport, dport := f.SrcPort, f.DstPort
	if sport == 0 {
		sport = 68
	}
	if dport == 0 {
		dport = 67
	}
	ipOpts := append([]byte(nil), f.IPOptions...)
	for len(ipOpts)%4 != 0 {
		ipOpts = append(ipOpts, 0)
	}

	b := make([]byte, 0, 64+len(f.Payload))
	b = append(b, dst...)
	b = append(b, src...)
	for i, v := range f.VLANs {
		tpid := uint16(0x8100)
		if len(f.VLANs) > 1 && i == 0 {
			tpid = 0x88a8
		}
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, v&0x0fff)
	}
	b = binary.BigEndian.AppendUint16(b, 0x0800)

	ihl := 20 + len(ipOpts)
	udpLen := 8 + len(f.Payload)
	ipStart := len(b)
	b = append(b, byte(0x40|ihl/4), 0)
	b = binary.BigEndian.AppendUint16(b, uint16(ihl+udpLen))
	b = append(b, 0, 0) // id
	b = binary.BigEndian.AppendUint16(b, f.FragOff)
	b = append(b, 64, 17, 0, 0)
	b = append(b, sip...)
	b = append(b, dip...)
	b = append(b, ipOpts...)
	binary.BigEndian.PutUint16(b[ipStart+10:], Checksum(b[ipStart:ipStart+ihl]))

	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(udpLen))
	b = append(b, 0, 0) // UDP checksum optional in IPv4
	return append(b, f.Payload...)
}

// Checksum is the Internet checksum of b.
func Checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = (s >> 16) + (s & 0xffff)
	}
	return ^uint16(s)
}

// Discover is a DISCOVER from mac with the given secs, as a client sends it.
func Discover(mac net.HardwareAddr, secs uint16, mods ...dhcpv4.Modifier) []byte {
	m, err := dhcpv4.NewDiscovery(mac, mods...)
	if err != nil {
		panic(err) // only fails on a broken random source
	}
	m.NumSeconds = secs
	return Frame{Src: mac, Payload: m.ToBytes()}.Bytes()
}

// Message renders any dhcpv4 message in a client broadcast frame.
func Message(m *dhcpv4.DHCPv4) []byte {
	return Frame{Src: m.ClientHWAddr, Payload: m.ToBytes()}.Bytes()
}
