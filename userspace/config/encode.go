package config

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// EncodeOptions tune Encode.
type EncodeOptions struct {
	// Header is a comment written above the document (without "# ").
	Header string
	// Comments are line comments for subnets and reservations, keyed by
	// their pointers (an importer says where each came from).
	Comments map[any]string
	// OptionForm says how to write an option's value: "ip", "text", "u8",
	// "u16", "u32" or "hex". Hex is the default and the fallback when the
	// value does not fit the form.
	OptionForm func(Option) string
}

// Encode writes c as YAML that Parse reads back to the same configuration
// (Line fields aside). Top-level settings equal to Default() are left out.
func Encode(c *Config, o EncodeOptions) ([]byte, error) {
	e := encoder{o: o}
	doc := e.config(c)
	if e.err != nil {
		return nil, e.err
	}
	if o.Header != "" {
		lines := strings.Split(strings.TrimRight(o.Header, "\n"), "\n")
		for i, l := range lines {
			lines[i] = commentText(l)
		}
		doc.HeadComment = "# " + strings.Join(lines, "\n# ")
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	return b.Bytes(), nil
}

type encoder struct {
	o   EncodeOptions
	err error
}

// str is a string scalar; one holding control characters is written
// double-quoted, where YAML escapes them (a plain or single-quoted scalar
// cannot carry them, and the file would not read back).
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func strs[T fmt.Stringer](vs []T) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, v := range vs {
		n.Content = append(n.Content, str(v.String()))
	}
	return n
}

func mapping(flow bool) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if flow {
		n.Style = yaml.FlowStyle
	}
	return n
}

func add(m *yaml.Node, key string, v *yaml.Node) { m.Content = append(m.Content, str(key), v) }

// Dur writes a duration the way people write them (90s, 10m, 12h) and
// the parser reads back exactly.
func Dur(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

func (e *encoder) config(c *Config) *yaml.Node {
	def := Default()
	m := mapping(false)
	if len(c.Interfaces) > 0 {
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, i := range c.Interfaces {
			n.Content = append(n.Content, str(i))
		}
		add(m, "interfaces", n)
	}
	if c.DB != def.DB {
		add(m, "db", str(c.DB))
	}
	if c.ServerID.IsValid() {
		add(m, "server-id", str(c.ServerID.String()))
	}
	if c.Authoritative != def.Authoritative {
		add(m, "authoritative", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(c.Authoritative)})
	}
	for _, d := range []struct {
		key      string
		v, deflt time.Duration
	}{{"lease-time", c.LeaseTime, def.LeaseTime}, {"offer-hold", c.OfferHold, def.OfferHold}, {"decline-probation", c.DeclineProbation, def.DeclineProbation}} {
		if d.v != d.deflt {
			add(m, d.key, str(Dur(d.v)))
		}
	}
	if c.XDP != def.XDP {
		add(m, "xdp", str(c.XDP))
	}
	if l := e.limits(c.Limits, def.Limits); l != nil {
		add(m, "limits", l)
	}
	e.policy(m, c)
	subnets := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range c.Subnets {
		subnets.Content = append(subnets.Content, e.subnet(s))
	}
	add(m, "subnets", subnets)
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{m}}
}

func (e *encoder) limits(l, def Limits) *yaml.Node {
	m := mapping(false)
	num := func(key string, v float64) {
		if v != 0 {
			add(m, key, str(strconv.FormatFloat(v, 'g', -1, 64)))
		}
	}
	num("relay-rate", l.RelayRate)
	num("relay-burst", float64(l.RelayBurst))
	num("client-rate", l.ClientRate)
	num("client-burst", float64(l.ClientBurst))
	if l.Tracked != def.Tracked {
		add(m, "clients-tracked", str(strconv.Itoa(l.Tracked)))
	}
	switch r := l.PoolReserve; {
	case r.Addresses > 0 && r.Percent > 0:
		e.err = fmt.Errorf("pool-reserve %s: the file takes addresses or a percentage, not both", r)
	case !r.IsZero():
		add(m, "pool-reserve", str(r.String()))
	}
	if len(m.Content) == 0 {
		return nil
	}
	return m
}

