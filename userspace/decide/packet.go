package decide

import "encoding/binary"

// Wire constants shared with bpf/xdhcp.c; the two parsers must agree byte for byte.
const (
	ethHeaderLen  = 14
	vlanHeaderLen = 4
	maxVLANTags   = 2
	etherTypeIPv4 = 0x0800
	etherTypeVLAN = 0x8100
	etherTypeQinQ = 0x88a8

	ipv4MinHeaderLen = 20
	ipProtoUDP       = 17
	ipFragMask       = 0x3fff // MF flag and fragment offset
	udpHeaderLen     = 8
	ServerPort       = 67

	bootpFixedLen  = 236 // BOOTP header up to and including the file field
	bootpOptionOff = 240 // after the magic cookie
	magicCookie    = 0x63825363
	maxHLen        = 16
	// MaxOptionIter bounds the option walk (the XDP program's loop bound);
	// a message needing more steps is treated as malformed and passed.
	MaxOptionIter = 64
	// maxOptionsLen bounds the options area the XDP program will walk.
	maxOptionsLen = 1500

	BootRequest = 1

	optPad         = 0
	optRequestedIP = 50
	optOverload    = 52
	optMsgType     = 53
	optServerID    = 54
	optClientID    = 61
	optEnd         = 255
)

// DHCP message types (RFC 2132 option 53).
const (
	MsgNone     = 0 // plain BOOTP
	MsgDiscover = 1
	MsgRequest  = 3
	MsgDecline  = 4
	MsgRelease  = 7
	MsgInform   = 8
)

// Request is what the decision reads from a BOOTREQUEST.
type Request struct {
	Op, HType, HLen uint8
	Secs            uint16
	Ciaddr, Giaddr  [4]byte
	Chaddr          [16]byte
	MsgType         uint8
	HasServerID     bool
	ServerID        [4]byte
	HasRequestedIP  bool
	RequestedIP     [4]byte
	ClientID        []byte // option 61 payload, type byte included; nil when absent
	Overload        bool   // option 52 present
}

// Key is the RFC 3074 hash key: option 61 when present and non-empty (unless
// chaddrOnly), else chaddr[:hlen].
func (r *Request) Key(chaddrOnly bool) []byte {
	if !chaddrOnly && len(r.ClientID) > 0 {
		return r.ClientID
	}
	return r.Chaddr[:r.HLen]
}

// ParseFrame reads an Ethernet frame the way the XDP program does. The
// reason is ReasonNotDHCP, ReasonFragment or ReasonMalformed when the frame
// is not a well-formed DHCP message to port 67; zero (with ok) otherwise.
func ParseFrame(frame []byte) (req Request, reason Reason, ok bool) {
	if len(frame) < ethHeaderLen {
		return req, ReasonNotDHCP, false
	}
	off := ethHeaderLen
	proto := binary.BigEndian.Uint16(frame[12:14])
	for i := 0; i < maxVLANTags && (proto == etherTypeVLAN || proto == etherTypeQinQ); i++ {
		if len(frame) < off+vlanHeaderLen {
			return req, ReasonNotDHCP, false
		}
		proto = binary.BigEndian.Uint16(frame[off+2 : off+4])
		off += vlanHeaderLen
	}
	if proto != etherTypeIPv4 {
		return req, ReasonNotDHCP, false
	}
	ip := frame[off:]
	if len(ip) < ipv4MinHeaderLen || ip[0]>>4 != 4 {
		return req, ReasonNotDHCP, false
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < ipv4MinHeaderLen || len(ip) < ihl || ip[9] != ipProtoUDP {
		return req, ReasonNotDHCP, false
	}
	if binary.BigEndian.Uint16(ip[6:8])&ipFragMask != 0 {
		return req, ReasonFragment, false
	}
	udp := ip[ihl:]
	if len(udp) < udpHeaderLen || binary.BigEndian.Uint16(udp[2:4]) != ServerPort {
		return req, ReasonNotDHCP, false
	}
	udpLen := int(binary.BigEndian.Uint16(udp[4:6]))
	totLen := int(binary.BigEndian.Uint16(ip[2:4]))
	if udpLen < udpHeaderLen || totLen < ihl+udpLen || udpLen > len(udp) {
		return req, ReasonMalformed, false
	}
	return ParseBOOTP(udp[udpHeaderLen:udpLen])
}

// ParseBOOTP reads a UDP payload sent to port 67 (the daemon's path when XDP is off).
func ParseBOOTP(p []byte) (req Request, reason Reason, ok bool) {
	if len(p) < bootpFixedLen {
		return req, ReasonMalformed, false
	}
	req.Op, req.HType, req.HLen = p[0], p[1], p[2]
	if req.Op != BootRequest {
		return req, ReasonNotRequest, false
	}
	if req.HLen > maxHLen {
		return req, ReasonMalformed, false
	}
	req.Secs = binary.BigEndian.Uint16(p[8:10])
	copy(req.Ciaddr[:], p[12:16])
	copy(req.Giaddr[:], p[24:28])
	copy(req.Chaddr[:], p[28:44])
	if len(p) < bootpOptionOff || binary.BigEndian.Uint32(p[236:240]) != magicCookie {
		return req, 0, true // plain BOOTP: no options
	}
	opts := p[bootpOptionOff:]
	if len(opts) > maxOptionsLen {
		opts = opts[:maxOptionsLen]
	}
	off := 0
	for i := 0; ; i++ {
		if i == MaxOptionIter {
			return req, ReasonMalformed, false
		}
		if off >= len(opts) {
			return req, 0, true // ran to the end without END: tolerated
		}
		code := opts[off]
		if code == optPad {
			off++
			continue
		}
		if code == optEnd {
			return req, 0, true
		}
		if off+2 > len(opts) {
			return req, ReasonMalformed, false
		}
		n := int(opts[off+1])
		if off+2+n > len(opts) {
			return req, ReasonMalformed, false
		}
		v := opts[off+2 : off+2+n]
		switch code {
		case optMsgType:
			if n != 1 {
				return req, ReasonMalformed, false
			}
			req.MsgType = v[0]
		case optServerID:
			if n != 4 {
				return req, ReasonMalformed, false
			}
			req.HasServerID = true
			copy(req.ServerID[:], v)
		case optRequestedIP:
			if n != 4 {
				return req, ReasonMalformed, false
			}
			req.HasRequestedIP = true
			copy(req.RequestedIP[:], v)
		case optClientID:
			req.ClientID = v
		case optOverload:
			req.Overload = true
		}
		off += 2 + n
	}
}
