package kea

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

func (im *importer) subnet(n *Node, parent *level) {
	sn := n.Get("subnet")
	if sn == nil || sn.Kind != '"' {
		im.skip(n, "subnet4 entry", "no \"subnet\": nothing to carry over")
		return
	}
	p, err := netip.ParsePrefix(sn.Str)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		im.skip(sn, "subnet "+sn.Str, "not an IPv4 prefix without host bits")
		return
	}
	for _, o := range im.subnets {
		if o.s.Prefix.Overlaps(p) {
			im.skip(sn, "subnet "+sn.Str, "overlaps subnet %v (%v)", o.s.Prefix, o.n.Pos)
			return
		}
	}
	d := &subnetDecl{s: &config.Subnet{Prefix: p}, lv: &level{parent: parent}, n: n}
	if id := n.Get("id"); id != nil {
		d.id = id.Num.String()
		if o := im.ids[d.id]; o != nil {
			im.skip(id, "id "+d.id, "subnet id already used at %v", o.Pos)
		}
		im.ids[d.id] = id
	}
	im.levelKeys(n, d.lv)
	im.subnets = append(im.subnets, d)
	for i, k := range n.Keys {
		v := n.Vals[i]
		switch k {
		case "pools":
			im.pools(d, v)
		case "reservations":
			for _, res := range v.Items {
				im.reservation(res, d)
			}
		case "relay":
			im.relay([]netip.Prefix{d.s.Prefix}, v)
		case "match-client-id":
			if v.Kind == 'b' && !v.Bool {
				im.skip(v, k, "xdhcp identifies a client by its option 61 when it sends one")
			}
		default:
			im.other(v, k)
		}
	}
}

// relay checks a relay list: xdhcp picks a relayed client's subnet by the
// relay address (giaddr) it contains, so a relay address inside one of the
// subnets in question is carried over, one outside is not.
func (im *importer) relay(in []netip.Prefix, n *Node) {
	for _, k := range []string{"ip-addresses", "ip-address"} {
		v := n.Get(k)
		if v == nil {
			continue
		}
		items := v.Items
		if v.Kind == '"' {
			items = []*Node{v}
		}
		for _, a := range items {
			ip, err := netip.ParseAddr(a.Str)
			found := false
			for _, p := range in {
				found = found || (err == nil && p.Contains(ip))
			}
			if !found {
				im.skip(a, "relay "+a.Str, "xdhcp picks a relayed client's subnet by the relay address it contains: a relay outside %v is not matched", in)
			}
		}
	}
}

func (im *importer) pools(d *subnetDecl, n *Node) {
	for _, pn := range n.Items {
		pv := pn.Get("pool")
		if pv == nil || pv.Kind != '"' {
			im.skip(pn, "pool", "no \"pool\" range")
			continue
		}
		r, err := pool(pv.Str)
		switch {
		case err != nil:
			im.skip(pv, "pool "+pv.Str, "%v", err)
			continue
		case !d.s.Prefix.Contains(r.Start) || !d.s.Prefix.Contains(r.End):
			im.skip(pv, "pool "+pv.Str, "runs outside subnet %v", d.s.Prefix)
			continue
		}
		for _, o := range append(append([]lease.Range(nil), d.s.Ranges...), im.classRanges()...) {
			if o.Contains(r.Start) || o.Contains(r.End) || r.Contains(o.Start) {
				im.skip(pv, "pool "+pv.Str, "overlaps pool %v", o)
				err = fmt.Errorf("overlap")
				break
			}
		}
		if err != nil {
			continue
		}
		if cl := im.poolClass(pn); cl != nil {
			cl.Ranges = append(cl.Ranges, r) // only the class's members take these
		} else {
			d.s.Ranges = append(d.s.Ranges, r)
		}
		for i, k := range pn.Keys {
			switch k {
			case "pool", "comment", "user-context", "pool-id":
			case "client-class", "client-classes", "require-client-classes":
				if im.poolClass(pn) == nil {
					im.skip(pn.Vals[i], "pool "+pv.Str+" "+k, "a pool's class restriction is carried over for one carried-over class alone: every client may take its addresses")
				}
			case "option-data":
				for _, o := range im.optionData(pn.Vals[i]) {
					im.skip(o.n, "option-data in pool "+pv.Str, "an option set in a pool applies to that pool's addresses only; xdhcp sets options per subnet")
				}
			default:
				im.other(pn.Vals[i], k)
			}
		}
	}
}

