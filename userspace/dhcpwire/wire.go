// Package dhcpwire writes DHCPv4 messages to the wire without allocating:
// Append produces exactly the bytes of insomniacslk/dhcp's
// (*dhcpv4.DHCPv4).ToBytes, which stays the reference (FuzzAppend compares
// the two), into a buffer the caller reuses. The responder builds every
// reply this way; parsing and everything else stay with dhcpv4.
package dhcpwire

import (
	"net"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

const (
	optPad       = 0
	optAgentInfo = 82 // RFC 3046 2.1: the relay agent option comes last
	optEnd       = 255
	// bootpMinLen is the least BOOTP message (RFC 951), padded with zeros.
	bootpMinLen = 300
	headerLen   = 236
)

var magicCookie = [4]byte{99, 130, 83, 99}

// Append appends m's wire form to b and returns the extended buffer.
// ok is false for a message ToBytes cannot write (an address field that
// is not IPv4); b is then returned unchanged.
func Append(b []byte, m *dhcpv4.DHCPv4) (out []byte, ok bool) {
	start := len(b)
	for _, ip := range [...]net.IP{m.ClientIPAddr, m.YourIPAddr, m.ServerIPAddr, m.GatewayIPAddr} {
		if ip != nil && ip.To4() == nil {
			return b, false
		}
	}
	b = append(b, byte(m.OpCode), byte(m.HWType), uint8(len(m.ClientHWAddr)), m.HopCount)
	b = append(b, m.TransactionID[:]...)
	b = append(b, byte(m.NumSeconds>>8), byte(m.NumSeconds), byte(m.Flags>>8), byte(m.Flags))
	b = appendIP(b, m.ClientIPAddr)
	b = appendIP(b, m.YourIPAddr)
	b = appendIP(b, m.ServerIPAddr)
	b = appendIP(b, m.GatewayIPAddr)
	b = appendFixed(b, []byte(m.ClientHWAddr), 16, 16)
	b = appendFixed(b, []byte(m.ServerHostName), 63, 64)
	b = appendFixed(b, []byte(m.BootFileName), 127, 128)
	b = append(b, magicCookie[:]...)
	b = appendOptions(b, m.Options)
	b = append(b, optEnd)
	for len(b)-start < bootpMinLen {
		b = append(b, optPad)
	}
	return b, true
}

func appendIP(b []byte, ip net.IP) []byte {
	if ip == nil {
		return append(b, 0, 0, 0, 0)
	}
	return append(b, ip.To4()...)
}

// appendFixed writes the first max bytes of v into a zero-filled field of n.
func appendFixed(b, v []byte, max, n int) []byte {
	if len(v) > max {
		v = v[:max]
	}
	b = append(b, v...)
	for range n - len(v) {
		b = append(b, 0)
	}
	return b
}

// appendOptions writes the options in ToBytes' order: by code, the relay
// agent option last, neither Pad nor End; a value longer than 255 bytes is
// split over several instances (RFC 3396).
func appendOptions(b []byte, o dhcpv4.Options) []byte {
	var codes [256]uint8
	n := 0
	agent := false
	for c := range o {
		switch c {
		case optPad, optEnd:
		case optAgentInfo:
			agent = true
		default:
			codes[n] = c
			n++
		}
	}
	// Insertion sort: a reply has a dozen options.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && codes[j] < codes[j-1]; j-- {
			codes[j], codes[j-1] = codes[j-1], codes[j]
		}
	}
	if agent {
		codes[n] = optAgentInfo
		n++
	}
	for _, c := range codes[:n] {
		v := o[c]
		if len(v) == 0 {
			b = append(b, c, 0)
			continue
		}
		for len(v) > 0 {
			k := min(len(v), 255)
			b = append(b, c, uint8(k))
			b = append(b, v[:k]...)
			v = v[k:]
		}
	}
	return b
}
