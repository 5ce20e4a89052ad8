package kea

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// Columns are the memfile CSV's columns as Kea 2.x writes them (schema
// 2.1; Kea 2.6 adds pool_id, which is read when present).
var Columns = []string{"address", "hwaddr", "client_id", "valid_lifetime", "expire", "subnet_id",
	"fqdn_fwd", "fqdn_rev", "hostname", "state", "user_context"}

// Kea's lease states (lease.h).
const (
	stateDefault   = 0
	stateDeclined  = 1
	stateReclaimed = 2
	stateReleased  = 3
)

// Infinite is Kea's infinite valid lifetime.
const Infinite = 1<<32 - 1

type row struct {
	line     int
	ip       netip.Addr
	hw       net.HardwareAddr
	cid      []byte
	valid    uint64
	expire   uint64
	hostname string
	fqdn     bool // fqdn_fwd or fqdn_rev: the hostname is in DNS
	state    uint64
	relay    []byte // from user_context ISC.relay-agent-info
	context  bool   // a user context with more than the relay information
}

// ImportLeases reads a memfile CSV into r.Leases with Kea's own load
// rules: rows are appended as leases change, the last row of an address
// wins, a row with valid_lifetime 0 deletes the lease. A row Kea would
// reject (bad address, no hardware address and no client id outside the
// declined state) is listed with its line.
func ImportLeases(file string, src []byte, now time.Time, r *migrate.Result) error {
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var cols map[string]int
	last := map[netip.Addr]*row{}
	var order []netip.Addr
	contexts, line := 0, 0
	pos := func(l int) migrate.Pos { return migrate.Pos{File: file, Line: l} }
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		fields := strings.Split(text, ",")
		if cols == nil {
			var err error
			if cols, err = header(fields); err != nil {
				return fmt.Errorf("%v: %w", pos(line), err)
			}
			continue
		}
		rw, err := parseRow(fields, cols)
		if err != nil {
			r.Skip(pos(line), text, "%v", err)
			continue
		}
		rw.line = line
		if rw.context {
			contexts++
		}
		if _, ok := last[rw.ip]; !ok {
			order = append(order, rw.ip)
		}
		last[rw.ip] = rw
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", file, line+1, err)
	}
	if cols == nil {
		return fmt.Errorf("%s:1: no header line (want %s)", file, strings.Join(Columns, ","))
	}
	for _, ip := range order {
		rw := last[ip]
		if rw.valid == 0 {
			r.Read["deleted"]++
			continue
		}
		r.Read[stateName(rw.state)]++
		if l, ok := toLease(rw, now, r, pos(rw.line)); ok {
			r.Leases = append(r.Leases, l)
		}
	}
	if contexts > 0 {
		r.Skip(pos(1), "user_context", "user context stored with leases (other than the relay agent information) is not carried over (%d rows)", contexts)
	}
	r.Kept = len(r.Leases)
	r.SortSkipped()
	return nil
}

func stateName(s uint64) string {
	switch s {
	case stateDefault:
		return "assigned"
	case stateDeclined:
		return "declined"
	case stateReclaimed:
		return "expired-reclaimed"
	case stateReleased:
		return "released"
	}
	return "state " + strconv.FormatUint(s, 10)
}

func header(fields []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, f := range fields {
		cols[strings.TrimSpace(f)] = i
	}
	for _, c := range Columns[:9] { // Kea needs at least address..hostname
		if _, ok := cols[c]; !ok {
			return nil, fmt.Errorf("header without column %q: not a Kea DHCPv4 lease file (want %s)", c, strings.Join(Columns, ","))
		}
	}
	return cols, nil
}

func parseRow(f []string, cols map[string]int) (*row, error) {
	if len(f) != len(cols) {
		return nil, fmt.Errorf("%d columns, the header has %d", len(f), len(cols))
	}
	get := func(c string) string {
		if i, ok := cols[c]; ok {
			return strings.TrimSpace(f[i])
		}
		return ""
	}
	num := func(c string, bits int) (uint64, error) {
		s := get(c)
		if s == "" {
			return 0, nil
		}
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return 0, fmt.Errorf("%s %q is not a number", c, s)
		}
		return v, nil
	}
	rw := &row{}
	var err error
	if rw.ip, err = netip.ParseAddr(get("address")); err != nil || !rw.ip.Is4() {
		return nil, fmt.Errorf("address %q is not IPv4", get("address"))
	}
	if s := get("hwaddr"); s != "" {
		if rw.hw, err = macOf(s); err != nil {
			return nil, err
		}
	}
	if s := get("client_id"); s != "" {
		if rw.cid, err = migrate.ParseHex(s); err != nil {
			return nil, fmt.Errorf("client_id: %v", err)
		}
	}
	if rw.valid, err = num("valid_lifetime", 32); err != nil {
		return nil, err
	}
	if rw.expire, err = num("expire", 64); err != nil {
		return nil, err
	}
	if rw.state, err = num("state", 32); err != nil {
		return nil, err
	}
	if rw.expire < rw.valid {
		return nil, fmt.Errorf("expire %d is before valid_lifetime %d seconds after the epoch", rw.expire, rw.valid)
	}
	if len(rw.hw) == 0 && len(rw.cid) == 0 && rw.state != stateDeclined && rw.valid != 0 {
		return nil, fmt.Errorf("neither hwaddr nor client_id (Kea rejects this row too)")
	}
	rw.hostname = unescape(get("hostname"))
	rw.fqdn = get("fqdn_fwd") == "1" || get("fqdn_fwd") == "true" || get("fqdn_rev") == "1" || get("fqdn_rev") == "true"
	rw.relay, rw.context = userContext(unescape(get("user_context")))
	return rw, nil
}