// optionData reads an option-data list.
func (im *importer) optionData(n *Node) []opt {
	var out []opt
	for _, o := range n.Items {
		if v, ok := im.option(o); ok {
			out = append(out, v)
		}
	}
	return out
}

func (im *importer) option(o *Node) (opt, bool) {
	what := "option-data"
	var def *migrate.OptionDef
	if name := o.Get("name"); name != nil {
		what = "option " + name.Str
		if def = im.defs[name.Str]; def == nil {
			def = migrate.KeaOption(name.Str)
		}
	} else if code := o.Get("code"); code != nil {
		c, err := strconv.ParseUint(code.Num.String(), 10, 8)
		if err != nil {
			im.skip(code, what, "option code %s: want 1..254", code.Num)
			return opt{}, false
		}
		what = "option " + code.Num.String()
		def = migrate.OptionByCode(uint8(c))
		if def == nil {
			def = &migrate.OptionDef{Code: uint8(c), Name: what, Format: "X"}
		}
	}
	if sp := o.Get("space"); sp != nil && sp.Str != "dhcp4" {
		im.skip(o, what, "options of the %s space are not carried over", sp.Str)
		return opt{}, false
	}
	if def == nil {
		im.skip(o, what, "unknown option (neither standard nor in option-def)")
		return opt{}, false
	}
	if a := o.Get("always-send"); a != nil && a.Kind == 'b' && a.Bool {
		im.skip(a, what+" always-send", "xdhcp sends an option when the client asks for it (or sends no request list)")
	}
	data := ""
	if dn := o.Get("data"); dn != nil {
		data = dn.Str
	}
	var b []byte
	var err error
	if csv := o.Get("csv-format"); csv != nil && csv.Kind == 'b' && !csv.Bool {
		b, err = migrate.ParseHex(data)
	} else {
		b, err = def.Encode(csvValues(def, data))
	}
	if err != nil {
		im.skip(o, what, "%v", err)
		return opt{}, false
	}
	return opt{code: def.Code, v: b, n: o}, true
}

// csvValues splits Kea's comma-separated data (\, escapes a comma); a
// text option is one value.
func csvValues(def *migrate.OptionDef, data string) []migrate.Value {
	if def.Format == "t" {
		return []migrate.Value{{Text: strings.ReplaceAll(data, `\,`, ","), Quoted: true}}
	}
	var out []migrate.Value
	var cur strings.Builder
	flush := func() {
		out = append(out, migrate.Value{Text: strings.TrimSpace(cur.String())})
		cur.Reset()
	}
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\\' && i+1 < len(data) && data[i+1] == ',':
			cur.WriteByte(',')
			i++
		case data[i] == ',':
			flush()
		default:
			cur.WriteByte(data[i])
		}
	}
	flush()
	// A string or binary value given as text is quoted text, not hex.
	if def.Format == "X" && len(out) == 1 && !looksHex(out[0].Text) {
		out[0].Quoted = true
	}
	return out
}

func looksHex(s string) bool {
	_, err := migrate.ParseHex(s)
	return err == nil
}

// optionDefs reads option-def entries of the dhcp4 space.
func (im *importer) optionDefs(n *Node) {
	types := map[string]string{"ipv4-address": "I", "uint8": "B", "uint16": "S", "uint32": "L", "int8": "b", "int16": "s",
		"int32": "l", "string": "t", "binary": "X", "boolean": "f", "fqdn": "D"}
	for _, d := range n.Items {
		name, code, typ := d.Get("name"), d.Get("code"), d.Get("type")
		if name == nil || code == nil || typ == nil {
			im.skip(d, "option-def", "want name, code and type")
			continue
		}
		if sp := d.Get("space"); sp != nil && sp.Str != "dhcp4" {
			im.skip(d, "option-def "+name.Str, "options of the %s space are not carried over", sp.Str)
			continue
		}
		c, err := strconv.ParseUint(code.Num.String(), 10, 8)
		f := types[typ.Str]
		if a := d.Get("array"); a != nil && a.Bool && f != "" {
			if strings.ContainsAny(f, "tXD") {
				f = ""
			} else {
				f += "A"
			}
		}
		if err != nil || c == 0 || c == 255 || f == "" {
			im.skip(d, "option-def "+name.Str, "type %s (code %s) is not one the importer writes", typ.Str, code.Num)
			continue
		}
		im.defs[name.Str] = &migrate.OptionDef{Code: uint8(c), Name: name.Str, Format: f}
	}
}

