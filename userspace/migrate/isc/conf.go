package isc

import (
	"fmt"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// DefaultLeaseTime is dhcpd's default-lease-time when the file sets none
// (43200 s): the import keeps it, clients see no change.
const DefaultLeaseTime = 12 * time.Hour

// scope is one level of dhcpd's parameter inheritance: global, group,
// shared-network, subnet, pool, host.
type scope struct {
	parent     *scope
	kind, name string
	pos        migrate.Pos
	opts       []optStmt // in file order: a later one wins
	leaseTime  *param[time.Duration]
	authority  *param[bool]
	hostNames  *param[bool] // use-host-decl-names
	boot       bootParams
	ping       *param[bool]
	pingWait   *param[time.Duration]
	bootp      *param[bool] // allow or deny bootp
	// members is the class a pool's `allow members of "x";` names; other
	// are its permits xdhcp cannot express.
	members []*Stmt
	other   []*Stmt
}

type param[T any] struct {
	v    T
	stmt *Stmt
}

type optStmt struct {
	code uint8
	v    []byte
	stmt *Stmt
}

// lookup walks up the scopes for the first one that sets a parameter.
func lookup[T any](sc *scope, get func(*scope) *param[T]) *param[T] {
	for ; sc != nil; sc = sc.parent {
		if p := get(sc); p != nil {
			return p
		}
	}
	return nil
}

// effective is the options that apply in sc: outer scopes first, inner
// ones overriding.
func (sc *scope) effective() map[uint8]optStmt {
	var chain []*scope
	for s := sc; s != nil; s = s.parent {
		chain = append(chain, s)
	}
	out := map[uint8]optStmt{}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, o := range chain[i].opts {
			out[o.code] = o
		}
	}
	return out
}

type subnetDecl struct {
	s     *config.Subnet
	sc    *scope
	stmt  *Stmt
	pools []*scope
}

type rangeDecl struct {
	r     lease.Range
	sc    *scope // the subnet or pool it is declared in
	stmt  *Stmt
	bootp bool // range dynamic-bootp
}

// importer turns the statement tree into r.
type importer struct {
	r       *migrate.Result
	global  *scope
	defs    map[string]*migrate.OptionDef // option NAME code N = TYPE
	badDefs map[string]string             // definitions not carried over, and why
	subnets []*subnetDecl
	ranges  []rangeDecl
	hosts   []*hostDecl
	classes []*classDecl
	peer    *peerDecl
	peers   map[string]bool
}

// ImportConf reads dhcpd.conf (and what it includes) into r: subnets,
// ranges, options, reservations, the failover peer; everything else is
// listed in r.Skipped. A file dhcpd itself would refuse is an error.
func ImportConf(file string, src []byte, read ReadFile, r *migrate.Result) error {
	stmts, err := Parse(file, src, read)
	if err != nil {
		return err
	}
	im := &importer{r: r, defs: map[string]*migrate.OptionDef{}, badDefs: map[string]string{}, peers: map[string]bool{}}
	im.global = &scope{kind: "global", pos: migrate.Pos{File: file, Line: 1}}
	r.Config.LeaseTime = DefaultLeaseTime
	r.Config.Authoritative = false // dhcpd's default; "authoritative;" turns it on
	im.walk(stmts, im.global)
	return im.finish()
}

func (im *importer) skip(s *Stmt, why string, a ...any) {
	im.r.Skip(s.Pos(), s.Text(), why, a...)
}

// skipAll reports a statement and, for a block, says how much it held.
func (im *importer) skipAll(s *Stmt, why string, a ...any) {
	why = fmt.Sprintf(why, a...)
	n := count(s.Block)
	for e := s.Else; e != nil; e = e.Else {
		n += count(e.Block)
	}
	if n > 0 {
		why += fmt.Sprintf(" (%d statements inside not carried over)", n)
	}
	im.skip(s, "%s", why)
}

func count(ss []*Stmt) int {
	n := len(ss)
	for _, s := range ss {
		n += count(s.Block)
	}
	return n
}