func toLease(rw *row, now time.Time, r *migrate.Result, pos migrate.Pos) (lease.Lease, bool) {
	skip := func(why string, a ...any) (lease.Lease, bool) {
		r.Skip(pos, "lease "+rw.ip.String(), why, a...)
		return lease.Lease{}, false
	}
	if why := r.Unservable(rw.ip); why != "" {
		if rw.state != stateDefault {
			return lease.Lease{}, false // a free address there is one xdhcp never hands out anyway
		}
		return skip("assigned lease %s", why)
	}
	// The CSV keeps no hardware type: Ethernet.
	l := migrate.NewLease(rw.ip, rw.cid, 1, rw.hw, rw.hostname)
	l.RelayInfo = rw.relay
	if rw.fqdn {
		l.DNSName = rw.hostname
	}
	cltt := time.Unix(int64(rw.expire-rw.valid), 0).UTC()
	end := time.Unix(int64(rw.expire), 0).UTC()
	if rw.valid == Infinite {
		end = migrate.Never
	}
	switch rw.state {
	case stateDefault:
		l.State, l.Start, l.Expiry = lease.Bound, cltt, end
	case stateDeclined:
		l.Client, l.HWAddr, l.Hostname = nil, "", ""
		l.State, l.Start, l.Expiry = lease.Declined, cltt, end
	case stateReclaimed, stateReleased:
		if len(l.Client) == 0 {
			return lease.Lease{}, false
		}
		at := end
		if at.After(now) {
			at = now
		}
		l.State, l.Start, l.Expiry = lease.Released, at, at
	default:
		return skip("unknown lease state %d", rw.state)
	}
	return l, true
}

// userContext reads the relay agent information Kea keeps in a lease's
// user context ({"ISC": {"relay-agent-info": "0x..."}} in Kea 2.2, an
// object with "sub-options" later); other says it holds more than that.
func userContext(s string) (relay []byte, other bool) {
	if s == "" {
		return nil, false
	}
	var ctx map[string]any
	if err := json.Unmarshal([]byte(s), &ctx); err != nil {
		return nil, true
	}
	isc, _ := ctx["ISC"].(map[string]any)
	hexText, _ := isc["relay-agent-info"].(string)
	if m, ok := isc["relay-agent-info"].(map[string]any); ok {
		hexText, _ = m["sub-options"].(string)
	}
	if h, ok := strings.CutPrefix(strings.ToLower(hexText), "0x"); ok {
		if b, err := migrate.ParseHex(h); err == nil && len(b) <= 255 {
			relay = b
		}
	}
	return relay, relay == nil || len(ctx) > 1 || len(isc) > 1
}

// unescape resolves the memfile's &#xHH escapes (CSVRow::unescapeCharacters).
func unescape(s string) string {
	if !strings.Contains(s, "&#x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "&#x") && i+5 <= len(s) {
			if v, err := strconv.ParseUint(s[i+3:i+5], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 4
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// escape writes a text column the way Kea does: control bytes, bytes
// above 0x7e, the separator and '&' as &#xHH.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == ',' || c == '&' {
			fmt.Fprintf(&b, "&#x%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// WriteCSV writes leases as a Kea 2.x memfile (the Columns). subnetID
// names the Kea subnet of an address (0 when unknown). A bound lease's
// valid_lifetime is its expiry minus its start; a released one is written
// expired-reclaimed with a lifetime of 1 s ending at its release (0 would
// tell Kea to delete it); a declined one keeps no client, as Kea's.
// It returns how many leases it wrote: a lease with neither hardware
// address nor client id (Kea refuses such a row) is left out.
func WriteCSV(w io.Writer, ls []lease.Lease, subnetID func(netip.Addr) uint32) (int, error) {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, strings.Join(Columns, ","))
	n := 0
	for _, l := range ls {
		valid := int64(l.Expiry.Sub(l.Start) / time.Second)
		expire := l.Expiry.Unix()
		state := stateDefault
		hw, cid, host, fqdn, ctx := l.HWAddr, colonHex(l.Client), l.Hostname, 0, ""
		if l.DNSName != "" {
			host, fqdn = l.DNSName, 1 // Kea keeps the name it put in DNS in the hostname column
		}
		if len(l.RelayInfo) > 0 {
			ctx = fmt.Sprintf(`{ "ISC": { "relay-agent-info": "0x%X" } }`, l.RelayInfo)
		}
		switch l.State {
		case lease.Released:
			state, valid = stateReclaimed, 1
		case lease.Declined:
			state, hw, cid, host, fqdn, ctx = stateDeclined, "", "", "", 0, ""
		}
		if !l.Expiry.Before(migrate.Never) {
			valid, expire = Infinite, l.Start.Unix()+Infinite
		}
		valid = max(valid, 1)
		if hw == "" && cid == "" && state != stateDeclined {
			continue // Kea would refuse the row: a lease of nobody
		}
		fmt.Fprintf(bw, "%s,%s,%s,%d,%d,%d,%d,%d,%s,%d,%s\n", l.IP, hw, cid, valid, expire, subnetID(l.IP), fqdn, fqdn, escape(host), state, escape(ctx))
		n++
	}
	return n, bw.Flush()
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}