// finish sets each subnet's options and timers from its levels.
func (im *importer) finish() {
	c := im.r.Config
	for _, d := range im.subnets {
		s := d.s
		eff := map[uint8]opt{}
		var chain []*level
		for lv := d.lv; lv != nil; lv = lv.parent {
			chain = append(chain, lv)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			for _, o := range chain[i].opts {
				eff[o.code] = o
			}
		}
		for code := range 256 {
			if o, ok := eff[uint8(code)]; ok {
				if why := migrate.SetOption(c, s, uint8(code), o.v); why != "" {
					im.skip(o.n, fmt.Sprintf("option %d", code), "%s", why)
				}
			}
		}
		im.timers(d, chain)
		for i := len(chain) - 1; i >= 0; i-- {
			s.Boot = s.Boot.Over(chain[i].boot)
		}
		if p := d.lv.parent; p != nil && p.sharedName != "" {
			s.SharedNetwork = p.sharedName
		}
		if s.Interface == "" {
			for _, lv := range chain {
				if lv.iface != "" {
					s.Interface = lv.iface
					break
				}
			}
		}
		if a := firstNode(chain, func(l *level) *Node { return l.authoritative }); a != nil && a.Kind == 'b' && a.Bool != c.Authoritative {
			im.skip(a, "authoritative", "xdhcp is authoritative for every subnet or none (globally %v here)", c.Authoritative)
		}
		if len(s.Ranges) == 0 && len(s.Reservations) == 0 && !im.classRangesIn(s.Prefix) {
			im.skip(d.n.Get("subnet"), "subnet "+s.Prefix.String(), "no pool and no reservation: nothing to hand out")
			continue
		}
		note := fmt.Sprintf("%v", d.n.Get("subnet").Pos)
		if d.id != "" {
			note = fmt.Sprintf("Kea subnet id %s, %s", d.id, note)
		}
		if d.lv.parent != nil && d.lv.parent.sharedName != "" {
			note += ", shared network " + d.lv.parent.sharedName
		}
		im.r.Comments[s] = note
		c.Subnets = append(c.Subnets, s)
	}
	im.r.SortSkipped()
}

func firstNode(chain []*level, get func(*level) *Node) *Node {
	for _, lv := range chain {
		if n := get(lv); n != nil {
			return n
		}
	}
	return nil
}

// timers sets the lease time and T1/T2 (given, or calculated from the
// percentages when calculate-tee-times is on).
func (im *importer) timers(d *subnetDecl, chain []*level) {
	c, s := im.r.Config, d.s
	if v := firstNode(chain, func(l *level) *Node { return l.valid }); v != nil {
		if lt, ok := im.seconds(v, "valid-lifetime"); ok && lt != c.LeaseTime {
			s.LeaseTime = lt
		}
	}
	lt, _, _ := c.Timers(s)
	for i, get := range []func(*level) *Node{func(l *level) *Node { return l.renew }, func(l *level) *Node { return l.rebind }} {
		v := firstNode(chain, get)
		if v == nil {
			continue
		}
		if t, ok := im.seconds(v, "renew-timer/rebind-timer"); ok {
			*[]*time.Duration{&s.T1, &s.T2}[i] = t
		}
	}
	calc := false
	pct := [2]float64{0.5, 0.875}
	for i := len(chain) - 1; i >= 0; i-- {
		if chain[i].calcTee != nil {
			calc = *chain[i].calcTee
		}
		for j := range pct {
			if chain[i].teePct[j] > 0 {
				pct[j] = chain[i].teePct[j]
			}
		}
	}
	if calc && s.T1 == 0 && s.T2 == 0 {
		s.T1 = time.Duration(float64(lt) * pct[0]).Truncate(time.Second)
		s.T2 = time.Duration(float64(lt) * pct[1]).Truncate(time.Second)
	}
	if (s.T1 > 0 && s.T1 >= lt) || (s.T2 > 0 && s.T2 >= lt) || (s.T1 > 0 && s.T2 > 0 && s.T1 >= s.T2) {
		im.skip(d.n, "renew-timer/rebind-timer", "T1 and T2 must satisfy 0 < T1 < T2 < lease time (%v) in subnet %v", lt, s.Prefix)
		s.T1, s.T2 = 0, 0
	}
	if s.T1 == lt/2 && s.T2 == lt*7/8 {
		s.T1, s.T2 = 0, 0 // xdhcp's defaults: say nothing
	}
}

