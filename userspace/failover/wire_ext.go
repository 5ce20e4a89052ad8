package failover

// Binding extensions: optional fields added to the binding encoding after
// version 1 shipped, in a way older frames keep decoding.
//
// A binding whose state byte has bit 7 set (stateExtended) is followed,
// after its hostname, by an extension block:
//
//	length u16  bytes of the TLVs that follow
//	TLVs        type u8, length u8, value
//
// A binding without extensions is encoded byte for byte as before, so an
// older partner decodes every binding that carries none; a receiver skips
// TLV types it does not know, so later fields need no new flag.

import "github.com/xdhcp/xdhcp/userspace/lease"

const (
	stateExtended = 0x80
	extRelayInfo  = 1 // option 82's payload the binding was made through
	extDNSName    = 2 // the name the binding registers in DNS
)

func hasExtensions(l *lease.Lease) bool { return len(l.RelayInfo) > 0 || l.DNSName != "" }

func putExtensions(w *writer, l *lease.Lease) {
	if !hasExtensions(l) {
		return
	}
	ext := &writer{}
	if len(l.RelayInfo) > 0 {
		ext.u8(extRelayInfo)
		ext.str8("relay info", l.RelayInfo)
	}
	if l.DNSName != "" {
		ext.u8(extDNSName)
		ext.str8("dns name", []byte(l.DNSName))
	}
	if ext.err != nil {
		w.fail(ext.err)
		return
	}
	w.u16(uint16(len(ext.b)))
	w.raw(ext.b)
}

func getExtensions(r *reader, l *lease.Lease) {
	block := r.str16("binding extensions")
	if r.err != nil {
		return
	}
	er := &reader{b: block}
	for len(er.b) > 0 && er.err == nil {
		typ := er.u8("binding extension type")
		v := er.str8("binding extension value")
		if er.err != nil {
			break
		}
		switch typ {
		case extRelayInfo:
			l.RelayInfo = append([]byte(nil), v...)
		case extDNSName:
			l.DNSName = string(v)
		}
	}
	if er.err != nil {
		r.err = er.err
	}
}
