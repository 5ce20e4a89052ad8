package isc

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// groups joins the tokens of a value into fields: glued tokens (no white
// space between them: 198.18.0.1, 00:0c:29:ab:cd:ef) form one field, a
// string is one field, commas and white space separate fields.
func groups(ws []Token) []migrate.Value {
	var out []migrate.Value
	for i := 0; i < len(ws); i++ {
		t := ws[i]
		switch {
		case t.is(","):
			continue
		case t.Kind == String:
			out = append(out, migrate.Value{Text: t.Text, Quoted: true})
			continue
		}
		j := i
		for j+1 < len(ws) && glued(ws[j], ws[j+1]) && !ws[j+1].is(",") {
			j++
		}
		text := t.Text
		if j > i {
			var b strings.Builder
			for _, g := range ws[i : j+1] {
				b.WriteString(g.Text)
			}
			text, i = b.String(), j
		}
		out = append(out, migrate.Value{Text: text})
	}
	return out
}

// addr reads one IPv4 address field.
func addr(v migrate.Value) (netip.Addr, error) {
	a, err := netip.ParseAddr(v.Text)
	if err != nil || !a.Is4() || v.Quoted {
		if !v.Quoted && strings.ContainsAny(v.Text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			return netip.Addr{}, fmt.Errorf("%q is a host name: xdhcp does not resolve names, give the address", v.Text)
		}
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", v.Text)
	}
	return a, nil
}

// args are a statement's fields after its first n words.
func args(s *Stmt, n int) []migrate.Value {
	if n > len(s.Words) {
		return nil
	}
	return groups(s.Words[n:])
}

// seconds reads a number of seconds (dhcpd's lease times).
func seconds(v migrate.Value) (time.Duration, error) {
	n, err := strconv.ParseUint(v.Text, 10, 32)
	if err != nil || v.Quoted {
		return 0, fmt.Errorf("%q is not a number of seconds", v.Text)
	}
	return time.Duration(n) * time.Second, nil
}

// flag reads dhcpd's booleans (true/false, on/off); "ignore" counts as false.
func flag(v migrate.Value) (bool, error) {
	switch strings.ToLower(v.Text) {
	case "true", "on":
		return true, nil
	case "false", "off", "ignore":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v.Text)
}

// optionType turns an option definition's type words (after "=") into a
// format in ISC's letters: "ip-address" I, "unsigned integer 16" S,
// "array of ip-address" IA, "{ ip-address, text }" It ...
func optionType(ws []Token) (string, error) {
	var out strings.Builder
	array := false
	i := 0
	if len(ws) >= 2 && ws[0].is("array") && ws[1].is("of") {
		array, i = true, 2
	}
	record := i < len(ws) && ws[i].is("{")
	if record {
		i++
	}
	for i < len(ws) {
		t := ws[i]
		i++
		switch {
		case t.is(",") || t.is("}"):
			continue
		case t.is("ip-address"):
			out.WriteByte('I')
		case t.is("text"):
			out.WriteByte('t')
		case t.is("string"):
			out.WriteByte('X')
		case t.is("boolean"):
			out.WriteByte('f')
		case t.is("domain-name"):
			out.WriteByte('d')
		case t.is("domain-list"):
			out.WriteByte('D')
			if i < len(ws) && ws[i].is("compressed") {
				i++
			}
		case t.is("unsigned") || t.is("signed") || t.is("integer"):
			signed := !t.is("unsigned")
			if !t.is("integer") {
				if i >= len(ws) || !ws[i].is("integer") {
					return "", fmt.Errorf("want %s integer N", t.Text)
				}
				i++
			}
			if i >= len(ws) {
				return "", fmt.Errorf("integer without a width")
			}
			w := ws[i].Text
			i++
			c := map[string]byte{"8": 'B', "16": 'S', "32": 'L'}[w]
			if c == 0 {
				return "", fmt.Errorf("integer width %q: want 8, 16 or 32", w)
			}
			if signed {
				c += 'a' - 'A'
			}
			out.WriteByte(c)
		default:
			return "", fmt.Errorf("type %q is not one the importer writes", t.Text)
		}
	}
	f := out.String()
	if f == "" {
		return "", fmt.Errorf("no type")
	}
	if array {
		if strings.ContainsAny(f, "tXdD") {
			return "", fmt.Errorf("array of %q is not one the importer writes", f)
		}
		f += "A"
	}
	return f, nil
}