// Statements with no xdhcp counterpart, by keyword, and why.
var notCarried = map[string]string{
	"subclass":     "subclasses are not carried over",
	"vendor-class": "client classes are not carried over", "user-class": "client classes are not carried over",
	"if":  "conditional statements are not evaluated",
	"on":  "event hooks (on commit, release, expiry) are not carried over",
	"set": "variables are not carried over", "unset": "variables are not carried over",
	"log": "log statements are not carried over", "execute": "execute statements are not carried over",
	"key": "DDNS keys are not carried over", "zone": "DDNS zones are not carried over",
	"subnet6": "DHCPv6 is not served by xdhcp", "range6": "DHCPv6 is not served by xdhcp",
	"prefix6": "DHCPv6 is not served by xdhcp", "pool6": "DHCPv6 is not served by xdhcp",
	"fixed-address6": "DHCPv6 is not served by xdhcp", "fixed-prefix6": "DHCPv6 is not served by xdhcp",
	"max-lease-time": "xdhcp gives lease-time whatever lease time a client asks for",
	"min-lease-time": "xdhcp gives lease-time whatever lease time a client asks for",
	"default":        "default (option if the client did not ask) is not carried over",
	"prepend":        "prepend is not carried over", "append": "append is not carried over",
	"dynamic-bootp-lease-cutoff": "use bootp-lease-time",
	"one-lease-per-client":       "not carried over", "get-lease-hostnames": "xdhcp does not look names up",
	"use-lease-addr-for-default-route": "not carried over", "min-secs": "xdhcp answers whatever the secs field says (the pair's threshold aside)",
	"always-broadcast": "xdhcp follows the client's broadcast flag", "always-reply-rfc1048": "not carried over",
	"stash-agent-options": "not carried over", "ignore-client-uids": "xdhcp identifies clients by option 61 when they send it",
	"echo-client-id": "not carried over", "infinite-is-reserved": "not carried over", "abandon-lease-time": "use decline-probation",
	"dhcp-cache-threshold": "not carried over", "adaptive-lease-time-threshold": "not carried over",
	"ping-cltt-secs": "xdhcp pings only addresses never leased before", "release-on-roam": "not carried over",
	"server-id-check":       "xdhcp always checks the server identifier of a SELECTING request",
	"check-secs-byte-order": "give --swap-secs to xdhcp serve",
	"vendor-option-space":   "vendor option spaces are not carried over",
	"site-option-space":     "site option spaces are not carried over",
	"limit-addrs-per-ia":    "DHCPv6 is not served by xdhcp", "limit-prefs-per-ia": "DHCPv6 is not served by xdhcp",
	"preferred-lifetime": "DHCPv6 is not served by xdhcp", "dhcpv6-lease-file-name": "DHCPv6 is not served by xdhcp",
	"dhcpv6-pid-file-name": "DHCPv6 is not served by xdhcp", "local-address6": "DHCPv6 is not served by xdhcp",
	"server-duid": "DHCPv6 is not served by xdhcp", "prefix-length-mode": "DHCPv6 is not served by xdhcp",
}

// Server housekeeping: no effect a client could see, no xdhcp setting.
var housekeeping = []string{
	"log-facility", "lease-file-name", "pid-file-name", "omapi-port", "omapi-key", "db-time-format",
	"local-port", "remote-port", "local-address", "limited-broadcast-address", "update-static-leases",
	"update-optimization", "update-conflict-detection", "do-forward-updates", "do-reverse-updates",
	"ddns-domainname", "ddns-rev-domainname", "ddns-hostname", "ddns-ttl", "ddns-local-address4",
	"ddns-local-address6", "ddns-dual-stack-mixed-mode", "ddns-guard-id-must-match", "ddns-other-guard-is-dynamic",
	"fqdn-reply", "client-updates", "authoring-byte-order", "lease-id-format", "dont-use-fsync",
	"log-threshold-low", "log-threshold-high", "delayed-ack", "max-ack-delay", "bind-local-address6",
	"persist-eui-64-leases", "use-eui-64", "leasequery",
}

// walk handles the statements of one scope.
func (im *importer) walk(stmts []*Stmt, sc *scope) {
	for _, s := range stmts {
		im.stmt(s, sc)
	}
}

