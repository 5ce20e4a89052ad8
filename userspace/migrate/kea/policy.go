package kea

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// bootKeys read a scope's network boot fields (next-server,
// server-hostname, boot-file-name).
func (im *importer) bootKeys(n *Node) config.Boot {
	var b config.Boot
	if v := n.Get("next-server"); v != nil && v.Str != "" && v.Str != "0.0.0.0" {
		a, err := netip.ParseAddr(v.Str)
		if err != nil || !a.Is4() {
			im.skip(v, "next-server "+v.Str, "not an IPv4 address")
		} else {
			b.NextServer = a
		}
	}
	if v := n.Get("server-hostname"); v != nil {
		b.ServerName = v.Str
	}
	if v := n.Get("boot-file-name"); v != nil {
		b.BootFile = v.Str
	}
	return b
}

// keaID reads a reservation identifier: 'text' in single quotes, or hex.
func keaID(s string) ([]byte, error) {
	if len(s) >= 3 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return []byte(s[1 : len(s)-1]), nil
	}
	b, err := migrate.ParseHex(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%q is neither 'text' nor hex", s)
	}
	return b, nil
}

// classes reads client-classes whose test xdhcp can express: equality of
// an option (text or hex) or a relay sub-option with a constant, or of the
// option's first bytes (substring from 0), joined by "and".
func (im *importer) classes(n *Node) {
	for _, cn := range n.Items {
		name, test := cn.Get("name"), cn.Get("test")
		if name == nil || name.Str == "" {
			im.skip(cn, "client class", "without a name")
			continue
		}
		what := "client class " + name.Str
		if test == nil {
			im.skip(cn, what, "without a test (members by reservation or hook only): not carried over")
			continue
		}
		match, err := im.test(test.Str)
		if err != nil {
			im.skip(test, what, "test %v: the class is not carried over", err)
			continue
		}
		cl := &config.Class{Name: name.Str, Match: match, Boot: im.bootKeys(cn)}
		ok := true
		for i, k := range cn.Keys {
			v := cn.Vals[i]
			switch k {
			case "name", "test", "next-server", "server-hostname", "boot-file-name", "comment", "user-context":
			case "option-data":
				for _, o := range im.optionData(v) {
					if classManaged[o.code] {
						im.skip(o.n, what+" option", "a class sets options a client may ask for, not this one")
						continue
					}
					cl.Options = append(cl.Options, config.Option{Code: o.code, Value: o.v})
				}
			case "valid-lifetime":
				if d, good := im.seconds(v, k); good {
					cl.LeaseTime = d
				}
			case "only-if-required":
				if v.Kind == 'b' && v.Bool {
					im.skip(v, what, "classes evaluated only when a subnet requires them are not carried over")
					ok = false
				}
			default:
				im.other(v, k)
			}
		}
		if ok {
			im.r.Comments[cl] = fmt.Sprint(cn.Pos)
			im.r.Config.Classes = append(im.r.Config.Classes, cl)
		}
	}
}

// classManaged are the options the server sets itself: no class sets them.
var classManaged = map[uint8]bool{0: true, 50: true, 51: true, 52: true, 53: true, 54: true, 55: true, 58: true, 59: true, 61: true, 82: true, 255: true}

// class is the carried-over class named name, or nil.
func (im *importer) class(name string) *config.Class {
	for _, cl := range im.r.Config.Classes {
		if cl.Name == name {
			return cl
		}
	}
	return nil
}

// test reads a Kea class expression of the forms xdhcp matches.
func (im *importer) test(expr string) ([]config.Match, error) {
	toks, err := lexExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []config.Match
	start := 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && toks[i] != "and" {
			continue
		}
		m, err := condition(stripParens(toks[start:i]))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		start = i + 1
	}
	return out, nil
}

func stripParens(t []string) []string {
	for len(t) >= 2 && t[0] == "(" && t[len(t)-1] == ")" {
		t = t[1 : len(t)-1]
	}
	return t
}

// condition reads SOURCE == VALUE where SOURCE is option[N].text|hex,
// relay4[N].hex or substring(SOURCE,0,LEN), VALUE 'text' or 0xHEX.
func condition(t []string) (config.Match, error) {
	text := strings.Join(t, " ")
	if len(t) < 3 || t[len(t)-2] != "==" {
		return config.Match{}, fmt.Errorf("%q is not an equality", text)
	}
	value, err := exprValue(t[len(t)-1])
	if err != nil {
		return config.Match{}, fmt.Errorf("%q: %v", text, err)
	}
	m := config.Match{Kind: config.MatchExact, Value: value}
	src := t[:len(t)-2]
	if src[0] == "substring" {
		// substring ( SOURCE , 0 , LEN )
		n := len(src)
		if n < 8 || src[1] != "(" || src[n-5] != "," || src[n-4] != "0" || src[n-3] != "," || src[n-2] != strconv.Itoa(len(value)) || src[n-1] != ")" {
			return config.Match{}, fmt.Errorf("%q: only substring(X,0,N) == V with N the length of V", text)
		}
		m.Kind, src = config.MatchPrefix, src[2:n-5]
	}
	// option [ N ] . text|hex   or   relay4 [ N ] . hex
	if len(src) != 6 || src[1] != "[" || src[3] != "]" || src[4] != "." || (src[5] != "hex" && src[5] != "text") {
		return config.Match{}, fmt.Errorf("%q compares no option or relay sub-option", text)
	}
	code, err := strconv.ParseUint(src[2], 10, 8)
	if err != nil || code == 0 || code == 255 {
		return config.Match{}, fmt.Errorf("%q: code %s", text, src[2])
	}
	switch {
	case src[0] == "option" && code != 82:
		m.Option = uint8(code)
	case src[0] == "relay4" && (code == config.RelayCircuitID || code == config.RelayRemoteID || code == config.RelaySubscriberID):
		m.Relay = uint8(code)
	default:
		return config.Match{}, fmt.Errorf("%q is not a source xdhcp matches on", text)
	}
	if len(value) == 0 {
		return config.Match{}, fmt.Errorf("%q: an empty value", text)
	}
	return m, nil
}

func exprValue(s string) ([]byte, error) {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return []byte(s[1 : len(s)-1]), nil
	}
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		return migrate.ParseHex(h)
	}
	return nil, fmt.Errorf("value %s: want 'text' or 0xHEX", s)
}

// lexExpr splits a Kea expression into words, 'strings', and ( ) [ ] , . ==.
func lexExpr(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("a string is never closed")
			}
			out = append(out, s[i:i+j+2])
			i += j + 2
		case c == '=' && i+1 < len(s) && s[i+1] == '=':
			out = append(out, "==")
			i += 2
		case strings.IndexByte("()[],.", c) >= 0:
			out = append(out, string(c))
			i++
		case c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '-':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '-' || ('0' <= s[j] && s[j] <= '9') || ('a' <= s[j] && s[j] <= 'z') || ('A' <= s[j] && s[j] <= 'Z')) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("%q is not an expression xdhcp reads", s)
		}
	}
	return out, nil
}
