package migrate

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// OptionDef is a DHCPv4 option's code, names and value format. Format uses
// ISC's letters (common/tables.c): I IPv4 address, l/L signed/unsigned 32
// bits, s/S 16 bits, b/B 8 bits, T lease time (32 bits, "infinite"), f
// flag, t text, X text or colon-separated hex, d domain name, D domain
// list; A repeats the whole record, a repeats its last field.
type OptionDef struct {
	Code   uint8
	Name   string // ISC's name
	Kea    string // Kea's name when it differs
	Format string
}

// Options are the standard DHCPv4 options both ISC dhcpd and Kea name
// (ISC common/tables.c, Kea std_option_defs.h).
var Options = []OptionDef{
	{1, "subnet-mask", "", "I"}, {2, "time-offset", "", "l"}, {3, "routers", "", "IA"}, {4, "time-servers", "", "IA"},
	{5, "ien116-name-servers", "name-servers", "IA"}, {6, "domain-name-servers", "", "IA"}, {7, "log-servers", "", "IA"},
	{8, "cookie-servers", "", "IA"}, {9, "lpr-servers", "", "IA"}, {10, "impress-servers", "", "IA"},
	{11, "resource-location-servers", "", "IA"}, {12, "host-name", "", "t"}, {13, "boot-size", "", "S"},
	{14, "merit-dump", "", "t"}, {15, "domain-name", "", "t"}, {16, "swap-server", "", "I"}, {17, "root-path", "", "t"},
	{18, "extensions-path", "", "t"}, {19, "ip-forwarding", "", "f"}, {20, "non-local-source-routing", "", "f"},
	{21, "policy-filter", "", "IIA"}, {22, "max-dgram-reassembly", "", "S"}, {23, "default-ip-ttl", "", "B"},
	{24, "path-mtu-aging-timeout", "", "L"}, {25, "path-mtu-plateau-table", "", "SA"}, {26, "interface-mtu", "", "S"},
	{27, "all-subnets-local", "", "f"}, {28, "broadcast-address", "", "I"}, {29, "perform-mask-discovery", "", "f"},
	{30, "mask-supplier", "", "f"}, {31, "router-discovery", "", "f"}, {32, "router-solicitation-address", "", "I"},
	{33, "static-routes", "", "IIA"}, {34, "trailer-encapsulation", "", "f"}, {35, "arp-cache-timeout", "", "L"},
	{36, "ieee802-3-encapsulation", "", "f"}, {37, "default-tcp-ttl", "", "B"}, {38, "tcp-keepalive-interval", "", "L"},
	{39, "tcp-keepalive-garbage", "", "f"}, {40, "nis-domain", "", "t"}, {41, "nis-servers", "", "IA"},
	{42, "ntp-servers", "", "IA"}, {43, "vendor-encapsulated-options", "", "E"}, {44, "netbios-name-servers", "", "IA"},
	{45, "netbios-dd-server", "", "IA"}, {46, "netbios-node-type", "", "B"}, {47, "netbios-scope", "", "t"},
	{48, "font-servers", "", "IA"}, {49, "x-display-manager", "", "IA"}, {50, "dhcp-requested-address", "", "I"},
	{51, "dhcp-lease-time", "", "T"}, {52, "dhcp-option-overload", "", "B"}, {53, "dhcp-message-type", "", "B"},
	{54, "dhcp-server-identifier", "", "I"}, {55, "dhcp-parameter-request-list", "", "BA"}, {56, "dhcp-message", "", "t"},
	{57, "dhcp-max-message-size", "", "S"}, {58, "dhcp-renewal-time", "", "L"}, {59, "dhcp-rebinding-time", "", "L"},
	{60, "vendor-class-identifier", "", "X"}, {61, "dhcp-client-identifier", "", "X"}, {62, "nwip-domain", "nwip-domain-name", "t"},
	{63, "nwip-suboptions", "", "E"}, {64, "nisplus-domain", "nisplus-domain-name", "t"}, {65, "nisplus-servers", "", "IA"},
	{66, "tftp-server-name", "", "t"}, {67, "bootfile-name", "boot-file-name", "t"}, {68, "mobile-ip-home-agent", "", "IA"},
	{69, "smtp-server", "", "IA"}, {70, "pop-server", "", "IA"}, {71, "nntp-server", "", "IA"}, {72, "www-server", "", "IA"},
	{73, "finger-server", "", "IA"}, {74, "irc-server", "", "IA"}, {75, "streettalk-server", "", "IA"},
	{76, "streettalk-directory-assistance-server", "", "IA"}, {77, "user-class", "", "X"}, {78, "slp-directory-agent", "", "fIa"},
	{79, "slp-service-scope", "", "fto"}, {81, "fqdn", "", "E"}, {82, "relay-agent-information", "dhcp-agent-options", "E"},
	{85, "nds-servers", "", "IA"}, {86, "nds-tree-name", "", "t"}, {87, "nds-context", "", "t"},
	{88, "bcms-controller-names", "", "D"}, {89, "bcms-controller-address", "", "IA"}, {91, "client-last-transaction-time", "", "L"},
	{92, "associated-ip", "", "IA"}, {93, "pxe-system-type", "client-system", "SA"}, {94, "pxe-interface-id", "client-ndi", "BBB"},
	{97, "pxe-client-id", "uuid-guid", "BX"}, {98, "uap-servers", "", "t"}, {99, "geoconf-civic", "", "X"}, {100, "pcode", "", "t"},
	{101, "tcode", "", "t"}, {108, "v6-only-preferred", "", "L"}, {112, "netinfo-server-address", "", "IA"},
	{113, "netinfo-server-tag", "", "t"}, {114, "default-url", "", "t"}, {116, "auto-config", "", "B"},
	{117, "name-service-search", "", "SA"}, {118, "subnet-selection", "", "I"}, {119, "domain-search", "", "D"},
	{121, "rfc3442-classless-static-routes", "classless-static-route", "E"},
	{124, "vivco", "vivco-suboptions", "E"}, {125, "vivso", "vivso-suboptions", "E"}, {136, "pana-agent", "", "IA"},
	{137, "v4-lost", "", "d"}, {138, "capwap-ac-v4", "", "IA"}, {141, "sip-ua-cs-domains", "", "D"},
	{142, "ipv4-address-andsf", "", "IA"}, {150, "tftp-server-address", "", "IA"}, {159, "v4-portparams", "", "BBS"},
	{160, "v4-captive-portal", "", "t"}, {209, "loader-configfile", "", "t"}, {210, "loader-pathprefix", "", "t"},
	{211, "loader-reboottime", "", "L"}, {213, "v4-access-domain", "", "d"},
}