func (im *importer) stmt(s *Stmt, sc *scope) {
	k := s.Keyword()
	if why, ok := notCarried[k]; ok {
		im.skipAll(s, why)
		return
	}
	for _, h := range housekeeping {
		if k == h {
			im.skip(s, "server housekeeping with no xdhcp setting")
			return
		}
	}
	switch k {
	case "subnet":
		im.subnet(s, sc)
	case "shared-network":
		im.container(s, sc, "shared-network")
	case "group":
		im.container(s, sc, "group")
	case "pool":
		im.pool(s, sc)
	case "range":
		im.rangeStmt(s, sc)
	case "host":
		im.host(s, sc)
	case "failover":
		im.failover(s, sc)
	case "option", "supersede", "server-identifier":
		im.option(s, sc)
	case "default-lease-time":
		im.leaseTime(s, sc)
	case "authoritative":
		im.authoritative(s, sc, true)
	case "not":
		if len(s.Words) == 2 && s.Words[1].is("authoritative") {
			im.authoritative(s, sc, false)
			return
		}
		im.skip(s, "not carried over")
	case "use-host-decl-names", "ping-check", "ddns-updates":
		im.boolParam(s, sc, k)
	case "next-server", "filename", "server-name":
		im.bootStmt(s, sc)
	case "ping-timeout", "ping-timeout-ms", "dynamic-bootp-lease-length":
		im.durParam(s, sc)
	case "class":
		im.class(s, sc)
	case "ddns-update-style":
		if len(s.Words) == 2 && s.Words[1].is("none") {
			return // xdhcp updates no DNS: the same
		}
		im.skip(s, "DNS updates are not carried over")
	case "allow", "deny", "ignore":
		im.permit(s, sc)
	case "hardware", "fixed-address", "uid", "host-identifier":
		im.skip(s, "only meaningful in a host declaration")
	default:
		im.skipAll(s, "no xdhcp equivalent")
	}
}

// container is a group or shared-network: a scope around its statements.
func (im *importer) container(s *Stmt, sc *scope, kind string) {
	if !s.HasBlock {
		im.skip(s, "%s without a { } body", kind)
		return
	}
	if sc.kind == "host" || sc.kind == "pool" || (kind == "shared-network" && (sc.kind == "shared-network" || sc.kind == "subnet")) {
		im.skipAll(s, kind+" not allowed here")
		return
	}
	name := ""
	if len(s.Words) > 1 {
		name = s.Words[1].Text
	}
	im.walk(s.Block, &scope{parent: sc, kind: kind, name: name, pos: s.Pos()})
}

func (im *importer) leaseTime(s *Stmt, sc *scope) {
	a := args(s, 1)
	if len(a) != 1 {
		im.skip(s, "want one number of seconds")
		return
	}
	d, err := seconds(a[0])
	if err != nil || d <= 0 {
		im.skip(s, "want a positive number of seconds (infinite leases are not supported)")
		return
	}
	sc.leaseTime = &param[time.Duration]{d, s}
}

func (im *importer) authoritative(s *Stmt, sc *scope, on bool) {
	if len(s.Words) != map[bool]int{true: 1, false: 2}[on] {
		im.skip(s, "unexpected words")
		return
	}
	sc.authority = &param[bool]{on, s}
}

func (im *importer) boolParam(s *Stmt, sc *scope, k string) {
	a := args(s, 1)
	v := true
	if len(a) == 1 {
		var err error
		if v, err = flag(a[0]); err != nil {
			im.skip(s, "%v", err)
			return
		}
	} else if len(a) > 1 {
		im.skip(s, "want one flag")
		return
	}
	switch {
	case k == "use-host-decl-names":
		sc.hostNames = &param[bool]{v, s}
	case k == "ping-check":
		sc.ping = &param[bool]{v, s}
	case k == "ddns-updates" && v:
		im.skip(s, "DNS updates are not carried over")
	}
}

// permit handles allow/deny/ignore: the defaults xdhcp already behaves
// like are carried over, the rest listed.
func (im *importer) permit(s *Stmt, sc *scope) {
	what := strings.ToLower(strings.Join(wordsText(s.Words[1:]), " "))
	allow := s.Keyword() == "allow"
	same := map[string]bool{
		"unknown-clients": allow, "unknown clients": allow, "booting": allow, "duplicates": allow,
		"declines": allow, "bootp": !allow, "client-updates": true, "leasequery": !allow,
		"dynamic bootp clients": !allow && sc.kind == "pool",
	}
	switch {
	case what == "bootp":
		sc.bootp = &param[bool]{allow, s}
		return
	case same[what]:
		return
	case sc.kind == "pool" && allow && strings.HasPrefix(what, "members of "):
		sc.members = append(sc.members, s) // a class's own range, if the class is carried over
		return
	case sc.kind == "pool":
		sc.other = append(sc.other, s)
	}
	if sc.kind == "pool" {
		im.skip(s, "pool access lists are not carried over: every client may take any address of the subnet")
		return
	}
	im.skip(s, "xdhcp has no such switch")
}

func wordsText(ws []Token) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Text
	}
	return out
}
