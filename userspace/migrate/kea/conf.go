package kea

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// DefaultValidLifetime is Kea's valid-lifetime when the file sets none.
const DefaultValidLifetime = 2 * time.Hour

// level is one scope of Kea's inheritance: global, shared network, subnet.
type level struct {
	parent        *level
	opts          []opt
	valid         *Node
	renew         *Node
	rebind        *Node
	teePct        [2]float64 // calculate-tee-times percentages, 0: not set here
	calcTee       *bool
	iface         string
	sharedName    string
	boot          config.Boot
	authoritative *Node
}

type opt struct {
	code uint8
	v    []byte
	n    *Node
}

type importer struct {
	r       *migrate.Result
	defs    map[string]*migrate.OptionDef // option-def by name
	subnets []*subnetDecl
	global  *level
	ids     map[string]*Node // subnet ids seen
}

type subnetDecl struct {
	s  *config.Subnet
	lv *level
	n  *Node
	id string
}

// ImportConf reads kea-dhcp4.conf into r.
func ImportConf(file string, src []byte, r *migrate.Result) error {
	root, err := ParseJSON(file, src)
	if err != nil {
		return err
	}
	if root.Kind != '{' {
		return fmt.Errorf("%v: want an object with a Dhcp4 member", root.Pos)
	}
	im := &importer{r: r, defs: map[string]*migrate.OptionDef{}, global: &level{}, ids: map[string]*Node{}}
	var d4 *Node
	for i, k := range root.Keys {
		if k == "Dhcp4" {
			d4 = root.Vals[i]
			continue
		}
		im.skip(root.Vals[i], k, "only the Dhcp4 configuration is carried over")
	}
	if d4 == nil || d4.Kind != '{' {
		return fmt.Errorf("%v: no Dhcp4 object", root.Pos)
	}
	r.Config.LeaseTime = DefaultValidLifetime
	r.Config.Authoritative = false // Kea's default
	im.dhcp4(d4)
	im.finish()
	return nil
}

func (im *importer) skip(n *Node, what, why string, a ...any) {
	im.r.Skip(n.Pos, what, why, a...)
}

// Keys with nothing to carry over, and why.
var keaSkips = map[string]string{
	"option-def":                "",
	"dhcp-ddns":                 "DNS updates are not carried over",
	"control-socket":            "xdhcp's control socket is set with serve --control",
	"loggers":                   "xdhcp logs to stderr (serve --log-format, --log-level)",
	"expired-leases-processing": "xdhcp frees expired leases as it goes",
	"sanity-checks":             "xdhcp checks leases on import",
	"multi-threading":           "server housekeeping with no xdhcp setting",
	"min-valid-lifetime":        "xdhcp gives valid-lifetime whatever lease time a client asks for",
	"max-valid-lifetime":        "xdhcp gives valid-lifetime whatever lease time a client asks for",
	"client-class":              "client classes are not carried over",
	"client-classes":            "client classes are not carried over",
	"require-client-classes":    "client classes are not carried over",
	"echo-client-id":            "not carried over",
	"relay":                     "xdhcp picks a relayed client's subnet by the relay address it contains",
	"4o6-interface":             "DHCPv4-over-DHCPv6 is not served", "4o6-interface-id": "DHCPv4-over-DHCPv6 is not served",
	"4o6-subnet": "DHCPv4-over-DHCPv6 is not served", "dhcp4o6-port": "DHCPv4-over-DHCPv6 is not served",
	"store-extended-info": "not carried over",
}

// Keys that change nothing a client sees, or that xdhcp already does.
var keaSame = map[string]bool{
	"lease-database": true, "comment": true, "user-context": true, "server-tag": true,
	"host-reservation-identifiers": true, "reservation-mode": true, "reservations-global": true,
	"reservations-in-subnet": true, "reservations-out-of-pool": true, "statistic-default-sample-count": true,
	"statistic-default-sample-age": true, "decline-probation-period": true, "match-client-id": true,
	"id": true, "subnet": true, "pools": true, "option-data": true, "reservations": true, "valid-lifetime": true,
	"renew-timer": true, "rebind-timer": true, "calculate-tee-times": true, "t1-percent": true, "t2-percent": true,
	"interface": true, "authoritative": true, "subnet4": true, "shared-networks": true, "interfaces-config": true,
	"hooks-libraries": true, "name": true, "ddns-send-updates": true, "hostname-char-set": true,
	"hostname-char-replacement": true, "ip-reservations-unique": true, "next-server": true, "boot-file-name": true,
	"server-hostname": true, "client-classes": true,
}