// reservation reads a host reservation (in a subnet, or global when d is nil).
func (im *importer) reservation(n *Node, d *subnetDecl) {
	ipn := n.Get("ip-address")
	if ipn == nil {
		im.skip(n, "reservation", "without ip-address: only its options or classes, which are not carried over")
		return
	}
	ip, err := netip.ParseAddr(ipn.Str)
	if err != nil || !ip.Is4() {
		im.skip(ipn, "reservation "+ipn.Str, "not an IPv4 address")
		return
	}
	res := &config.Reservation{IP: ip}
	for i, k := range n.Keys {
		v := n.Vals[i]
		switch k {
		case "ip-address", "comment", "user-context":
		case "hw-address":
			mac, err := macOf(v.Str)
			if err != nil || len(mac) != 6 {
				im.skip(v, "hw-address "+v.Str, "not an Ethernet address")
				return
			}
			res.HWAddr = mac
		case "client-id":
			b, err := migrate.ParseHex(v.Str)
			if err != nil || len(b) == 0 {
				im.skip(v, "client-id "+v.Str, "not hex")
				return
			}
			res.ClientID = lease.ClientID(b)
		case "hostname":
			res.Hostname = v.Str
		case "circuit-id":
			id, err := keaID(v.Str)
			if err != nil {
				im.skip(v, "circuit-id "+v.Str, "%v", err)
				return
			}
			res.CircuitID = id
		case "next-server", "boot-file-name", "server-hostname":
			res.Boot = im.bootKeys(n)
		case "duid", "flex-id":
			im.skip(v, k, "reservations by %s are not carried over", k)
		case "option-data":
			im.skip(v, "reservation "+ip.String()+" option-data", "reservations carry no options of their own")
		default:
			im.other(v, k)
		}
	}
	if res.HWAddr == nil && res.ClientID == nil && res.CircuitID == nil {
		im.skip(n, "reservation "+ip.String(), "no hw-address, client-id or circuit-id to recognise the client by")
		return
	}
	if d == nil {
		for _, x := range im.subnets {
			if x.s.Prefix.Contains(ip) {
				d = x
			}
		}
	}
	if d == nil || !d.s.Prefix.Contains(ip) {
		im.skip(ipn, "reservation "+ip.String(), "the address is in no subnet")
		return
	}
	for _, x := range im.subnets {
		for _, o := range x.s.Reservations {
			same := o.IP == ip
			if x == d {
				same = same || (res.HWAddr != nil && o.HWAddr.String() == res.HWAddr.String()) || (res.ClientID != nil && o.ClientID.String() == res.ClientID.String()) ||
					(res.CircuitID != nil && string(o.CircuitID) == string(res.CircuitID))
			}
			if same {
				im.skip(n, "reservation "+ip.String(), "duplicates the reservation of %v for %v", o.IP, firstNonEmpty(o.HWAddr.String(), o.ClientID.String()))
				return
			}
		}
	}
	d.s.Reservations = append(d.s.Reservations, res)
	im.r.Comments[res] = fmt.Sprint(n.Pos)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// poolClass is the carried-over class a pool is restricted to (one class,
// by client-class or a one-element client-classes), or nil.
func (im *importer) poolClass(pn *Node) *config.Class {
	name := ""
	if v := pn.Get("client-class"); v != nil {
		name = v.Str
	}
	if v := pn.Get("client-classes"); v != nil {
		if len(v.Items) != 1 || name != "" {
			return nil
		}
		name = v.Items[0].Str
	}
	if name == "" || pn.Get("require-client-classes") != nil {
		return nil
	}
	return im.class(name)
}

func (im *importer) classRanges() []lease.Range {
	var out []lease.Range
	for _, cl := range im.r.Config.Classes {
		out = append(out, cl.Ranges...)
	}
	return out
}

func (im *importer) classRangesIn(p netip.Prefix) bool {
	for _, r := range im.classRanges() {
		if p.Contains(r.Start) {
			return true
		}
	}
	return false
}