var byISC, byKea, byCode = func() (map[string]*OptionDef, map[string]*OptionDef, map[uint8]*OptionDef) {
	isc, kea, code := map[string]*OptionDef{}, map[string]*OptionDef{}, map[uint8]*OptionDef{}
	for i := range Options {
		d := &Options[i]
		isc[d.Name], code[d.Code] = d, d
		if d.Kea != "" {
			kea[d.Kea] = d
		} else {
			kea[d.Name] = d
		}
	}
	return isc, kea, code
}()

// ISCOption, KeaOption and OptionByCode look a standard option up.
func ISCOption(name string) *OptionDef   { return byISC[strings.ToLower(name)] }
func KeaOption(name string) *OptionDef   { return byKea[strings.ToLower(name)] }
func OptionByCode(code uint8) *OptionDef { return byCode[code] }

// Value is one field of an option value as written in the source file.
type Value struct {
	Text   string
	Quoted bool // a quoted string (text), not hex or a number
}

// Encode turns the fields of a value into the option's wire bytes.
func (d *OptionDef) Encode(vs []Value) ([]byte, error) {
	switch d.Format {
	case "t":
		if len(vs) != 1 {
			return nil, fmt.Errorf("want one text value, got %d", len(vs))
		}
		return []byte(vs[0].Text), nil
	case "X":
		if len(vs) != 1 {
			return nil, fmt.Errorf("want one string or hex value, got %d", len(vs))
		}
		if vs[0].Quoted {
			return []byte(vs[0].Text), nil
		}
		return ParseHex(vs[0].Text)
	case "d", "D":
		var out []byte
		for _, v := range vs {
			for _, name := range strings.Fields(v.Text) {
				b, err := encodeName(name)
				if err != nil {
					return nil, err
				}
				out = append(out, b...)
			}
		}
		if len(out) == 0 || (d.Format == "d" && len(vs) != 1) {
			return nil, fmt.Errorf("want domain names, got %d values", len(vs))
		}
		return out, nil
	}
	if n := len(d.Format); n > 1 && (d.Format[n-1] == 't' || d.Format[n-1] == 'X') && len(vs) > 0 {
		// Fixed fields, then one text or hex field (pxe-client-id "BX").
		head, err := (&OptionDef{Format: d.Format[:n-1]}).Encode(vs[:len(vs)-1])
		if err != nil {
			return nil, err
		}
		tail, err := (&OptionDef{Format: d.Format[n-1:]}).Encode(vs[len(vs)-1:])
		return append(head, tail...), err
	}
	fields, repeat, ok := recordShape(d.Format)
	if !ok {
		return nil, fmt.Errorf("format %q is not one the importer writes", d.Format)
	}
	var out []byte
	for i, v := range vs {
		f := byte(0)
		switch {
		case i < len(fields):
			f = fields[i]
		case repeat == 'A':
			f = fields[i%len(fields)]
		case repeat == 'a':
			f = fields[len(fields)-1]
		default:
			return nil, fmt.Errorf("want %d values, got %d", len(fields), len(vs))
		}
		b, err := encodeField(f, v)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	if len(vs) < len(fields) || (repeat == 'A' && len(vs)%len(fields) != 0) {
		return nil, fmt.Errorf("want %d values (or a multiple), got %d", len(fields), len(vs))
	}
	return out, nil
}

// recordShape splits a format of fixed-size fields into the fields and
// the repetition mark ('A', 'a' or 0).
func recordShape(format string) (fields string, repeat byte, ok bool) {
	fields = format
	if n := len(fields); n > 1 && (fields[n-1] == 'A' || fields[n-1] == 'a') {
		repeat, fields = fields[n-1], fields[:n-1]
	}
	if fields == "" {
		return "", 0, false
	}
	for i := 0; i < len(fields); i++ {
		if !strings.ContainsRune("IlLsSbBTf", rune(fields[i])) {
			return "", 0, false
		}
	}
	return fields, repeat, true
}

func encodeField(f byte, v Value) ([]byte, error) {
	switch f {
	case 'I':
		a, err := netip.ParseAddr(v.Text)
		if err != nil || !a.Is4() {
			if strings.ContainsAny(v.Text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") && !v.Quoted {
				return nil, fmt.Errorf("%q is a host name: xdhcp does not resolve names, give the address", v.Text)
			}
			return nil, fmt.Errorf("%q is not an IPv4 address", v.Text)
		}
		b := a.As4()
		return b[:], nil
	case 'f':
		switch strings.ToLower(v.Text) {
		case "true", "on", "1":
			return []byte{1}, nil
		case "false", "off", "0":
			return []byte{0}, nil
		}
		return nil, fmt.Errorf("%q is not true or false", v.Text)
	}
	bits := map[byte]int{'l': 32, 'L': 32, 'T': 32, 's': 16, 'S': 16, 'b': 8, 'B': 8}[f]
	signed := f == 'l' || f == 's' || f == 'b'
	var x uint64
	if f == 'T' && strings.EqualFold(v.Text, "infinite") {
		x = 0xffffffff
	} else if signed {
		// dhcpd checks the size only: a signed 8-bit field takes -128..255.
		n, err := strconv.ParseInt(v.Text, 0, 64)
		if err != nil || n < -(1<<(bits-1)) || n >= 1<<bits {
			return nil, fmt.Errorf("%q is not a %d-bit number", v.Text, bits)
		}
		x = uint64(n)
	} else {
		n, err := strconv.ParseUint(v.Text, 0, bits)
		if err != nil {
			return nil, fmt.Errorf("%q is not an unsigned %d-bit number", v.Text, bits)
		}
		x = n
	}
	b := make([]byte, bits/8)
	for i := range b {
		b[len(b)-1-i] = byte(x >> (8 * i))
	}
	return b, nil
}

// encodeName writes a domain name in RFC 1035 wire form (no compression).
func encodeName(name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".")
	var out []byte
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return nil, fmt.Errorf("domain name %q: empty or over-long label", name)
		}
		out = append(append(out, byte(len(label))), label...)
	}
	return append(out, 0), nil
}

// ParseHex reads colon-separated hex octets (ISC: 1:2:ab) or a plain or
// 0x-prefixed hex string (Kea).
func ParseHex(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ":") {
		var out []byte
		for _, p := range strings.Split(s, ":") {
			v, err := strconv.ParseUint(p, 16, 8)
			if err != nil {
				return nil, fmt.Errorf("%q is not colon-separated hex octets", s)
			}
			out = append(out, byte(v))
		}
		return out, nil
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	s = strings.ReplaceAll(s, " ", "")
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not hex", s)
	}
	return b, nil
}

// Label makes a name taken from a source file (a shared network, a class,
// a host) valid UTF-8, as a YAML file must be: a byte that is not becomes
// U+FFFD, the same way every time, so names that matched still match.
func Label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// Form is how the configuration writer shows an option (config.EncodeOptions.OptionForm).
func Form(code uint8) string {
	d := byCode[code]
	if d == nil {
		return "hex"
	}
	switch d.Format {
	case "I", "IA":
		return "ip"
	case "t":
		return "text"
	case "B":
		return "u8"
	case "S":
		return "u16"
	case "L", "T":
		return "u32"
	}
	return "hex"
}