func (im *importer) dhcp4(d *Node) {
	c := im.r.Config
	var global *Node
	if n := d.Get("option-def"); n != nil {
		im.optionDefs(n)
	}
	if n := d.Get("client-classes"); n != nil {
		im.classes(n) // before the pools that name them
	}
	im.levelKeys(d, im.global)
	for i, k := range d.Keys {
		n := d.Vals[i]
		switch k {
		case "decline-probation-period":
			if v, ok := im.seconds(n, k); ok {
				c.DeclineProbation = v
			}
		case "interfaces-config":
			im.interfaces(n)
		case "hooks-libraries":
			im.hooks(n)
		case "reservations":
			global = n // once every subnet is known
		case "match-client-id":
			if n.Kind == 'b' && !n.Bool {
				im.skip(n, k, "xdhcp identifies a client by its option 61 when it sends one")
			}
		case "ddns-send-updates":
			if n.Kind == 'b' && n.Bool {
				im.skip(n, k, "DNS updates are not carried over")
			}
		case "subnet4":
			for _, s := range n.Items {
				im.subnet(s, im.global)
			}
		case "shared-networks":
			for _, sn := range n.Items {
				im.shared(sn)
			}
		default:
			im.other(n, k)
		}
	}
	if global != nil {
		for _, res := range global.Items {
			im.reservation(res, nil)
		}
	}
	if p := im.global.authoritative; p != nil && p.Kind == 'b' {
		c.Authoritative = p.Bool
	}
	if v := im.global.valid; v != nil {
		if d, ok := im.seconds(v, "valid-lifetime"); ok {
			c.LeaseTime = d
		}
	}
}

// other reports a key no case handled.
func (im *importer) other(n *Node, k string) {
	if keaSame[k] {
		return
	}
	why, ok := keaSkips[k]
	if !ok {
		why = "no xdhcp equivalent"
	}
	if why != "" {
		im.skip(n, k, "%s", why)
	}
}

// levelKeys reads the settings every scope may have.
func (im *importer) levelKeys(n *Node, lv *level) {
	lv.valid, lv.renew, lv.rebind, lv.authoritative = n.Get("valid-lifetime"), n.Get("renew-timer"), n.Get("rebind-timer"), n.Get("authoritative")
	if v := n.Get("calculate-tee-times"); v != nil && v.Kind == 'b' {
		b := v.Bool
		lv.calcTee = &b
	}
	for i, k := range []string{"t1-percent", "t2-percent"} {
		if v := n.Get(k); v != nil {
			f, err := v.Num.Float64()
			if v.Kind != '0' || err != nil || f <= 0 || f >= 1 {
				im.skip(v, k, "want a fraction between 0 and 1")
				continue
			}
			lv.teePct[i] = f
		}
	}
	if v := n.Get("interface"); v != nil && v.Kind == '"' {
		lv.iface = v.Str
	}
	if v := n.Get("option-data"); v != nil {
		lv.opts = im.optionData(v)
	}
	lv.boot = im.bootKeys(n)
}

func (im *importer) shared(n *Node) {
	name, at := "", n
	if v := n.Get("name"); v != nil {
		name, at = v.Str, v
	}
	lv := &level{parent: im.global, sharedName: name}
	im.levelKeys(n, lv)
	if name == "" {
		im.skip(at, "shared network", "without a name: its subnets are carried over as separate links")
	}
	first := len(im.subnets)
	for i, k := range n.Keys {
		switch k {
		case "subnet4":
			for _, s := range n.Vals[i].Items {
				im.subnet(s, lv)
			}
		case "relay":
		default:
			im.other(n.Vals[i], k)
		}
	}
	if r := n.Get("relay"); r != nil {
		var in []netip.Prefix
		for _, d := range im.subnets[first:] {
			in = append(in, d.s.Prefix)
		}
		im.relay(in, r)
	}
}

// seconds reads a whole number of seconds.
func (im *importer) seconds(n *Node, k string) (time.Duration, bool) {
	v, err := strconv.ParseUint(n.Num.String(), 10, 32)
	if n.Kind != '0' || err != nil || v == 0 {
		im.skip(n, k, "want a positive whole number of seconds")
		return 0, false
	}
	return time.Duration(v) * time.Second, true
}

func (im *importer) interfaces(n *Node) {
	list := n.Get("interfaces")
	if list == nil {
		return
	}
	for _, v := range list.Items {
		name, _, _ := strings.Cut(v.Str, "/")
		if v.Kind != '"' || name == "*" || name == "" {
			im.skip(v, "interfaces", "give xdhcp the interfaces by name (serve --iface)")
			continue
		}
		im.r.Config.Interfaces = append(im.r.Config.Interfaces, name)
	}
}

// pool reads "A - B" or "A/len".
func pool(s string) (lease.Range, error) {
	if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil && p.Addr().Is4() {
		p = p.Masked()
		last := p.Addr().As4()
		host := uint32(1)<<(32-p.Bits()) - 1
		v := uint32(last[0])<<24 | uint32(last[1])<<16 | uint32(last[2])<<8 | uint32(last[3]) | host
		return lease.Range{Start: p.Addr(), End: netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})}, nil
	}
	return lease.ParseRange(s)
}

func macOf(s string) (net.HardwareAddr, error) {
	b, err := migrate.ParseHex(s)
	if err != nil || len(b) == 0 || len(b) > 16 {
		return nil, fmt.Errorf("%q is not a hardware address", s)
	}
	return b, nil
}
