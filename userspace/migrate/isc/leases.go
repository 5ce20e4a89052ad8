package isc

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// record is one `lease ADDR { ... }` of dhcpd.leases.
type record struct {
	pos                migrate.Pos
	ip                 netip.Addr
	starts, ends, cltt time.Time
	hasStarts, hasEnds bool
	state              string
	htype              byte
	hw                 net.HardwareAddr
	uid                []byte
	hostname           string
	relay              []byte // option 82 payload from option agent.* statements
	dnsName            string // set ddns-fwd-name
	bad                string // why the record cannot be used
}

// hardware types dhcpd names (common/parse.c parse_hardware_param).
var htypes = map[string]byte{"ethernet": 1, "token-ring": 6, "fddi": 8, "infiniband": 32}

// ImportLeases reads dhcpd.leases into r.Leases with the file's journal
// semantics: records are appended as leases change, the last record of an
// address wins. now decides what has expired. A file cut short inside its
// last record (a crash while writing) loses that record only, reported.
func ImportLeases(file string, src []byte, now time.Time, r *migrate.Result) error {
	last := map[netip.Addr]*record{}
	var order []netip.Addr
	details := map[string]*aggregate{}
	// One record at a time: a large site's file never sits whole in memory.
	err := Each(file, src, func(s *Stmt) {
		switch k := s.Keyword(); k {
		case "lease":
			rec := readLease(s, now, details)
			if rec == nil {
				r.Skip(s.Pos(), s.Text(), "want lease IPv4-ADDRESS { ... }")
				return
			}
			if _, ok := last[rec.ip]; !ok {
				order = append(order, rec.ip)
			}
			last[rec.ip] = rec
		case "authoring-byte-order", "lease-id-format", "server-duid":
			// How the file is written, and the server's DHCPv6 identity
			// (written by every dhcpd): nothing a DHCPv4 client sees.
		case "failover":
			r.Skip(s.Pos(), s.Text(), "failover state is not carried over: the xdhcp pair starts its own")
		case "ia_na", "ia_ta", "ia_pd":
			r.Skip(s.Pos(), s.Text(), "DHCPv6 is not served by xdhcp")
		case "host":
			r.Skip(s.Pos(), s.Text(), "hosts created over OMAPI are not carried over: add them to the configuration")
		default:
			r.Skip(s.Pos(), s.Text(), "not carried over")
		}
	})
	var se *SyntaxError
	switch {
	case errors.As(err, &se) && se.AtEOF:
		r.Skip(se.Pos, "(end of file)", "the file ends inside this record (cut short while being written?): %s", se.Msg)
	case err != nil:
		return fmt.Errorf("lease file: %w", err)
	}
	for _, ip := range order {
		r.Read[last[ip].state]++
		if l, ok := toLease(last[ip], now, r); ok {
			r.Leases = append(r.Leases, l)
		}
	}
	for _, a := range details {
		r.Skip(a.first, a.what, "%s (%d lease records)", a.why, a.n)
	}
	r.Kept = len(r.Leases)
	r.SortSkipped()
	return nil
}

// aggregate counts a per-lease statement not carried over, reported once.
type aggregate struct {
	first migrate.Pos
	what  string
	why   string
	n     int
}

var leaseDetails = map[string]string{
	"set":           "lease variables (other than ddns-fwd-name) are not carried over",
	"on":            "per-lease event hooks are not carried over",
	"option":        "options stored with the lease (other than the relay agent's) are not carried over",
	"billing":       "billing classes are not carried over",
	"tstp":          "failover times are not carried over: the pair learns them again",
	"tsfp":          "failover times are not carried over: the pair learns them again",
	"atsfp":         "failover times are not carried over: the pair learns them again",
	"ddns-rev-name": "lease variables (other than ddns-fwd-name) are not carried over",
}

// aggregateDetail counts a lease statement not carried over, reported
// once with the first place it was seen.
func aggregateDetail(details map[string]*aggregate, b *Stmt, k string) {
	why, ok := leaseDetails[k]
	if !ok {
		why = "not carried over"
	}
	agg := details[k]
	if agg == nil {
		agg = &aggregate{first: b.Pos(), what: b.Text(), why: why}
		details[k] = agg
	}
	agg.n++
}

// agentOption reads `option agent.NAME VALUE` (a string or hex) as a relay
// agent sub-option.
func agentOption(v []migrate.Value) (byte, []byte, bool) {
	if len(v) != 2 {
		return 0, nil, false
	}
	sub := map[string]byte{"agent.circuit-id": 1, "agent.remote-id": 2, "agent.link-selection": 5, "agent.subscriber-id": 6}[strings.ToLower(v[0].Text)]
	val := []byte(v[1].Text)
	if !v[1].Quoted {
		var err error
		if val, err = migrate.ParseHex(v[1].Text); err != nil {
			return 0, nil, false
		}
	}
	return sub, val, sub != 0 && len(val) > 0 && len(val) < 256
}

