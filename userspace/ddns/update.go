package ddns

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// DHCID computes the DHCID RDATA of RFC 4701 for a DHCPv4 client and a
// name: identifier type (0: htype + chaddr, 1: client identifier option),
// digest type 1 (SHA-256), SHA-256(identifier || name in wire form).
// A client id that is htype followed by the client's MAC is type 0 (xdhcp
// names clients without option 61 that way).
func DHCID(client lease.ClientID, hwaddr, name string) string {
	typ := uint16(1)
	if mac, err := net.ParseMAC(hwaddr); err == nil && len(client) == len(mac)+1 && bytes.Equal(client[1:], mac) {
		typ = 0
	}
	wire := make([]byte, 256)
	n, err := dns.PackDomainName(dns.CanonicalName(name), wire, 0, nil, false)
	if err != nil {
		n = 0
	}
	h := sha256.New()
	h.Write(client)
	h.Write(wire[:n])
	rdata := binary.BigEndian.AppendUint16(nil, typ)
	rdata = append(rdata, 1)
	rdata = h.Sum(rdata)
	return base64.StdEncoding.EncodeToString(rdata)
}

// ReverseName is ip's in-addr.arpa name.
func ReverseName(ip netip.Addr) string {
	b := ip.As4()
	return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", b[3], b[2], b[1], b[0])
}

func hdr(name string, typ uint16, ttl time.Duration) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET, Ttl: uint32(ttl / time.Second)}
}

// add registers l's name (RFC 4703 section 5.3): add A and DHCID if the
// name is unused; else replace the A records if the DHCID is this client's;
// else leave the name to its owner. Then the PTR record. It reports
// whether the forward name is registered.
func (u *Updater) add(ctx context.Context, cfg *config.DDNS, l lease.Lease) bool {
	name := dns.CanonicalName(l.DNSName)
	a := &dns.A{Hdr: hdr(name, dns.TypeA, cfg.TTL), A: l.IP.AsSlice()}
	id := &dns.DHCID{Hdr: hdr(name, dns.TypeDHCID, cfg.TTL), Digest: DHCID(l.Client, l.HWAddr, name)}

	m := new(dns.Msg)
	m.SetUpdate(cfg.Zone)
	m.NameNotUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name}}})
	m.Insert([]dns.RR{a, id})
	rcode, err := u.send(ctx, cfg, m)
	if err == nil && rcode == dns.RcodeYXDomain {
		m = new(dns.Msg)
		m.SetUpdate(cfg.Zone)
		// Prerequisites carry TTL 0 (RFC 2136 section 2.4).
		m.Used([]dns.RR{&dns.DHCID{Hdr: hdr(name, dns.TypeDHCID, 0), Digest: id.Digest}})
		m.RemoveRRset([]dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA}}})
		m.Insert([]dns.RR{a})
		rcode, err = u.send(ctx, cfg, m)
	}
	switch {
	case err != nil || (rcode != dns.RcodeSuccess && rcode != dns.RcodeNXRrset):
		u.fail("add", name, l.IP, rcode, err)
		return false
	case rcode == dns.RcodeNXRrset:
		u.stats.conflicts.Add(1)
		u.o.Logger.Warn("DDNS: name belongs to another client, not updated", "name", name, "ip", l.IP)
		return false
	}
	if cfg.ReverseZone != "" && dns.IsSubDomain(cfg.ReverseZone, ReverseName(l.IP)) {
		ptr := ReverseName(l.IP)
		m = new(dns.Msg)
		m.SetUpdate(cfg.ReverseZone)
		m.RemoveRRset([]dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: ptr, Rrtype: dns.TypePTR}}})
		m.Insert([]dns.RR{&dns.PTR{Hdr: hdr(ptr, dns.TypePTR, cfg.TTL), Ptr: name}})
		if rcode, err := u.send(ctx, cfg, m); err != nil || rcode != dns.RcodeSuccess {
			u.fail("add PTR", ptr, l.IP, rcode, err)
		}
	}
	u.stats.added.Add(1)
	u.o.Logger.Debug("DDNS: registered", "name", name, "ip", l.IP)
	return true
}

// removeRecords deletes a registration (RFC 4703 section 5.5): the A and
// DHCID records only while the DHCID is this client's, and the PTR record
// pointing at the name.
func (u *Updater) removeRecords(ctx context.Context, cfg *config.DDNS, ip netip.Addr, r record) {
	name := dns.CanonicalName(r.name)
	id := &dns.DHCID{Hdr: hdr(name, dns.TypeDHCID, 0), Digest: DHCID(r.client, r.hwaddr, name)}
	m := new(dns.Msg)
	m.SetUpdate(cfg.Zone)
	m.Used([]dns.RR{id})
	m.Remove([]dns.RR{&dns.A{Hdr: hdr(name, dns.TypeA, 0), A: ip.AsSlice()}})
	m.RemoveRRset([]dns.RR{&dns.DHCID{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeDHCID}}})
	rcode, err := u.send(ctx, cfg, m)
	switch {
	case err != nil || (rcode != dns.RcodeSuccess && rcode != dns.RcodeNXRrset):
		u.fail("remove", name, ip, rcode, err)
		return
	case rcode == dns.RcodeSuccess:
		u.stats.removed.Add(1)
	}
	if cfg.ReverseZone != "" && dns.IsSubDomain(cfg.ReverseZone, ReverseName(ip)) {
		ptr := ReverseName(ip)
		m = new(dns.Msg)
		m.SetUpdate(cfg.ReverseZone)
		m.Remove([]dns.RR{&dns.PTR{Hdr: hdr(ptr, dns.TypePTR, 0), Ptr: name}})
		if rcode, err := u.send(ctx, cfg, m); err != nil || rcode != dns.RcodeSuccess {
			u.fail("remove PTR", ptr, ip, rcode, err)
		}
	}
	u.o.Logger.Debug("DDNS: removed", "name", name, "ip", ip)
}

func (u *Updater) fail(what, name string, ip netip.Addr, rcode int, err error) {
	u.stats.failed.Add(1)
	if err == nil {
		err = fmt.Errorf("server answered %s", dns.RcodeToString[rcode])
	}
	u.o.Logger.Warn("DDNS update failed", "op", what, "name", name, "ip", ip, "err", err)
}

// send signs m (TSIG, when configured) and sends it over UDP, falling
// back to TCP when the answer is truncated.
func (u *Updater) send(ctx context.Context, cfg *config.DDNS, m *dns.Msg) (int, error) {
	c := &dns.Client{Net: "udp", Timeout: cfg.Timeout}
	if cfg.TSIGName != "" {
		c.TsigSecret = map[string]string{cfg.TSIGName: cfg.TSIGSecret}
		m.SetTsig(cfg.TSIGName, cfg.TSIGAlgorithmName(), 300, u.o.Now().Unix())
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r, _, err := c.ExchangeContext(ctx, m, cfg.Server.String())
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, cfg.Server.String())
	}
	if err != nil {
		return 0, fmt.Errorf("update %s via %v: %w", strings.TrimSuffix(m.Question[0].Name, "."), cfg.Server, err)
	}
	return r.Rcode, nil
}
