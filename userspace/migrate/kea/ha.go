package kea

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// hooks reads hooks-libraries: the HA hook becomes the pair's flags.
func (im *importer) hooks(n *Node) {
	for _, h := range n.Items {
		lib := h.Get("library")
		if lib == nil {
			continue
		}
		base := lib.Str[strings.LastIndexByte(lib.Str, '/')+1:]
		switch {
		case strings.HasPrefix(base, "libdhcp_ha"):
			im.ha(h)
		case strings.HasPrefix(base, "libdhcp_lease_cmds"):
			im.skip(lib, base, "xdhcp's lease commands are its own control API (xdhcp leases)")
		default:
			im.skip(lib, base, "hook libraries are not carried over")
		}
	}
}

// ha turns the high-availability relationship into serve flags: Kea's
// load balancing gives even buckets to the primary (ISC hba 55 x32) and
// never answers the partner's clients early in normal state; hot standby
// gives every bucket to the primary.
func (im *importer) ha(h *Node) {
	list := h.Get("parameters").Get("high-availability")
	if list == nil || len(list.Items) == 0 {
		im.skip(h, "libdhcp_ha", "no high-availability relationship")
		return
	}
	for _, extra := range list.Items[1:] {
		im.skip(extra, "high-availability", "xdhcp serves one pair: only the first relationship is carried over")
	}
	cfg := list.Items[0]
	me := cfg.Get("this-server-name")
	mode := "load-balancing"
	if m := cfg.Get("mode"); m != nil {
		mode = m.Str
	}
	p := &migrate.Pair{Name: "high-availability", Source: cfg.Pos, Split: -1, ReceiveTimeout: 60 * time.Second}
	switch mode {
	case "load-balancing":
		p.HBA = decide.KeaHBA()
	case "hot-standby":
		p.Split, p.HBA = 256, decide.MustSplit(256)
	default:
		im.skip(cfg, "mode "+mode, "only load-balancing and hot-standby pairs are carried over")
		return
	}
	// Kea answers the partner's clients only once the partner is down.
	p.Threshold = 65535
	var mine, peer *Node
	if peers := cfg.Get("peers"); peers != nil {
		for _, pn := range peers.Items {
			name, role := pn.Get("name"), pn.Get("role")
			if name == nil || role == nil {
				continue
			}
			switch {
			case me != nil && name.Str == me.Str:
				mine = pn
			case role.Str == "backup":
				im.skip(pn, "peer "+name.Str, "backup servers are not carried over: xdhcp pairs two servers")
			case peer == nil:
				peer = pn
			}
		}
	}
	if mine == nil || peer == nil {
		im.skip(cfg, "high-availability", "this-server-name and its partner not found among the peers")
		return
	}
	switch mine.Get("role").Str {
	case "primary":
		p.Role = decide.Primary
	case "secondary", "standby":
		p.Role = decide.Secondary
	default:
		im.skip(mine, "role "+mine.Get("role").Str, "this server is not part of the pair")
		return
	}
	p.Listen = hostPort(mine.Get("url"))
	p.Peer = hostPort(peer.Get("url"))
	if d := cfg.Get("max-response-delay"); d != nil {
		if ms, err := strconv.ParseUint(d.Num.String(), 10, 32); err == nil && ms > 0 {
			p.ReceiveTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	for i, k := range cfg.Keys {
		switch k {
		case "this-server-name", "mode", "peers", "max-response-delay":
		case "heartbeat-delay":
			p.Notes = append(p.Notes, "heartbeat-delay: xdhcp's partner sends its contact messages at a third of --receive-timeout")
		case "max-ack-delay", "max-unacked-clients":
			im.skip(cfg.Vals[i], k, "xdhcp decides the partner is down by --receive-timeout or --auto-partner-down, not by unanswered clients")
		default:
			im.skip(cfg.Vals[i], k, "no xdhcp setting")
		}
	}
	p.Notes = append(p.Notes, "both servers of the pair must run xdhcp (its failover protocol is not Kea's HA API), with one shared secret",
		"the flags give the failover port "+strconv.Itoa(failoverPort)+" on the addresses of the peers' URLs")
	im.r.Pair = p
}

const failoverPort = 647

func hostPort(u *Node) string {
	if u == nil {
		return ""
	}
	x, err := url.Parse(u.Str)
	if err != nil || x.Hostname() == "" {
		return ""
	}
	return net.JoinHostPort(x.Hostname(), strconv.Itoa(failoverPort))
}