func (e *encoder) subnet(s *Subnet) *yaml.Node {
	m := mapping(false)
	add(m, "subnet", str(s.Prefix.String()))
	m.Content[1].LineComment = e.comment(s)
	if s.Interface != "" {
		add(m, "interface", str(s.Interface))
	}
	if s.SharedNetwork != "" {
		add(m, "shared-network", str(s.SharedNetwork))
	}
	if len(s.Ranges) > 0 {
		add(m, "ranges", strs(s.Ranges))
	}
	if len(s.Routers) > 0 {
		add(m, "routers", strs(s.Routers))
	}
	if len(s.DNS) > 0 {
		add(m, "dns", strs(s.DNS))
	}
	if s.Domain != "" {
		add(m, "domain", str(s.Domain))
	}
	boot(m, s.Boot)
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"lease-time", s.LeaseTime}, {"t1", s.T1}, {"t2", s.T2}} {
		if d.v != 0 {
			add(m, d.key, str(Dur(d.v)))
		}
	}
	e.options(m, s.Options)
	if len(s.Reservations) > 0 {
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range s.Reservations {
			n.Content = append(n.Content, e.reservation(r))
		}
		add(m, "reservations", n)
	}
	return m
}

func (e *encoder) comment(key any) string {
	if c := e.o.Comments[key]; c != "" {
		return "# " + commentText(c)
	}
	return ""
}

// commentText makes s safe for a one-line comment: a comment carries no
// escapes, so control characters and bytes that are not UTF-8 (a name from
// the source file may hold them; yaml's emitter panics on the latter) are
// written as Go escapes.
func commentText(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func (e *encoder) reservation(r *Reservation) *yaml.Node {
	m := mapping(true)
	if len(r.HWAddr) > 0 {
		add(m, "mac", str(r.HWAddr.String()))
	}
	if len(r.ClientID) > 0 {
		add(m, "client-id", str(colonHex(r.ClientID)))
	}
	if len(r.CircuitID) > 0 {
		add(m, "circuit-id", str(BytesText(r.CircuitID)))
	}
	if len(r.RemoteID) > 0 {
		add(m, "remote-id", str(BytesText(r.RemoteID)))
	}
	add(m, "ip", str(r.IP.String()))
	if r.Hostname != "" {
		add(m, "hostname", str(r.Hostname))
	}
	boot(m, r.Boot)
	m.LineComment = e.comment(r)
	return m
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = hex.EncodeToString([]byte{x})
	}
	return strings.Join(parts, ":")
}

func (e *encoder) options(m *yaml.Node, os []Option) {
	if len(os) == 0 {
		return
	}
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, o := range os {
		n.Content = append(n.Content, e.option(o))
	}
	add(m, "options", n)
}

// option writes o in the form OptionForm asks for when the value fits it.
func (e *encoder) option(o Option) *yaml.Node {
	m := mapping(true)
	add(m, "code", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(int(o.Code))})
	form := "hex"
	if e.o.OptionForm != nil {
		form = e.o.OptionForm(o)
	}
	v := o.Value
	switch {
	case form == "ip" && len(v) > 0 && len(v)%4 == 0:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := 0; i < len(v); i += 4 {
			n.Content = append(n.Content, str(fmt.Sprintf("%d.%d.%d.%d", v[i], v[i+1], v[i+2], v[i+3])))
		}
		if len(n.Content) == 1 {
			n = n.Content[0]
		}
		add(m, "ip", n)
	case form == "text" && printable(v):
		add(m, "text", str(string(v)))
	case form == "u8" && len(v) == 1, form == "u16" && len(v) == 2, form == "u32" && len(v) == 4:
		var x uint64
		for _, b := range v {
			x = x<<8 | uint64(b)
		}
		add(m, form, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatUint(x, 10)})
	default:
		add(m, "hex", str(hex.EncodeToString(v)))
	}
	return m
}

// printable: text that survives YAML unchanged (no control bytes, no
// leading or trailing space, valid UTF-8, not empty).
func printable(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) || strings.TrimSpace(string(b)) != string(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Same says whether a and b are the same configuration, the source
// positions (every field named Line) aside, and an empty list the same as
// none: what a round trip through Encode and Parse must keep. It needs no
// update when a field is added.
func Same(a, b *Config) bool {
	return sameValue(reflect.ValueOf(a), reflect.ValueOf(b))
}

var configPkg = reflect.TypeFor[Config]().PkgPath()

func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		if a.Type().PkgPath() != configPkg {
			return reflect.DeepEqual(a.Interface(), b.Interface())
		}
		for i := range a.NumField() {
			if a.Type().Field(i).Name != "Line" && !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if v := b.MapIndex(k); !v.IsValid() || !sameValue(a.MapIndex(k), v) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