func readLease(s *Stmt, now time.Time, details map[string]*aggregate) *record {
	a := args(s, 1)
	if len(a) != 1 || !s.HasBlock {
		return nil
	}
	ip, err := addr(a[0])
	if err != nil {
		return nil
	}
	rec := &record{pos: s.Pos(), ip: ip}
	explicit := false
	for _, b := range s.Block {
		k := b.Keyword()
		v := args(b, 1)
		switch k {
		case "starts", "ends", "cltt":
			t, err := date(v)
			if err != nil {
				rec.bad = fmt.Sprintf("%v: %s: %v", b.Pos(), k, err)
				continue
			}
			switch k {
			case "starts":
				rec.starts, rec.hasStarts = t, true
			case "ends":
				rec.ends, rec.hasEnds = t, true
			default:
				rec.cltt = t
			}
		case "binding":
			if len(v) == 2 && v[0].Text == "state" {
				rec.state, explicit = strings.ToLower(v[1].Text), true
				if rec.state == "bootp" || rec.state == "reserved" {
					rec.state = "active" // older dhcpd's names for flagged active leases
				}
			}
		case "next", "rewind":
			// Where the lease goes when it ends: the end time decides here.
		case "abandoned":
			rec.state, explicit = "abandoned", true
		case "bootp", "reserved", "dynamic-bootp":
			if !explicit {
				rec.state, explicit = "active", true
			}
		case "hardware":
			if len(v) == 2 && htypes[strings.ToLower(v[0].Text)] != 0 {
				if mac, err := migrate.ParseHex(v[1].Text); err == nil && len(mac) > 0 && len(mac) <= 16 {
					rec.htype, rec.hw = htypes[strings.ToLower(v[0].Text)], mac
					continue
				}
			}
			rec.bad = fmt.Sprintf("%v: hardware: want TYPE XX:XX:...", b.Pos())
		case "uid":
			if len(v) == 1 {
				if v[0].Quoted {
					rec.uid = []byte(v[0].Text)
				} else if u, err := migrate.ParseHex(v[0].Text); err == nil {
					rec.uid = u
				}
			}
		case "option":
			if sub, val, ok := agentOption(v); ok {
				rec.relay = append(append(rec.relay, sub, byte(len(val))), val...)
				continue
			}
			aggregateDetail(details, b, k)
		case "set", "ddns-fwd-name":
			// set ddns-fwd-name = "name"; (older files: ddns-fwd-name "name";)
			if (k == "set" && len(v) == 3 && v[0].Text == "ddns-fwd-name" && v[1].Text == "=" && v[2].Quoted) ||
				(k == "ddns-fwd-name" && len(v) == 1 && v[0].Quoted) {
				rec.dnsName = v[len(v)-1].Text
				continue
			}
			aggregateDetail(details, b, k)
		case "client-hostname":
			if len(v) == 1 {
				rec.hostname = v[0].Text
			}
		default:
			aggregateDetail(details, b, k)
		}
	}
	if !explicit {
		rec.state = "free" // dhcpd's rule without a binding state: active while ends is ahead
		if !rec.hasEnds || rec.ends.After(now) {
			rec.state = "active"
		}
	}
	return rec
}

// toLease maps a record's binding state onto the store's states.
func toLease(rec *record, now time.Time, r *migrate.Result) (lease.Lease, bool) {
	skip := func(why string, a ...any) (lease.Lease, bool) {
		r.Skip(rec.pos, "lease "+rec.ip.String(), why, a...)
		return lease.Lease{}, false
	}
	if rec.bad != "" {
		return skip("%s", rec.bad)
	}
	if why := r.Unservable(rec.ip); why != "" {
		if rec.state != "active" {
			return lease.Lease{}, false // a free address there is one xdhcp never hands out anyway
		}
		return skip("active lease %s", why)
	}
	l := migrate.NewLease(rec.ip, rec.uid, rec.htype, rec.hw, rec.hostname)
	l.RelayInfo, l.DNSName = rec.relay, rec.dnsName
	start := rec.starts
	if !rec.hasStarts || rec.cltt.After(start) {
		start = rec.cltt
	}
	end := rec.ends
	if !rec.hasEnds {
		end = migrate.Never
	}
	switch rec.state {
	case "active":
		if len(l.Client) == 0 {
			return skip("an active lease without hardware or uid names no client")
		}
		l.State, l.Start, l.Expiry = lease.Bound, orNow(start, now), end
	case "expired":
		// Ended, not yet free: an expired binding, remembered for its client.
		if len(l.Client) == 0 {
			return lease.Lease{}, false
		}
		l.State, l.Start, l.Expiry = lease.Bound, orNow(start, now), earlier(end, now)
	case "released", "free", "backup", "reset":
		// Free: worth a record only to give the client its address back.
		if len(l.Client) == 0 {
			return lease.Lease{}, false
		}
		at := earlier(end, now)
		l.State, l.Start, l.Expiry = lease.Released, at, at
	case "abandoned":
		l.Client = nil
		l.State, l.Start, l.Expiry = lease.Declined, orNow(start, now), end
	default:
		return skip("unknown binding state %q", rec.state)
	}
	return l, true
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

func earlier(t, now time.Time) time.Time {
	if t.IsZero() || t.After(now) {
		return now
	}
	return t
}

// date reads a lease time: "W YYYY/MM/DD HH:MM:SS [TZOFF]" (UTC), "epoch N" or "never".
func date(v []migrate.Value) (time.Time, error) {
	switch {
	case len(v) == 1 && v[0].Text == "never":
		return migrate.Never, nil
	case len(v) == 2 && v[0].Text == "epoch":
		n, err := strconv.ParseInt(v[1].Text, 10, 64)
		if err != nil || n < 0 || n >= 1<<32 {
			return time.Time{}, fmt.Errorf("%q is not seconds since the epoch", v[1].Text)
		}
		return time.Unix(n, 0).UTC(), nil
	case len(v) == 3 || len(v) == 4:
		t, err := time.Parse("2006/1/2 15:4:5", v[1].Text+" "+v[2].Text)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a date like 4 2024/01/31 12:00:00", v[1].Text+" "+v[2].Text)
		}
		if len(v) == 4 {
			off, err := strconv.Atoi(v[3].Text)
			if err != nil {
				return time.Time{}, fmt.Errorf("time zone offset %q", v[3].Text)
			}
			t = t.Add(time.Duration(off) * time.Second)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want a date like 4 2024/01/31 12:00:00, epoch N or never")
}
